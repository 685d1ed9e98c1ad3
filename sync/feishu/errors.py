"""Typed errors for everything that crosses the Feishu boundary.

One place (`gtm.sync.feishu.gateway`) turns an SDK response into one of these, carrying the Feishu code,
message and log id, so callers branch on types instead of magic numbers.
"""
from __future__ import annotations

# Codes Feishu documents as transient (docs/feishu-api.md §5): worth a retry when the call is safe.
RATE_LIMIT_CODES = {99991400, 1254290, 230020}
TRANSIENT_CODES = {1254291, 1254607, 1255040, 1255001, 1255002, 1255003, 1255004, 1255005,
                   1254002, 1254036}
AUTH_CODES = {99991661, 99991663, 99991664, 99991665, 99991671, 99991543}
SCOPE_CODES = {99991672, 99991679}
PERMISSION_CODES = {1254302, 1254304, 1254306, 1254301, 91403, 1063001, 1063002}
NOT_FOUND_CODES = {1254040, 1254041, 1254042, 1254043, 1254044, 1254045, 1254003, 1254004,
                   1254006, 1063003, 131005, 1061003}  # 1061003: drive file not found (subscribe)
# A send that can never succeed: the person left, the bot is not in the chat, …
PERMANENT_SEND_CODES = {230002, 230013, 230029, 230053, 232009, 230034, 230006, 230035}


class FeishuError(Exception):
    """A Feishu API call that did not succeed."""

    def __init__(self, code: int, msg: str, *, api: str = "", log_id: str = "",
                 http_status: int | None = None, context: str = "") -> None:
        self.code = code
        self.msg = msg
        self.api = api
        self.log_id = log_id
        self.http_status = http_status
        self.context = context
        super().__init__(self.__str__())

    def __str__(self) -> str:
        where = f" [{self.context}]" if self.context else ""
        log = f" log_id={self.log_id}" if self.log_id else ""
        return f"{self.api or 'feishu'}{where}: code {self.code}: {self.msg}{log}"


class RateLimited(FeishuError):
    """429 / 99991400 / 1254290: wait `reset_after` seconds (from x-ogw-ratelimit-reset)."""

    def __init__(self, *args, reset_after: float | None = None, **kwargs) -> None:
        self.reset_after = reset_after
        super().__init__(*args, **kwargs)


class TransientError(FeishuError):
    """A server error, timeout, write conflict or 'data not ready': retry if the call is safe."""


class AuthError(FeishuError):
    """Bad app id/secret or token: retrying does not help; check GTM_FEISHU_APP_ID/SECRET."""


class ScopeError(FeishuError):
    """The app lacks an API scope; the message says which permission to grant."""


class PermissionDenied(FeishuError):
    """The app (or the acting user) may not do this on this Base/table."""


class NotFound(FeishuError):
    """A Base, table, field, view or record that does not exist (any more)."""


class SendRejected(FeishuError):
    """A message Feishu will never deliver (user left, bot not in chat): record it, do not retry."""


class ConnectionFailed(TransientError):
    """No answer from Feishu at all (refused, DNS, timeout)."""

    def __init__(self, msg: str, *, api: str = "") -> None:
        super().__init__(-1, msg, api=api)


def classify(code: int, msg: str, *, api: str, log_id: str = "", http_status: int | None = None,
             reset_after: float | None = None, context: str = "") -> FeishuError:
    """The typed error for a Feishu code."""
    kw = dict(api=api, log_id=log_id, http_status=http_status, context=context)
    if code in RATE_LIMIT_CODES or http_status == 429:
        return RateLimited(code, msg, reset_after=reset_after, **kw)
    if code in AUTH_CODES:
        return AuthError(code, msg, **kw)
    if code in SCOPE_CODES:
        return ScopeError(code, msg, **kw)
    if code in PERMISSION_CODES:
        return PermissionDenied(code, msg, **kw)
    if code in NOT_FOUND_CODES:
        return NotFound(code, msg, **kw)
    if code in PERMANENT_SEND_CODES:
        return SendRejected(code, msg, **kw)
    if code in TRANSIENT_CODES or (http_status is not None and http_status >= 500):
        return TransientError(code, msg, **kw)
    return FeishuError(code, msg, **kw)

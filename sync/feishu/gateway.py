"""The one door to Feishu: a lark-oapi client plus error mapping, retries and rate limiting.

Callers use the typed wrappers on a gateway (`gw.bitable`, `gw.im`, `gw.drive`, `gw.contact`,
`gw.application`: modules of this package), which build the SDK's requests and return plain data;
each wrapper method is one `Gateway.call`.

Every Feishu call in the product goes through `Gateway.call`, which
- limits the request rate per API family to Feishu's documented limits (so we do not live on 429s),
- turns the SDK response into data or a typed `FeishuError` (code, msg, log id),
- retries with tenacity only what is safe to repeat (reads; writes carrying client_token/uuid),
  only on rate limits (honouring `x-ogw-ratelimit-reset`), transient codes, 5xx and timeouts,
- serialises writes per table (Feishu refuses concurrent writes to one table: 1254291),
- counts calls per API family so `gtm sync`, metrics and benchmarks can report them.
"""
from __future__ import annotations

import gc
import json
import logging
import threading
import time
from collections import Counter, defaultdict
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator, TypeVar

import lark_oapi as lark
import requests
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    stop_after_delay,
)

from lark_oapi.core.cache import LocalCache
from lark_oapi.core.const import APPLICATION_JSON, CONTENT_TYPE, X_TT_LOGID
from lark_oapi.core.http import Transport
from lark_oapi.core.token import verify
from lark_oapi.core.exception import ObtainAccessTokenException
from lark_oapi.core.token.manager import TokenManager

from gtm.sync.feishu.errors import AuthError, ConnectionFailed, FeishuError, RateLimited, TransientError, classify
from gtm.sync.feishu.ratelimit import Limiter, RateLimiter

from gtm.sync.feishu.application import Application
from gtm.sync.feishu.bitable import Bitable
from gtm.sync.feishu.contact import Contact
from gtm.sync.feishu.drive import Drive
from gtm.sync.feishu.im import Im

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass
class CallStats:
    """What the gateway did, for `gtm sync`, /metrics and the benchmarks."""

    calls: Counter = field(default_factory=Counter)  # by API name
    families: Counter = field(default_factory=Counter)
    rate_limited: Counter = field(default_factory=Counter)
    retries: Counter = field(default_factory=Counter)
    failures: Counter = field(default_factory=Counter)

    def total(self, prefix: str = "") -> int:
        return sum(n for k, n in self.calls.items() if k.startswith(prefix))

    def snapshot(self) -> dict[str, int]:
        return dict(self.calls)


def _is_retryable(exc: BaseException) -> bool:
    return isinstance(exc, (RateLimited, TransientError))


class Gateway:
    """A lark-oapi client for one app, with the safety rails above. Thread-safe."""

    def __init__(self, app_id: str, app_secret: str, domain: str = lark.FEISHU_DOMAIN, *,
                 timeout: float = 10.0, rates: dict[str, float] | None = None,
                 per_minute: dict[str, int] | None = None, max_attempts: int = 6, max_retry_seconds: float = 120.0,
                 sleep: Callable[[float], None] = time.sleep, log_level: lark.LogLevel = lark.LogLevel.ERROR) -> None:
        self.app_id = app_id
        self.domain = domain.rstrip("/")
        # A token cache of our own: the SDK's default is process-global and never invalidated, so
        # a rotated secret or a restarted Feishu-compatible server would keep failing with 99991663.
        self.token_cache = LocalCache()
        self.client = (lark.Client.builder().app_id(app_id).app_secret(app_secret)
                       .domain(self.domain).timeout(timeout).log_level(log_level)
                       .cache(self.token_cache).build())
        # every limit (API families, per-chat paces); replicas on PostgreSQL swap in the shared one
        self.limiter: Limiter = RateLimiter(rates, sleep=sleep, per_minute=per_minute)
        self.stats = CallStats()
        self.max_attempts = max_attempts
        self.max_retry_seconds = max_retry_seconds
        self._sleep = sleep
        self._table_locks: dict[str, threading.Lock] = defaultdict(threading.Lock)
        self._locks_guard = threading.Lock()
        self._stats_lock = threading.Lock()
        # the typed wrappers (one per Feishu service; each method is one `call`)
        self.bitable = Bitable(self)
        self.im = Im(self)
        self.drive = Drive(self)
        self.contact = Contact(self)
        self.application = Application(self)


    # -- the core --------------------------------------------------------------------------
    def call(self, api: str, fn: Callable[[], Any], *, family: str = "other", retry_safe: bool = True,
             write_table: str | None = None, context: str = "", max_wait: float | None = None) -> Any:
        """Run `fn` (one SDK call returning a response) and return `resp.data`, or raise.

        `api` names the endpoint for stats and errors (e.g. "bitable.record.search");
        `write_table` (a table id) serialises writes to that table; `retry_safe=False` makes a
        non-idempotent write run once. Retries wait at most `max_retry_seconds` in all; `max_wait`
        caps that further (the chat path: a person is waiting): a rate limit whose reset is later
        than the cap is raised at once (`RateLimited.reset_after` says when to try again).
        """
        def attempt() -> Any:
            self.limiter.acquire(family)
            with self._stats_lock:
                self.stats.calls[api] += 1
                self.stats.families[family] += 1
            try:
                resp = fn()
                try:
                    return self.unwrap(resp, api=api, context=context)
                except AuthError as exc:
                    if exc.code != 99991663:
                        raise
                    # The cached tenant token was refused: drop it and try once with a fresh one.
                    # lark-oapi keeps ONE token cache per process (the last client built sets it),
                    # so clear this app's entry there as well as in our own cache.
                    self.token_cache.cache.clear()
                    shared = getattr(TokenManager.cache, "cache", None)
                    if isinstance(shared, dict):
                        shared.pop(f"self_tenant_token:{self.app_id}", None)
                    return self.unwrap(fn(), api=api, context=context)
            except (requests.Timeout, requests.ConnectionError) as exc:
                raise ConnectionFailed(f"no answer from {self.domain}: {exc.__class__.__name__}", api=api) from exc
            except ObtainAccessTokenException as exc:
                code = getattr(exc, "code", None) or 99991543
                raise AuthError(int(code), f"could not get a tenant token for app {self.app_id}: "
                                f"{getattr(exc, 'msg', exc)} (check GTM_FEISHU_APP_ID / GTM_FEISHU_APP_SECRET)",
                                api="auth.tenant_access_token") from exc

        def wait(state: RetryCallState) -> float:
            exc = state.outcome.exception() if state.outcome else None
            with self._stats_lock:
                self.stats.retries[api] += 1
            pause = min(8.0, 0.2 * (2 ** (state.attempt_number - 1)))
            if isinstance(exc, RateLimited):
                with self._stats_lock:
                    self.stats.rate_limited[api] += 1
                if exc.reset_after is not None:
                    pause = max(0.05, float(exc.reset_after))
            if max_wait is not None and exc is not None and state.idle_for + pause > max_wait:
                raise exc  # waiting longer than the caller allows: let it decide (queue, reply later)
            return pause

        lock = self._table_lock(write_table) if write_table else None
        try:
            if lock:
                lock.acquire()
            if not retry_safe:
                return attempt()
            retrying = Retrying(
                retry=retry_if_exception(_is_retryable),
                stop=stop_after_attempt(self.max_attempts) | stop_after_delay(self.max_retry_seconds),
                wait=wait, sleep=self._sleep, reraise=True,
            )
            return retrying(attempt)
        except FeishuError:
            with self._stats_lock:
                self.stats.failures[api] += 1
            raise
        finally:
            if lock:
                lock.release()

    def call_json(self, api: str, request: lark.BaseRequest, *, family: str = "other", retry_safe: bool = True,
                  write_table: str | None = None, context: str = "") -> dict[str, Any]:
        """`call` for a generic `lark.BaseRequest`: the response body's `data` as plain JSON (a dict),
        or the same typed errors.

        Why: a typed call turns every response into SDK objects (lark_oapi.core.construct), which
        for a 500-record search page costs more CPU than the HTTP round trip, and even the generic
        `client.request` parses the body into a dict only to keep code/msg and drop `data`. So
        this does what `client.request` does — the SDK's `verify` (tenant token from the SDK's
        token manager) and `Transport.execute` (domain, headers, timeout) — and parses the body
        once. Limits, retries and stats are `call`'s. Build `request` with the typed builder and
        pass it through `generic_request`, so uri, query and body are what the typed call sends.
        """
        def fn() -> Any:
            option = lark.RequestOption()
            if request.body is not None:  # what the typed calls add for a JSON body
                option.headers[CONTENT_TYPE] = f"{APPLICATION_JSON}; charset=utf-8"
            config = self.client.config
            verify(config, request, option)
            return JsonResponse(Transport.execute(config, request, option))

        return self.call(api, fn, family=family, retry_safe=retry_safe, write_table=write_table,
                         context=context)

    @staticmethod
    def unwrap(resp: Any, *, api: str, context: str = "") -> Any:
        """`resp.data` for a success; otherwise the typed error with code, msg, log id.

        A generic `client.request` response (a bare `BaseResponse`) has code/msg but no `data`
        (None is returned); `call_json` answers with a `JsonResponse`, whose `data` is the parsed
        body's `data` dict."""
        if resp.success():
            # some SDK responses (e.g. DeleteAppTableResponse) have no `data` attribute at all
            return getattr(resp, "data", None)
        raw = getattr(resp, "raw", None)
        headers = {k.lower(): v for k, v in (getattr(raw, "headers", None) or {}).items()}
        status = getattr(raw, "status_code", None)
        reset = headers.get("x-ogw-ratelimit-reset")
        try:
            reset_after = float(reset) if reset is not None else None
        except ValueError:
            reset_after = None
        code = resp.code if resp.code is not None else -1
        msg = resp.msg or (raw.content[:200].decode("utf-8", "replace") if raw is not None and raw.content else "")
        raise classify(code, msg, api=api, log_id=resp.get_log_id() or "", http_status=status,
                       reset_after=reset_after, context=context)

    def _table_lock(self, table_id: str) -> threading.Lock:
        with self._locks_guard:
            return self._table_locks[table_id]


_gc_guard = threading.Lock()
_gc_holders = 0
_gc_restore = False


@contextmanager
def paused_gc() -> Iterator[None]:
    """Hold off the cyclic garbage collector while building many short-lived containers (a parsed
    500-record page, its comparison with the store, a decoded table).

    Why: those allocations trigger collections that promote the page's objects and then rescan
    the whole long-lived heap (imports, decoded snapshots) — measured at a third to a half of a
    full read's CPU. JSON and the mirror's rows make no reference cycles, so nothing is missed;
    the collector runs again as soon as no thread holds a pause. Re-entrant and thread-safe.
    """
    global _gc_holders, _gc_restore
    with _gc_guard:
        if _gc_holders == 0:
            _gc_restore = gc.isenabled()
            gc.disable()
        _gc_holders += 1
    try:
        yield
    finally:
        with _gc_guard:
            _gc_holders -= 1
            if _gc_holders == 0 and _gc_restore:
                gc.enable()


class JsonResponse:
    """A raw SDK response read the way `client.request` reads it (code/msg from a JSON body; a
    2xx without JSON counts as success), with the body parsed once and its `data` kept."""

    __slots__ = ("raw", "code", "msg", "data")

    def __init__(self, raw: Any) -> None:
        self.raw = raw
        self.code: int | None = None
        self.msg: str | None = None
        self.data: dict[str, Any] = {}
        content_type = (raw.headers or {}).get(CONTENT_TYPE) or ""
        status = raw.status_code or 0
        if content_type.startswith(APPLICATION_JSON):
            try:
                with paused_gc():
                    body = json.loads(raw.content or b"")
            except ValueError:
                body = None
            if isinstance(body, dict):
                self.code, self.msg = body.get("code"), body.get("msg")
                data = body.get("data")
                self.data = data if isinstance(data, dict) else {}
            elif 200 <= status < 300:
                self.code, self.msg = -1, "response body is not a JSON object"
        elif 200 <= status < 300:
            self.code = 0

    def success(self) -> bool:
        return self.code is not None and self.code == 0

    def get_log_id(self) -> str | None:
        headers = getattr(self.raw, "headers", None)
        return headers.get(X_TT_LOGID) if headers else None


def gateway_from_settings(settings, **kw) -> Gateway:
    """A gateway for the configured app (`GTM_FEISHU_*`)."""
    return Gateway(settings.feishu_app_id, settings.feishu_app_secret.get_secret_value(),
                   settings.feishu_domain, timeout=settings.request_timeout_seconds, **kw)


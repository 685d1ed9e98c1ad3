"""Webhook transport: an aiohttp sub-app with `/webhook/event` and `/webhook/card`.

Decryption, url_verification, the verification-token check and the signature check are lark-oapi's
`EventDispatcherHandler` (the same handler the long connection uses, built by
`build_event_handler`). The SDK answers every failure with HTTP 500, which Feishu *retries*, and it
has no replay protection. So before the SDK we refuse, with no reply and no retry-inviting 500:
- 401: a request that is not encrypted although an Encrypt Key is configured, lacks the
  `X-Lark-Request-*` headers, carries a wrong signature, a timestamp more than `max_skew` (5 min)
  away from now, or a nonce already seen within that window (a replay);
- 401: an event or callback whose envelope `create_time` is more than `max_skew` old or in the
  future (a forged `create_time="1"`); a card callback whose event id was already seen, or whose
  content (each click carries its own callback token) came before under another id;
- 403: a wrong verification token (mapped from the SDK's AccessDenied).

Safe by default: without an Encrypt Key the guard refuses to start (`WebhookConfigError`) — with
only the verification token anyone who learns it could post a card callback as any operator.
Token-only mode exists for trials behind `GTM_WEBHOOK_INSECURE=1`, and `gtm serve` then prints a
loud warning at start-up.
The SDK's handler is synchronous and a card callback may take up to the dispatcher's 2.5 s budget,
so it runs in the default executor, never on the event loop.
"""
from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import threading
import time
from collections import OrderedDict
from typing import Any, Callable

from aiohttp import web
from lark_oapi.core.const import LARK_REQUEST_NONCE, LARK_REQUEST_SIGNATURE, LARK_REQUEST_TIMESTAMP
from lark_oapi.core.model import RawRequest
from lark_oapi.core.utils import AESCipher

from gtm.bot.chat.transports import Dispatch, build_event_handler

log = logging.getLogger(__name__)

_HEADERS = (LARK_REQUEST_TIMESTAMP, LARK_REQUEST_NONCE, LARK_REQUEST_SIGNATURE)


class NonceCache:
    """Nonces seen within the freshness window (bounded, thread-safe)."""

    def __init__(self, ttl: float, max_entries: int = 100_000) -> None:
        self.ttl, self.max = ttl, max_entries
        self._seen: OrderedDict[str, float] = OrderedDict()
        self._lock = threading.Lock()

    def add_if_new(self, nonce: str, now: float) -> bool:
        with self._lock:
            while self._seen and next(iter(self._seen.values())) < now:
                self._seen.popitem(last=False)
            if nonce in self._seen:
                return False
            while len(self._seen) >= self.max:  # full: forget the oldest to make room
                self._seen.popitem(last=False)
            self._seen[nonce] = now + self.ttl
            return True


class WebhookConfigError(ValueError):
    """The webhook transport cannot run safely with these settings (the message names them)."""


INSECURE_WARNING = (
    "GTM_WEBHOOK_INSECURE=1：webhook 仅校验 Verification Token，未加密、未签名——任何拿到该 Token 的人"
    "都能伪造卡片回调、以任何人的身份操作计划。仅限试用；生产环境请配置 GTM_FEISHU_ENCRYPT_KEY。\n"
    "GTM_WEBHOOK_INSECURE=1: webhooks are checked by the verification token only (no encryption, no "
    "signature) — anyone who learns the token can forge card callbacks and act as anybody. Trials only; "
    "set GTM_FEISHU_ENCRYPT_KEY for production.")


def check_webhook_settings(encrypt_key: str, verification_token: str, insecure: bool) -> None:
    """Refuse unsafe webhook settings with one message naming the setting to add."""
    if encrypt_key:
        return
    if not insecure:
        raise WebhookConfigError(
            "GTM_TRANSPORT=webhook needs GTM_FEISHU_ENCRYPT_KEY (the Encrypt Key from the app's "
            "事件与回调 › 加密策略 page, e.g. GTM_FEISHU_ENCRYPT_KEY=Wq3…): without it card callbacks are "
            "neither encrypted nor signed. For a trial only, GTM_WEBHOOK_INSECURE=1 accepts "
            "token-only requests.")
    if not verification_token:
        raise WebhookConfigError(
            "GTM_WEBHOOK_INSECURE=1 still needs GTM_FEISHU_VERIFICATION_TOKEN (e.g. "
            "GTM_FEISHU_VERIFICATION_TOKEN=vt-…): without it anyone could post events")


def _epoch_seconds(raw: Any) -> float | None:
    """An envelope `create_time` (seconds, milliseconds or microseconds as text) in seconds."""
    try:
        value = float(str(raw).strip())
    except (TypeError, ValueError):
        return None
    if value != value or value <= 0:  # NaN, zero, negative
        return None
    if value > 1e14:
        return value / 1e6
    if value > 1e11:
        return value / 1e3
    return value


class WebhookGuard:
    """The checks lark-oapi does not do (freshness, replay) plus signature, before the SDK."""

    def __init__(self, encrypt_key: str, verification_token: str, *, insecure: bool = False,
                 max_skew: float = 300.0, clock: Callable[[], float] = time.time) -> None:
        check_webhook_settings(encrypt_key, verification_token, insecure)
        self.encrypt_key, self.token = encrypt_key, verification_token
        self.max_skew, self._clock = max_skew, clock
        self.nonces = NonceCache(2 * max_skew)
        self.callback_ids = NonceCache(2 * max_skew)  # card callbacks are never redelivered
        self._content: OrderedDict[str, tuple[str, float]] = OrderedDict()  # digest → (event id, expiry)
        self._content_lock = threading.Lock()
        self.refused = 0  # requests turned away (for metrics)

    def _same_content_other_id(self, plain: dict[str, Any], event_id: str, now: float) -> bool:
        """True when this event body was already delivered under a different event id."""
        digest = hashlib.sha256(json.dumps(plain.get("event"), sort_keys=True,
                                           ensure_ascii=False).encode("utf-8")).hexdigest()
        with self._content_lock:
            while self._content and (next(iter(self._content.values()))[1] < now
                                     or len(self._content) > self.nonces.max):
                self._content.popitem(last=False)
            seen = self._content.get(digest)
            if seen is not None:
                return seen[0] != event_id
            self._content[digest] = (event_id, now + 2 * self.max_skew)
            return False

    def _fresh_and_new(self, plain: dict[str, Any]) -> tuple[int, str] | None:
        """Freshness of the envelope's own time and replay checks, for events and callbacks."""
        header = plain.get("header") if isinstance(plain.get("header"), dict) else None
        if header is None:
            return 401, "no v2.0 envelope header"
        now = self._clock()
        created = _epoch_seconds(header.get("create_time"))
        if created is None:
            return 401, "bad create_time"
        if created < now - self.max_skew:
            return 401, "stale create_time"
        if created > now + self.max_skew:
            return 401, "create_time in the future"
        event_id = str(header.get("event_id") or "")
        if not event_id:
            return 401, "no event id"
        if header.get("event_type") != "card.action.trigger":
            return None  # events: a redelivered id is the dispatcher's duplicate (store claim)
        if not self.callback_ids.add_if_new(event_id, now):
            return 401, "replayed callback"
        if self._same_content_other_id(plain, event_id, now):  # each click has its own c- token
            return 401, "replayed callback under a new event id"
        return None

    def refuse(self, headers: dict[str, str], body: bytes) -> tuple[int, str] | None:
        """(status, reason) when the request must be refused; None when it may go to the SDK."""
        try:
            doc = json.loads(body or b"{}")
        except ValueError:
            return 400, "body is not JSON"
        if not isinstance(doc, dict):
            return 400, "body is not a JSON object"
        ts, nonce, sig = (headers.get(h) for h in _HEADERS)
        if not self.encrypt_key:  # token-only (GTM_WEBHOOK_INSECURE=1): the SDK checks the token
            if doc.get("type") == "url_verification":
                return None
            if nonce and not self.nonces.add_if_new(nonce, self._clock()):
                return 401, "replayed nonce"
            return self._fresh_and_new(doc)
        if "encrypt" not in doc:
            return 401, "unencrypted request while an Encrypt Key is configured"
        try:
            plain = json.loads(AESCipher(self.encrypt_key).decrypt_str(doc["encrypt"]))
        except Exception:  # noqa: BLE001 - wrong key, garbage, bad padding
            return 401, "cannot decrypt"
        if plain.get("type") == "url_verification":
            return None  # the console's challenge: the SDK checks its token
        if not (ts and nonce and sig):
            return 401, "missing signature headers"
        expected = hashlib.sha256((ts + nonce + self.encrypt_key).encode("utf-8") + body).hexdigest()
        if not hmac.compare_digest(expected, sig):
            return 401, "bad signature"
        try:
            age = abs(self._clock() - float(ts))
        except ValueError:
            return 401, "bad timestamp"
        if age > self.max_skew:
            return 401, "stale timestamp"
        if not self.nonces.add_if_new(nonce, self._clock()):
            return 401, "replayed nonce"
        return self._fresh_and_new(plain if isinstance(plain, dict) else {})


GUARD = web.AppKey("gtm_webhook_guard", WebhookGuard)


def webhook_app(dispatch: Dispatch, *, encrypt_key: str = "", verification_token: str = "",
                bot_open_id: Callable[[], str | None] = lambda: None, max_skew: float = 300.0,
                clock: Callable[[], float] = time.time, insecure: bool = False) -> web.Application:
    """The sub-app; mount with `app.add_subapp("/webhook", webhook_app(...))` (see `mount`).

    Raises WebhookConfigError without an Encrypt Key unless `insecure` (GTM_WEBHOOK_INSECURE=1).
    """
    guard = WebhookGuard(encrypt_key, verification_token, insecure=insecure, max_skew=max_skew, clock=clock)
    if not encrypt_key:
        log.warning("%s", INSECURE_WARNING)
    handler = build_event_handler(dispatch, encrypt_key=encrypt_key, verification_token=verification_token,
                                  bot_open_id=bot_open_id)
    sub = web.Application()
    sub[GUARD] = guard

    async def receive(request: web.Request) -> web.Response:
        body = await request.read()
        headers = {h: request.headers[h] for h in _HEADERS if h in request.headers}
        refusal = guard.refuse(headers, body)
        if refusal:
            status, reason = refusal
            guard.refused += 1
            log.warning("webhook refused (%s): %s from %s", status, reason, request.remote)
            return web.json_response({"msg": reason}, status=status)
        raw = RawRequest()
        raw.uri = request.path
        raw.body = body
        raw.headers = {**{k: v for k, v in request.headers.items()}, **headers}
        resp = await asyncio.get_running_loop().run_in_executor(None, handler.do, raw)
        status = resp.status_code or 200
        content = resp.content or b""
        if status == 500 and (b"verification_token" in content or b"signature" in content
                              or b"encrypt_key" in content):
            status = 403  # an authentication failure, not a server error: Feishu must not retry
        return web.Response(status=status, body=content, content_type="application/json")

    sub.router.add_post("/event", receive)
    sub.router.add_post("/card", receive)
    return sub


def mount(app: web.Application, dispatch: Dispatch, **kw) -> web.Application:
    """Add `/webhook/event` and `/webhook/card` to an existing aiohttp app."""
    sub = webhook_app(dispatch, **kw)
    app.add_subapp("/webhook", sub)
    return sub

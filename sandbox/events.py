"""Event bus: build v2.0 envelopes and deliver them by webhook or long connection (docs/feishu-api.md §8, §9).

`sb.emit_event(app_id, event_type, event) -> event_id` is safe from any thread. Delivery follows
the app's `event_mode`: "webhook" POSTs to `app.webhook_url` (AES-256-CBC + signature headers when
`app.encrypt_key` is set), "ws" sends a DATA frame to one random connected SDK client
(`longconn.py`). A delivery succeeds on HTTP 200 / an ACK with code 200 within
`config.event_ack_deadline`; otherwise it is retried after each delay in
`config.event_retry_schedule` (real: 15 s, 5 min, 1 h, 6 h). After a success,
`config.duplicate_events` extra copies go out (at-least-once). Callbacks (`card.action.trigger`)
are not retried: `await bus.call(...)` returns the app's answer (toast/card) from the ACK `data` or
the HTTP body (to `app.card_webhook_url`, else `webhook_url`).

Every attempt is appended to `bus.deliveries` (dicts: event_id, event_type, app_id, mode, attempt,
ok, status/error, conn, answer, duplicate) so tests can assert on what happened.
"""
from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import os
import secrets
import threading
import time
import uuid as uuidlib
from typing import TYPE_CHECKING, Any, Callable

import aiohttp
from aiohttp import web
from Crypto.Cipher import AES

from gtm.sandbox.state import App, now_ms

if TYPE_CHECKING:
    from gtm.sandbox.server import Sandbox


def encrypt(encrypt_key: str, plaintext: bytes) -> str:
    """base64(iv || AES-256-CBC(sha256(key), iv, pkcs7(plaintext))) as lark-oapi's AESCipher expects."""
    key = hashlib.sha256(encrypt_key.encode("utf-8")).digest()
    iv = os.urandom(16)
    pad = 16 - len(plaintext) % 16
    data = plaintext + bytes([pad]) * pad
    return base64.b64encode(iv + AES.new(key, AES.MODE_CBC, iv).encrypt(data)).decode("ascii")


def signature(timestamp: str, nonce: str, encrypt_key: str, body: bytes) -> str:
    return hashlib.sha256((timestamp + nonce + encrypt_key).encode("utf-8") + body).hexdigest()


class DeliveryFailed(Exception):
    pass


class EventBus:
    """Envelopes, delivery, retries and the delivery record. Attached as `sb.events`."""

    def __init__(self, sb: "Sandbox") -> None:
        self.sb = sb
        self.deliveries: list[dict[str, Any]] = []
        self.envelopes: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()
        self._session: aiohttp.ClientSession | None = None

    # -- envelope -------------------------------------------------------------------------
    def envelope(self, app: App, event_type: str, event: dict[str, Any]) -> dict[str, Any]:
        env = {"schema": "2.0",
               "header": {"event_id": uuidlib.uuid4().hex, "event_type": event_type, "create_time": str(now_ms()),
                          "token": app.verification_token, "app_id": app.app_id, "tenant_key": app.tenant_key},
               "event": event}
        with self._lock:
            self.envelopes[env["header"]["event_id"]] = env
        return env

    def emit(self, app_id: str, event_type: str, event: dict[str, Any]) -> str:
        """Queue an event for the app; returns its event_id. Thread-safe, never blocks on delivery."""
        app = self.sb.world.apps[app_id]
        env = self.envelope(app, event_type, event)
        self._spawn(self._deliver(app, env, 0))
        return env["header"]["event_id"]

    def _spawn(self, coro) -> None:
        loop = self.sb.loop
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is not None and running is loop:
            loop.create_task(coro)
        elif loop is not None and loop.is_running():
            asyncio.run_coroutine_threadsafe(coro, loop)
        else:
            coro.close()
            raise RuntimeError("the sandbox is not running")

    def record(self, **kw: Any) -> dict[str, Any]:
        kw.setdefault("time", time.time())
        with self._lock:
            kw["seq"] = len(self.deliveries)
            self.deliveries.append(kw)
        return kw

    # -- delivery -------------------------------------------------------------------------
    async def _deliver(self, app: App, env: dict[str, Any], attempt: int, duplicate: bool = False) -> None:
        h = env["header"]
        try:
            info = await self._send(app, env, callback=False)
        except DeliveryFailed as exc:
            self.record(event_id=h["event_id"], event_type=h["event_type"], app_id=app.app_id, mode=app.event_mode,
                        attempt=attempt, ok=False, error=str(exc), duplicate=duplicate)
            schedule = self.sb.config.event_retry_schedule
            if not duplicate and attempt < len(schedule):
                loop = asyncio.get_running_loop()
                loop.call_later(schedule[attempt], lambda: self._spawn(self._deliver(app, env, attempt + 1)))
            return
        self.record(event_id=h["event_id"], event_type=h["event_type"], app_id=app.app_id, mode=app.event_mode,
                    attempt=attempt, ok=True, duplicate=duplicate, **info)
        if not duplicate:
            for _ in range(self.sb.config.duplicate_events):
                await self._deliver(app, env, attempt, duplicate=True)

    async def _send(self, app: App, env: dict[str, Any], callback: bool) -> dict[str, Any]:
        """One attempt; returns {status|conn, answer} or raises DeliveryFailed."""
        deadline = self.sb.config.event_ack_deadline
        if app.event_mode == "ws":
            hub = self.sb.ws  # type: ignore[attr-defined]
            try:
                ack = await hub.send(app.app_id, json.dumps(env, ensure_ascii=False).encode("utf-8"),
                                     env["header"]["event_id"], deadline)
            except LookupError as exc:
                raise DeliveryFailed(str(exc))
            except asyncio.TimeoutError:
                raise DeliveryFailed(f"no ACK within {deadline}s")
            if ack.get("code") != 200:
                raise DeliveryFailed(f"ACK code {ack.get('code')}")
            return {"conn": ack["conn"], "answer": ack.get("answer")}
        url = (app.card_webhook_url or app.webhook_url) if callback else app.webhook_url
        if not url:
            raise DeliveryFailed("no webhook_url configured")
        status, body = await self.post(app, url, env)
        if status != 200:
            raise DeliveryFailed(f"HTTP {status}: {body[:200]!r}")
        answer = None
        if callback:
            try:
                answer = json.loads(body) if body.strip() else {}
            except ValueError:
                raise DeliveryFailed("callback answer is not JSON")
        return {"status": status, "answer": answer}

    async def post(self, app: App, url: str, payload: dict[str, Any]) -> tuple[int, bytes]:
        """POST one (encrypted, signed) payload to a webhook; (status, body) or DeliveryFailed."""
        plain = json.dumps(payload, ensure_ascii=False).encode("utf-8")
        headers = {"Content-Type": "application/json; charset=utf-8", "User-Agent": "Feishu-Sandbox"}
        body = plain
        if app.encrypt_key:
            body = json.dumps({"encrypt": encrypt(app.encrypt_key, plain)}).encode("utf-8")
            ts, nonce = str(int(time.time())), secrets.token_hex(8)
            headers.update({"X-Lark-Request-Timestamp": ts, "X-Lark-Request-Nonce": nonce,
                            "X-Lark-Signature": signature(ts, nonce, app.encrypt_key, body)})
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession()
        timeout = aiohttp.ClientTimeout(total=self.sb.config.event_ack_deadline,
                                        sock_connect=self.sb.config.event_connect_timeout)
        try:
            async with self._session.post(url, data=body, headers=headers, timeout=timeout) as resp:
                return resp.status, await resp.read()
        except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as exc:
            raise DeliveryFailed(f"{exc.__class__.__name__}: {exc}")

    async def call(self, app_id: str, event_type: str, event: dict[str, Any]) -> dict[str, Any]:
        """Deliver a callback once and return the app's answer ({} if empty); raises DeliveryFailed."""
        app = self.sb.world.apps[app_id]
        env = self.envelope(app, event_type, event)
        h = env["header"]
        try:
            info = await self._send(app, env, callback=True)
        except DeliveryFailed as exc:
            self.record(event_id=h["event_id"], event_type=event_type, app_id=app_id, mode=app.event_mode,
                        attempt=0, ok=False, error=str(exc), duplicate=False)
            raise
        self.record(event_id=h["event_id"], event_type=event_type, app_id=app_id, mode=app.event_mode, attempt=0,
                    ok=True, duplicate=False, **info)
        answer = info.get("answer")
        return answer if isinstance(answer, dict) else {}

    async def verify_url(self, app_id: str, url: str | None = None) -> bool:
        """Send url_verification (encrypted when a key is set); True when the challenge comes back."""
        app = self.sb.world.apps[app_id]
        challenge = "ch-" + secrets.token_hex(8)
        status, body = await self.post(app, url or app.webhook_url,
                                       {"challenge": challenge, "token": app.verification_token,
                                        "type": "url_verification"})
        try:
            ok_ = status == 200 and json.loads(body).get("challenge") == challenge
        except ValueError:
            ok_ = False
        self.record(event_id="", event_type="url_verification", app_id=app_id, mode="webhook", attempt=0,
                    ok=ok_, status=status, duplicate=False)
        return ok_

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    # -- test helpers ---------------------------------------------------------------------
    def find(self, event_type: str | None = None, ok: bool | None = None, app_id: str | None = None) -> list[dict]:
        with self._lock:
            items = list(self.deliveries)
        return [d for d in items if (event_type is None or d["event_type"] == event_type)
                and (ok is None or d["ok"] == ok) and (app_id is None or d["app_id"] == app_id)]

    def wait_for(self, pred: Callable[[list[dict]], bool], timeout: float = 5.0) -> list[dict]:
        """Poll the delivery record until `pred(deliveries)` holds; TimeoutError after `timeout`."""
        end = time.monotonic() + timeout
        while True:
            with self._lock:
                items = list(self.deliveries)
            if pred(items):
                return items
            if time.monotonic() > end:
                raise TimeoutError(f"deliveries did not reach the expected state: {items[-5:]}")
            time.sleep(0.02)


def register(app: web.Application, sb: "Sandbox") -> None:
    bus = EventBus(sb)
    sb.events = bus  # type: ignore[attr-defined]
    sb.emit_event = bus.emit  # type: ignore[attr-defined]

    async def _close(_app: web.Application) -> None:
        await bus.close()

    app.on_cleanup.append(_close)

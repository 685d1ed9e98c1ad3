"""The sandbox HTTP server: one aiohttp application on a free port, run on a thread of its own
(`gtm.sandbox.http_thread.HttpThread`).

Feature modules (`auth`, `bitable`, `permissions`, `contact`, `im`, `events`, `control`,
`console`) each expose `register(app: web.Application, sb: Sandbox)` and add their routes.
Cross-cutting behaviour lives here: Feishu's error shape for every failure, the request journal,
and the realism switches (latency, injected faults, rate limits) that tests and benchmarks turn on.
"""
from __future__ import annotations

import asyncio
import importlib
import json
import logging
import random
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable

from aiohttp import web

from gtm.sandbox.errors import ApiError, error_response
from gtm.sandbox.http_thread import HttpThread
from gtm.sandbox.state import StateFileError, World, check_state_file, read_state_file

log = logging.getLogger("gtm.sandbox")

MODULES = ["auth", "bitable", "permissions", "contact", "im", "events", "longconn", "control", "console",
           "bitable.control", "ratelimit", "botinfo", "scopes"]


@dataclass
class Fault:
    """An injected failure: the next `count` requests matching `path_contains`/`method` fail."""

    path_contains: str
    kind: str  # "5xx" | "timeout" | "429" | "code" | "disconnect"
    count: int = 1
    method: str | None = None
    code: int = 0  # for kind="code": the Feishu code to answer (e.g. 1254291)
    status: int = 200
    msg: str = "injected fault"
    reset_after: int = 1  # for 429: x-ogw-ratelimit-reset seconds
    delay: float = 0.0  # for timeout: how long to stall before answering

    def matches(self, method: str, path: str) -> bool:
        return self.count > 0 and self.path_contains in path and (self.method in (None, method))


@dataclass
class SandboxConfig:
    """Realism switches. All off by default for speed; benchmarks and the fault suite turn them on."""

    rate_limits: bool = False  # enforce documented per-API limits (429 + 99991400)
    rate_limit_scale: float = 1.0  # multiply documented limits (tests use small numbers)
    latency_ms: float = 0.0  # added to every /open-apis call
    batch_limit: int = 1000  # batch_create/batch_update max records (docs/feishu-api.md §2.2: 500 vs 1000)
    token_ttl_seconds: int = 7200
    uuid_ttl_seconds: int = 3600
    event_retry_schedule: tuple[float, ...] = (15.0, 300.0, 3600.0, 21600.0)  # seconds
    event_ack_deadline: float = 3.0
    duplicate_events: int = 0  # deliver each event this many extra times
    write_conflicts: bool = True  # concurrent writes to one table get 1254291
    enforce_permissions: bool = True
    ws_ping_interval: int = 120
    seed_demo: bool = True  # create the default tenant/app/users/chat at start
    bitable_write_ms: float = 0.0  # every Bitable write holds its table this long (provokes 1254291)
    bitable_time_zone: str = "Asia/Shanghai"  # time zone of new bases (date filters use it)
    # -- IM / cards / events (im/, cards/, events.py, longconn.py); § = docs/feishu-api.md --
    im_qps_per_target: int = 5  # §6.1: 5 QPS per user and per group (230020), when rate_limits is on
    card_max_bytes: int = 30 * 1024  # §6.1: card/post request body ≤30 KB
    text_max_bytes: int = 150 * 1024  # §6.1: text request body ≤150 KB
    too_long_code: int = 230025  # UNCONFIRMED: over-size card → 230025 "content too long" (not 230099)
    card_max_elements: int = 200  # 3P, UNCONFIRMED
    delayed_update_ttl_seconds: int = 1800  # §6.3: c- token valid 30 min …
    delayed_update_uses: int = 3  # … and usable 3 times
    delayed_update_max_bytes: int = 100 * 1024
    members_max_page_size: int = 100  # §6.5 UNCONFIRMED
    event_connect_timeout: float = 2.0  # §8.1: TCP connect 2 s, overall `event_ack_deadline`
    group_needs_mention: bool = True  # §8.2: a group bot only receives messages that @ it
    ws_reconnect_interval: int = 1  # ClientConfig handed to SDK ws clients (real: 120)
    ws_reconnect_nonce: int = 0  # real: 30
    ws_max_connections: int = 50  # §9.5: ≤50 connections per app (1000040350)
    extra: dict[str, Any] = field(default_factory=dict)


class Journal:
    """Every /open-apis request as seen: method, path, query, JSON body, status, Feishu code."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.entries: list[dict[str, Any]] = []

    def add(self, entry: dict[str, Any]) -> None:
        with self._lock:
            entry["seq"] = len(self.entries)
            self.entries.append(entry)

    def since(self, seq: int = 0) -> list[dict[str, Any]]:
        with self._lock:
            return list(self.entries[seq:])

    def mark(self) -> int:
        with self._lock:
            return len(self.entries)

    def clear(self) -> None:
        with self._lock:
            self.entries.clear()


WRITE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
READ_ONLY_POSTS = ("/records/search", "/records/batch_get", "/users/batch_get_id", "/tenant_access_token", "/app_access_token",
                   "/callback/ws/endpoint", "/members/auth")


def is_write(method: str, path: str) -> bool:
    """Whether a journal entry changed something (searches are POSTs that only read)."""
    return method in WRITE_METHODS and not any(p in path for p in READ_ONLY_POSTS)


class Sandbox:
    """The server. `Sandbox().start()` returns the base URL (http://127.0.0.1:PORT)."""

    def __init__(self, config: SandboxConfig | None = None, world: World | None = None,
                 state_file: str | None = None) -> None:
        self.config = config or SandboxConfig()
        self.world = world or World()
        self.journal = Journal()
        self.faults: list[Fault] = []
        self.state_file = state_file
        self.url = ""
        self.port = 0
        self._fault_lock = threading.Lock()
        self.modules: dict[str, Any] = {}
        if state_file:
            self._load_state(state_file)
        self.app = self._build_app()
        self.http = HttpThread(self.app, name="feishu-sandbox")
        self.hooks_on_start: list[Callable[[], None]] = []

    @property
    def loop(self) -> asyncio.AbstractEventLoop | None:
        """The server's event loop while it runs (handlers, event deliveries)."""
        return self.http.loop

    def _load_state(self, path: str) -> None:
        """Load a world saved by `stop()`; feature modules pick their part up from `world.extra`."""
        check_state_file(path)  # refused now, not at shutdown when the data would be lost
        data = read_state_file(path)
        try:
            self.world.load_core(data)
            self.world.extra.update(data.get("extra") or {})
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise StateFileError(f"--state {path!r}: 不是沙箱保存的数据 / not a state the sandbox saved "
                                 f"({exc.__class__.__name__}: {exc}); move it away, or e.g. --state "
                                 f"sandbox.json (a new file starts empty)") from None

    # -- app ------------------------------------------------------------------------------
    def _build_app(self) -> web.Application:
        app = web.Application(middlewares=[self._middleware], client_max_size=32 * 1024 * 1024)
        for name in MODULES:
            try:
                mod = importlib.import_module(f"gtm.sandbox.{name}")
            except ModuleNotFoundError as exc:
                if exc.name == f"gtm.sandbox.{name}":
                    continue
                raise
            self.modules[name] = mod
            mod.register(app, self)
        return app

    @web.middleware
    async def _middleware(self, request: web.Request, handler):
        path = request.path
        api = path.startswith("/open-apis/") or path.startswith("/callback/")
        body_bytes = await request.read() if api else b""
        entry: dict[str, Any] = {}
        if api:
            try:
                body = json.loads(body_bytes) if body_bytes else None
            except ValueError:
                body = body_bytes[:200].decode("utf-8", "replace")
            entry = {"method": request.method, "path": path, "query": dict(request.query), "body": body,
                     "time": time.time(), "write": is_write(request.method, path),
                     "auth": request.headers.get("Authorization", "")[:12]}
        try:
            if api:
                if self.config.latency_ms:
                    await asyncio.sleep(self.config.latency_ms / 1000.0)
                await self._apply_faults(request.method, path)
            resp = await handler(request)
        except ApiError as err:
            resp = error_response(err)
        except web.HTTPException as exc:
            if not api:
                raise
            resp = web.json_response({"code": 404 if exc.status == 404 else exc.status, "msg": exc.reason},
                                     status=exc.status)
        except Exception as exc:  # never a Python traceback to the client
            log.exception("sandbox handler failed: %s %s", request.method, path)
            resp = web.json_response({"code": 1255001, "msg": f"internal error: {exc.__class__.__name__}"},
                                     status=500)
        if api:
            entry["status"] = resp.status
            code = None
            if isinstance(resp, web.Response) and resp.body is not None and resp.content_type == "application/json":
                try:
                    code = json.loads(resp.body).get("code")
                except (ValueError, AttributeError, TypeError):
                    code = None
            entry["code"] = code
            self.journal.add(entry)
        return resp

    async def _apply_faults(self, method: str, path: str) -> None:
        with self._fault_lock:
            fault = next((f for f in self.faults if f.matches(method, path)), None)
            if fault:
                fault.count -= 1
        if not fault:
            return
        if fault.kind == "timeout":
            await asyncio.sleep(fault.delay or 30.0)
            raise ApiError(1255040, "request timeout", 504)
        if fault.kind == "5xx":
            raise ApiError(1255001, fault.msg or "internal error", fault.status if fault.status >= 500 else 500)
        if fault.kind == "429":
            raise ApiError(99991400, "request trigger frequency limit", 429,
                           {"x-ogw-ratelimit-limit": "100", "x-ogw-ratelimit-reset": str(fault.reset_after)})
        if fault.kind == "code":
            raise ApiError(fault.code, fault.msg, fault.status)
        if fault.kind == "disconnect":
            raise ConnectionResetError("injected disconnect")

    def inject(self, path_contains: str, kind: str, count: int = 1, **kw: Any) -> Fault:
        """Make the next `count` matching requests fail (see `Fault`)."""
        f = Fault(path_contains, kind, count, **kw)
        with self._fault_lock:
            self.faults.append(f)
        return f

    def clear_faults(self) -> None:
        with self._fault_lock:
            self.faults.clear()

    # -- lifecycle ------------------------------------------------------------------------
    def start(self, port: int = 0, host: str = "127.0.0.1") -> str:
        """Serve on a thread; port 0 picks a free port. Returns the base URL (OSError when the bind fails)."""
        self.url = self.http.start(host, port, timeout=15)
        self.port = self.http.port
        for hook in self.hooks_on_start:
            hook()
        return self.url

    def stop(self) -> None:
        """Save the world to `state_file` (OSError when that fails) and stop serving either way."""
        try:
            if self.state_file:
                self.world.save(self.state_file)
        finally:
            self.http.stop(10)

    def run_coro(self, coro, timeout: float = 30.0):
        """Run a coroutine on the sandbox loop from another thread and wait for its result."""
        return self.http.run_coro(coro, timeout)

    def __enter__(self) -> "Sandbox":
        self.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()


def jitter() -> float:
    return random.random()

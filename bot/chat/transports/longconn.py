"""Long-connection transport: lark-oapi's `ws.Client` in a thread of its own, plus a watchdog.

The default transport: no public URL, no TLS certificate, the app dials out to Feishu. It only
translates (see `gtm.bot.chat.transports.build_event_handler`); all logic is in the dispatcher.

Threading. `lark_oapi.ws.client` grabs a *module-level* asyncio loop at import and every `Client`
uses that global (`loop.run_until_complete`, `loop.create_task`). Re-pointing the global at "our"
loop before `start()` would work for one client, but two clients in one process (a restart by the
watchdog while the old thread is still unwinding, two apps, tests) would schedule tasks onto each
other's loops. So we replace the global once with `_ThreadLoop`, a proxy that resolves to the
event loop of the calling thread; each `LongConnection` thread creates and sets its own loop. The
SDK code is untouched and behaves exactly as before for single-threaded users.

Watchdog. The SDK reconnects when the socket *errors*, but a half-open connection (NAT dropped,
server gone without FIN) just goes silent: `recv()` waits forever. We stamp every received frame
(pongs included: the SDK pings every `PingInterval` s and the server answers) and, when nothing
arrived for `silence_seconds`, abort the socket's transport so the SDK's own reconnect path runs.
If that does not bring a frame back within another window (e.g. the endpoint lookup hangs — the
SDK posts it without a timeout), the whole client is restarted: new thread, new loop, new client.
"""
from __future__ import annotations

import asyncio
import logging
import threading
import time
from typing import Any, Callable

import lark_oapi as lark
import lark_oapi.ws.client as ws_client_module

from gtm.bot.chat.transports import Dispatch, build_event_handler
from gtm.schemas.settings import Settings

log = logging.getLogger(__name__)


class _ThreadLoop:
    """Stands in for `lark_oapi.ws.client.loop`: the running loop, else this thread's loop."""

    def _loop(self) -> asyncio.AbstractEventLoop:
        try:
            return asyncio.get_running_loop()
        except RuntimeError:
            return asyncio.get_event_loop_policy().get_event_loop()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._loop(), name)


_patch_lock = threading.Lock()


def install_thread_loop_proxy() -> None:
    """Idempotently make the SDK's module-level loop per-thread (see module docstring)."""
    with _patch_lock:
        if not isinstance(ws_client_module.loop, _ThreadLoop):
            ws_client_module.loop = _ThreadLoop()


class _WatchedClient(lark.ws.Client):
    """The SDK client, stamping the time of every frame it receives."""

    last_frame: float = 0.0

    async def _handle_message(self, msg: bytes) -> None:
        self.last_frame = time.monotonic()
        await super()._handle_message(msg)


class LongConnection:
    """Runs the SDK long connection feeding `dispatch`; `start()` returns once connected."""

    def __init__(self, app_id: str, app_secret: str, dispatch: Dispatch, *, domain: str = lark.FEISHU_DOMAIN,
                 bot_open_id: Callable[[], str | None] = lambda: None, silence_seconds: float | None = None,
                 check_every: float = 1.0, log_level: lark.LogLevel = lark.LogLevel.WARNING) -> None:
        self.app_id, self._secret, self.domain = app_id, app_secret, domain.rstrip("/")
        self._dispatch = dispatch
        self._bot_open_id = bot_open_id
        self._silence = silence_seconds
        self._check_every = check_every
        self._log_level = log_level
        self._client: _WatchedClient | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._watchdog: threading.Thread | None = None
        self._stopping = threading.Event()
        self._state_lock = threading.Lock()
        self._seen_conn: Any = None
        self._alive_since = 0.0
        self._aborted_at: float | None = None
        self.error: BaseException | None = None
        self.aborts = 0  # silent sockets aborted (the SDK then reconnects)
        self.restarts = 0  # whole clients replaced
        self.connects = 0  # connections seen (first + reconnects)

    # -- lifecycle -----------------------------------------------------------------------
    def start(self, wait: float = 10.0) -> "LongConnection":
        install_thread_loop_proxy()
        self._stopping.clear()
        self._spawn()
        if self._watchdog is None:
            self._watchdog = threading.Thread(target=self._watch, name="gtm-ws-watchdog", daemon=True)
            self._watchdog.start()
        if wait and not self.wait_connected(wait):
            raise ConnectionError(f"long connection to {self.domain} not established within {wait}s"
                                  + (f": {self.error}" if self.error else ""))
        return self

    def stop(self, timeout: float = 5.0) -> None:
        self._stopping.set()
        self._shutdown_client(timeout)
        if self._watchdog is not None:
            self._watchdog.join(timeout)
            self._watchdog = None

    @property
    def connected(self) -> bool:
        c = self._client
        return c is not None and c._conn is not None

    def wait_connected(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.connected:
                return True
            if self.error is not None and self._thread is not None and not self._thread.is_alive():
                return False
            time.sleep(0.02)
        return self.connected

    # -- the client thread ---------------------------------------------------------------
    def _spawn(self) -> None:
        handler = build_event_handler(self._dispatch, bot_open_id=self._bot_open_id)
        ready = threading.Event()

        def run() -> None:
            loop = asyncio.new_event_loop()
            asyncio.set_event_loop(loop)
            client = _WatchedClient(self.app_id, self._secret, log_level=self._log_level,
                                    event_handler=handler, domain=self.domain)
            with self._state_lock:
                self._loop, self._client = loop, client
                self._seen_conn, self._alive_since, self._aborted_at = None, time.monotonic(), None
            ready.set()
            try:
                client.start()  # blocks until our shutdown cancels its tasks
            except (asyncio.CancelledError, RuntimeError):
                pass  # our stop/restart
            except BaseException as exc:  # noqa: BLE001 - e.g. ClientException: bad credentials
                self.error = exc
                log.error("long connection ended: %s", exc)
            finally:
                try:
                    pending = asyncio.all_tasks(loop)
                    if pending:  # our shutdown coroutine and tasks still unwinding
                        loop.run_until_complete(asyncio.wait(pending, timeout=2))
                    loop.close()
                except Exception:  # noqa: BLE001 - closing the client's loop; the thread ends either way
                    pass

        self._thread = threading.Thread(target=run, name="gtm-ws-client", daemon=True)
        self._thread.start()
        ready.wait(5)

    def _shutdown_client(self, timeout: float) -> None:
        with self._state_lock:
            loop, client, thread = self._loop, self._client, self._thread
            self._loop = self._client = None
        if loop is None or client is None:
            return

        async def shutdown() -> None:
            client._auto_reconnect = False
            conn = client._conn
            if conn is not None:
                _abort(conn)
            me = asyncio.current_task()
            tasks = [t for t in asyncio.all_tasks() if t is not me]
            for task in tasks:
                task.cancel()
            # let them unwind (this also ends the SDK's `run_until_complete(_select())`)
            await asyncio.wait(tasks, timeout=2)

        try:
            asyncio.run_coroutine_threadsafe(shutdown(), loop)
        except RuntimeError:
            return  # loop already closed
        if thread is not None:
            thread.join(timeout)

    # -- watchdog ------------------------------------------------------------------------
    def silence_limit(self) -> float:
        if self._silence is not None:
            return self._silence
        client = self._client
        ping = getattr(client, "_ping_interval", 120) if client else 120
        return 2 * ping + 10

    def _watch(self) -> None:
        while not self._stopping.wait(self._check_every):
            try:
                self.check()
            except Exception:  # noqa: BLE001 - the watchdog must keep watching
                log.exception("long-connection watchdog check failed")

    def check(self, now: float | None = None) -> str:
        """One watchdog pass; returns what it did ("ok", "abort", "restart", "idle")."""
        now = time.monotonic() if now is None else now
        with self._state_lock:
            client, loop = self._client, self._loop
        if client is None or loop is None:
            return "idle"
        conn = client._conn
        if conn is not None and conn is not self._seen_conn:
            self._seen_conn, self._alive_since, self._aborted_at = conn, now, None
            self.connects += 1
        last = max(client.last_frame, self._alive_since)
        limit = self.silence_limit()
        if now - last < limit:
            return "ok"
        if self._aborted_at is None and conn is not None:
            log.warning("long connection silent for %.0fs: dropping the socket to reconnect", now - last)
            self._aborted_at = now
            self.aborts += 1
            loop.call_soon_threadsafe(_abort, conn)
            return "abort"
        if self._aborted_at is not None and now - self._aborted_at < limit:
            return "ok"
        log.warning("long connection did not come back: restarting the client")
        self.restarts += 1
        self._shutdown_client(timeout=2.0)
        if not self._stopping.is_set():
            self._spawn()
        return "restart"


def _abort(conn: Any) -> None:
    """Drop a websocket at once (no close handshake: the peer may be gone)."""
    transport = getattr(conn, "transport", None)
    if transport is not None:
        transport.abort()


def longconn_endpoint(settings: Settings, timeout: float = 10.0) -> tuple[bool, str]:
    """Ask the long-connection endpoint for a URL through the SDK's own call, without connecting
    (`gtm doctor`)."""
    result: list[Any] = []

    def ask() -> None:
        # The client schedules a cache-cleaning task on this thread's loop at construction: give it
        # a loop of its own and cancel that task afterwards (we never start the client).
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        try:
            client = lark.ws.Client(settings.feishu_app_id, settings.feishu_app_secret.get_secret_value(),
                                    log_level=lark.LogLevel.ERROR, domain=settings.feishu_domain)
            result.append(("ok", client._get_conn_url()))
        except Exception as exc:  # noqa: BLE001 - ClientException / ServerException / network
            result.append(("error", exc))
        finally:
            pending = asyncio.all_tasks(loop)
            for task in pending:
                task.cancel()
            loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            loop.close()

    t = threading.Thread(target=ask, name="gtm-doctor-ws", daemon=True)
    t.start()
    t.join(timeout)  # the SDK posts without a timeout: never wait on it forever
    if not result:
        return False, f"{settings.feishu_domain}/callback/ws/endpoint 在 {timeout:g}s 内没有回应 / no answer"
    kind, value = result[0]
    if kind == "ok":
        host = str(value).split("?", 1)[0]
        return True, f"可以建立长连接 / endpoint reachable: {host}"
    code = getattr(value, "code", "")
    return False, f"{code} {getattr(value, 'msg', value)}".strip()[:200]

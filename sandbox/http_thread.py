"""Serve an aiohttp application from a background thread with an event loop of its own.

    server = HttpThread(app, name="my-server")
    url = server.start("127.0.0.1", 0)   # port 0: a free port, read back from .port / .url
    ...
    server.stop()                         # loop stopped, runner cleaned up, thread joined

`start` returns once the site accepts connections. A failed bind (the port is taken, the host
is not an address of this machine) raises `OSError` naming host and port at once, rather than
leaving a dead thread behind; a start slower than `timeout` raises `TimeoutError`. `stop`
finishes the runner's cleanup on the server's loop (open connections closed, the application's
shutdown/cleanup hooks run) and returns whether the thread ended within `timeout`; `.url` keeps
naming where it served (so a caller can show that nothing answers there any more). `.loop` is
the server's event loop while it runs; `run_coro` runs a coroutine on it from another thread.

Generic on purpose: stdlib and aiohttp only, so the sandbox (which imports nothing of the
product) and the product's own HTTP servers share it.
"""
from __future__ import annotations

import asyncio
import contextlib
import threading
from typing import Coroutine, TypeVar

from aiohttp import web

T = TypeVar("T")


class HttpThread:
    """One aiohttp `Application` on one thread and loop. Start it once: aiohttp ties an application
    to the first loop it runs on, so serving again (also after a failed bind) takes a new app."""

    def __init__(self, app: web.Application, *, name: str = "http-thread") -> None:
        self.app = app
        self.name = name
        self.host = ""
        self.port = 0
        self.loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._started = False

    @property
    def url(self) -> str:
        """`http://host:port` once started ("" before); after `stop` it still names where it served."""
        return f"http://{self.host}:{self.port}" if self.port else ""

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive() and bool(self.port)

    def start(self, host: str = "127.0.0.1", port: int = 0, timeout: float = 15.0) -> str:
        """Bind and serve on a new thread; returns the URL once the site is up."""
        if self._started:
            raise RuntimeError(f"{self.name} was already started (on {self.url or 'no address'}); "
                               "aiohttp serves an application once: build a new one to serve again")
        self._started = True
        loop = asyncio.new_event_loop()
        ready = threading.Event()
        failed: list[BaseException] = []
        runner = web.AppRunner(self.app, handle_signals=False, access_log=None)

        async def bind() -> int:
            await runner.setup()
            await web.TCPSite(runner, host, port).start()
            return runner.addresses[0][1]

        def serve() -> None:
            asyncio.set_event_loop(loop)
            try:
                bound = loop.run_until_complete(bind())
            except BaseException as exc:  # noqa: BLE001 - handed to start() and raised there
                failed.append(exc)
                with contextlib.suppress(Exception):
                    loop.run_until_complete(runner.cleanup())
                loop.close()
                ready.set()
                return
            self.host, self.port = host, bound
            ready.set()
            try:
                loop.run_forever()
            finally:
                loop.run_until_complete(runner.cleanup())
                loop.close()

        self.loop = loop
        self._thread = threading.Thread(target=serve, name=self.name, daemon=True)
        self._thread.start()
        if not ready.wait(timeout):
            self.stop(timeout)
            raise TimeoutError(f"{self.name} did not start on {host}:{port} within {timeout:g}s")
        if failed:
            self._thread.join(timeout)
            self._thread, self.loop = None, None
            raise OSError(f"{self.name}: cannot serve HTTP on {host}:{port}: {failed[0]}") from failed[0]
        return self.url

    def stop(self, timeout: float = 10.0) -> bool:
        """Stop serving; True when the thread ended within `timeout` (also when never started)."""
        loop, thread = self.loop, self._thread
        if loop is not None:
            with contextlib.suppress(RuntimeError):  # already closed: the thread has ended
                loop.call_soon_threadsafe(loop.stop)
        ended = True
        if thread is not None:
            thread.join(timeout)
            ended = not thread.is_alive()
        self._thread, self.loop = None, None
        return ended

    def run_coro(self, coro: Coroutine[object, object, T], timeout: float = 30.0) -> T:
        """Run a coroutine on the server's loop from another thread and wait for its result."""
        if self.loop is None:
            coro.close()
            raise RuntimeError(f"{self.name} is not running")
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

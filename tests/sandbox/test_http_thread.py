"""gtm.sandbox.http_thread.HttpThread: an aiohttp app on a thread of its own, over real sockets."""
from __future__ import annotations

import asyncio
import socket
import threading

import pytest
import requests
from aiohttp import web

from gtm.sandbox import Sandbox
from gtm.sandbox.http_thread import HttpThread


def hello_app(cleaned: list[str]) -> web.Application:
    app = web.Application()

    async def hello(request: web.Request) -> web.Response:
        return web.json_response({"hello": request.query.get("name", ""), "thread": threading.current_thread().name})

    async def on_cleanup(app: web.Application) -> None:
        cleaned.append("cleanup")

    app.router.add_get("/hello", hello)
    app.on_cleanup.append(on_cleanup)
    return app


def threads_named(name: str) -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == name]


def test_serves_on_a_chosen_port_and_stops_cleanly():
    cleaned: list[str] = []
    server = HttpThread(hello_app(cleaned), name="test-http-thread")
    url = server.start("127.0.0.1", 0)
    try:
        assert server.port > 0 and url == f"http://127.0.0.1:{server.port}" == server.url and server.running
        r = requests.get(url + "/hello", params={"name": "飞书"}, timeout=5)
        assert r.json() == {"hello": "飞书", "thread": "test-http-thread"}  # handled on the server's thread

        async def on_the_loop() -> bool:
            return asyncio.get_running_loop() is server.loop

        assert server.run_coro(on_the_loop()) is True
        with pytest.raises(RuntimeError, match="already started"):
            server.start("127.0.0.1", 0)
    finally:
        assert server.stop(timeout=10) is True
    assert cleaned == ["cleanup"]  # the app's cleanup hooks ran on the way out
    assert not threads_named("test-http-thread") and server.loop is None and not server.running
    assert server.url == url  # still names where it served …
    with pytest.raises(requests.ConnectionError):  # … and nothing answers there any more
        requests.get(url + "/hello", timeout=5)
    assert server.stop() is True  # a second stop is harmless
    with pytest.raises(RuntimeError, match="already started"):  # aiohttp serves an app once
        server.start("127.0.0.1", 0)


def test_a_taken_port_is_reported_at_once_and_leaves_no_thread():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        server = HttpThread(hello_app([]), name="test-http-taken")
        with pytest.raises(OSError, match=f"test-http-taken: cannot serve HTTP on 127.0.0.1:{port}"):
            server.start("127.0.0.1", port)
        assert not threads_named("test-http-taken") and server.loop is None and not server.running
        assert server.stop() is True


def test_an_address_of_another_machine_is_reported():
    server = HttpThread(hello_app([]), name="test-http-foreign")
    with pytest.raises(OSError, match="cannot serve HTTP on 192.0.2.1:0"):  # TEST-NET-1: never local
        server.start("192.0.2.1", 0)
    assert not threads_named("test-http-foreign")


def test_the_sandbox_reports_a_taken_port():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        sb = Sandbox()
        with pytest.raises(OSError, match=f"feishu-sandbox: cannot serve HTTP on 127.0.0.1:{taken.getsockname()[1]}"):
            sb.start(port=taken.getsockname()[1])
        sb.stop()
    assert sb.loop is None

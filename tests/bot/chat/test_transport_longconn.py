"""Long-connection watchdog: a silent connection is dropped and the SDK reconnects by itself."""
from __future__ import annotations


import pytest

from gtm.bot.chat.transports.longconn import LongConnection
from gtm.sandbox import SandboxConfig
from tests.support.waiting import wait_until


@pytest.fixture
def sandbox_config() -> SandboxConfig:
    return SandboxConfig(ws_ping_interval=3600)  # one ping at connect, then silence


def test_silent_connection_is_restarted_and_events_flow_again(sandbox, seed):
    got = []
    conn = LongConnection(seed.app_id, seed.app_secret, lambda inc: got.append(inc), domain=sandbox.url,
                          silence_seconds=0.6, check_every=0.1).start(wait=10)
    try:
        wait_until(lambda: conn.aborts >= 1 and conn.connects >= 2 and conn.connected, timeout=10,
                   message="watchdog abort + SDK reconnect")
        sandbox.control.post_message(seed.chat_id, seed.users["王芳"], "状态")
        wait_until(lambda: got, timeout=10, message="event after reconnect")
        assert got[0].text == "状态" and got[0].mentioned_bot
    finally:
        conn.stop()


def test_watchdog_restarts_the_whole_client_when_reconnect_does_not_help(sandbox, seed):
    conn = LongConnection(seed.app_id, seed.app_secret, lambda inc: None, domain=sandbox.url,
                          silence_seconds=5, check_every=3600).start(wait=10)
    try:
        import time

        conn._client._auto_reconnect = False  # the SDK's reconnect "hangs" (never comes back)
        t = time.monotonic()
        assert conn.check(t) == "ok"
        assert conn.check(t + 6) == "abort"
        wait_until(lambda: not conn.connected, message="socket dropped")
        assert conn.check(t + 7) == "ok"  # give the SDK's own reconnect a window first
        assert conn.check(t + 12) == "restart"
        assert conn.wait_connected(10) and conn.restarts == 1
    finally:
        conn.stop()

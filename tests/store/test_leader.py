"""Leader election: exactly one leader; the other takes over when the leader's lock goes away."""
from __future__ import annotations

import random
import subprocess
import sys
import time

import pytest

from gtm.bot.leader import Leader


def wait_for(pred, timeout: float = 10.0) -> bool:
    """Poll a condition with a deadline (no fixed sleeps)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(0.02)
    return pred()


class Calls:
    def __init__(self) -> None:
        self.events: list[str] = []

    def leader(self, name: str, url: str, key: int | None = None, **kw) -> Leader:
        extra = {"key": key} if key is not None else {}
        return CountingLeader(url, retry_seconds=0.1, on_elected=lambda: self.events.append(f"{name}+"),
                              on_demoted=lambda: self.events.append(f"{name}-"), **extra, **kw)


class CountingLeader(Leader):
    """Counts election attempts, so takeover is measured in retries rather than seconds."""

    attempts = 0

    def step(self) -> bool:
        self.attempts += 1
        return super().step()


def test_postgres_one_leader_and_takeover_when_its_connection_dies(pg_url):
    import psycopg

    key = random.randint(1, 2**62)  # other test runs may share this server
    calls = Calls()
    a, b = calls.leader("a", pg_url, key), calls.leader("b", pg_url, key)
    try:
        a.start()
        assert wait_for(lambda: a.is_leader)
        b.start()
        for _ in range(3):
            assert b.step() is False  # the lock is held by a's session
        assert a.is_leader and not b.is_leader and calls.events == ["a+"]

        # the leader's connection dies (crash, network): PostgreSQL releases the lock
        pid = a.conn.info.backend_pid
        admin = pg_url.replace("postgresql+psycopg://", "postgresql://")
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute("SELECT pg_terminate_backend(%s)", (pid,))
        tries = b.attempts
        assert wait_for(lambda: b.is_leader, timeout=30)
        took = b.attempts - tries
        assert wait_for(lambda: not a.is_leader, timeout=5)
        # b's own retry takes over (no session timeout to wait out): a few attempts, not dozens
        assert took <= 10, f"takeover needed {took} attempts with a 0.1s retry interval"
        assert "b+" in calls.events and "a-" in calls.events
        # the old leader comes back as a follower
        assert not a.step() and b.is_leader
    finally:
        a.stop()
        b.stop()
    assert calls.events.count("b-") == 1 and calls.events[-1] == "b-"


def test_postgres_stop_hands_over(pg_url):
    key = random.randint(1, 2**62)
    calls = Calls()
    a, b = calls.leader("a", pg_url, key), calls.leader("b", pg_url, key)
    try:
        assert a.step() and not b.step()
        a.stop()  # graceful: unlock
        assert not a.is_leader and b.step()
    finally:
        a.stop()
        b.stop()
    assert calls.events == ["a+", "a-", "b+", "b-"]


def test_sqlite_file_lock_elects_one(sqlite_url):
    calls = Calls()
    a, b = calls.leader("a", sqlite_url), calls.leader("b", sqlite_url)
    try:
        assert a.step() is True
        assert b.step() is False and b.step() is False
        a.stop()
        assert b.step() is True
    finally:
        a.stop()
        b.stop()
    assert calls.events == ["a+", "a-", "b+", "b-"]


def test_sqlite_takeover_when_the_leader_process_dies(sqlite_url):
    code = ("import sys, time; from gtm.bot.leader import Leader; l = Leader(sys.argv[1]); "
            "assert l.step(); print('leader', flush=True); time.sleep(60)")
    child = subprocess.Popen([sys.executable, "-c", code, sqlite_url], stdout=subprocess.PIPE, text=True)
    me = Leader(sqlite_url, retry_seconds=0.05)
    try:
        assert child.stdout.readline().strip() == "leader"
        assert me.step() is False
        me.start()
        child.kill()
        child.wait(10)
        assert wait_for(lambda: me.is_leader, timeout=5)
    finally:
        child.kill()
        me.stop()


def test_in_memory_database_is_always_leader():
    with Leader("sqlite://") as l:
        assert l.wait_until_leader(2)


@pytest.mark.parametrize("url", ["postgresql://nobody@127.0.0.1:1/none"])
def test_unreachable_database_is_not_leader(url):
    l = Leader(url, connect_timeout=1)
    assert l.step() is False and not l.is_leader
    l.stop()

"""Leader election: a TTL lease in the store, renewed by a heartbeat (issue #16.5).

Exactly one leader; a killed leader on this host is replaced at once, a frozen one (SIGSTOP) as
soon as its lease expires, and when it wakes up it is no longer the leader. A dead election
thread is reported, never silent.
"""
from __future__ import annotations

import random
import signal
import subprocess
import sys

import pytest

from gtm.bot.service.leader import Leader
from gtm.sync.store.open import open_store
from tests.support.waiting import wait_until


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request, sqlite_url):
    u = sqlite_url if request.param == "sqlite" else request.getfixturevalue("pg_db_url")
    open_store(u).dispose()  # migrated: the leases table exists
    return u


class Calls:
    def __init__(self) -> None:
        self.events: list[str] = []

    def leader(self, name: str, url: str, key: int, **kw) -> Leader:
        kw.setdefault("retry_seconds", 0.1)
        return Leader(url, key=key, on_elected=lambda: self.events.append(f"{name}+"),
                      on_demoted=lambda: self.events.append(f"{name}-"), **kw)


def test_one_leader_and_a_clean_hand_over(url):
    key = random.randint(1, 2**62)  # other test runs may share the server
    calls = Calls()
    a, b = calls.leader("a", url, key), calls.leader("b", url, key)
    try:
        assert a.step() is True
        for _ in range(3):
            assert b.step() is False and a.step() is True  # renewals keep it
        a.stop()  # graceful: the lease is released
        assert not a.is_leader and b.step() is True
    finally:
        a.stop()
        b.stop()
    assert calls.events == ["a+", "a-", "b+", "b-"]


def _child_leader(url: str, key: int, ttl: float) -> subprocess.Popen:
    code = ("import sys, time; from gtm.bot.service.leader import Leader; "
            f"l = Leader(sys.argv[1], key={key}, retry_seconds=0.1, ttl_seconds={ttl}); l.start(); "
            "assert l.wait_until_leader(10); print('leader', flush=True); time.sleep(120)")
    return subprocess.Popen([sys.executable, "-c", code, url], stdout=subprocess.PIPE, text=True)


def test_killed_leader_on_this_host_is_replaced_at_once(url):
    key = random.randint(1, 2**62)
    child = _child_leader(url, key, ttl=600)  # a lease far longer than the test
    me = Leader(url, key=key, retry_seconds=0.05, ttl_seconds=600)
    try:
        assert child.stdout.readline().strip() == "leader"
        assert me.step() is False
        me.start()
        child.kill()
        child.wait(10)
        assert wait_until(lambda: me.is_leader, timeout=5)  # its pid is gone: no need to wait 600 s
    finally:
        child.kill()
        me.stop()


def test_frozen_leader_loses_the_lease_within_its_ttl_and_knows_it_on_waking(url):
    key = random.randint(1, 2**62)
    child = _child_leader(url, key, ttl=1.0)
    standby = Leader(url, key=key, retry_seconds=0.05, ttl_seconds=1.0)
    try:
        assert child.stdout.readline().strip() == "leader"
        assert standby.step() is False
        standby.start()
        child.send_signal(signal.SIGSTOP)  # frozen: alive, pid present, holds its connection
        assert wait_until(lambda: standby.is_leader, timeout=10)
        frozen = Leader(url, key=key, ttl_seconds=1.0)  # the frozen leader's view after SIGCONT
        assert frozen.step() is False
        child.send_signal(signal.SIGCONT)
        assert wait_until(lambda: standby.is_leader, timeout=2)
        frozen.stop()
    finally:
        child.send_signal(signal.SIGCONT)
        child.kill()
        standby.stop()


def test_a_leader_that_was_paused_past_its_ttl_is_not_leader_before_its_next_step(url):
    key = random.randint(1, 2**62)
    a = Leader(url, key=key, ttl_seconds=0.3)
    try:
        assert a.step() and a.is_leader
        assert wait_until(lambda: not a.is_leader, timeout=5)  # no renewal (paused): not the leader
        b = Leader(url, key=key, ttl_seconds=0.3)
        assert wait_until(b.step, timeout=5)
        assert a.step() is False  # waking up: the lease is b's now
        b.stop()
    finally:
        a.stop()


def test_dead_election_thread_is_reported(url, monkeypatch):
    failures: list[str] = []
    a = Leader(url, key=random.randint(1, 2**62), retry_seconds=0.05, on_failure=failures.append)

    def broken() -> bool:
        raise OSError("lock path unusable")

    monkeypatch.setattr(a, "step", broken)
    a.start()
    assert wait_until(lambda: failures, timeout=5)
    assert not a.alive and "lock path unusable" in a.failure and not a.is_leader
    a.stop()


def test_in_memory_database_is_always_leader():
    with Leader("sqlite://") as l:
        assert l.wait_until_leader(2)


def test_unreachable_database_is_not_leader():
    l = Leader("postgresql://nobody@127.0.0.1:1/none", connect_timeout=1)
    assert l.step() is False and not l.is_leader
    l.stop()

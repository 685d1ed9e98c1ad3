"""Exactly-once delivery through the real SDK against the sandbox, on SQLite and PostgreSQL.

Deliveries are counted where they land: the sandbox's IM store (messages the app really sent)
and the journal's POST /open-apis/im/v1/messages entries (requests that reached "Feishu").
"""
from __future__ import annotations

import threading
from datetime import timedelta

import pytest

from gtm.bot.checks import send_once as ledger
from gtm.bot.checks.notify import Sender, digest_key
from gtm.sandbox.im import store as im_store
from gtm.schemas.settings import Policy
from gtm.sync.feishu.errors import ConnectionFailed
from gtm.sync.feishu.gateway import Gateway
from gtm.sync.store.ledger import NotificationRow
from gtm.sync.store.holder import lease_until, wall_now
from gtm.sync.store.open import open_store
from tests.support.notices import at, notice
from tests.support.concurrency import run_together

SEND_PATH = "/open-apis/im/v1/messages"
POLICY = Policy()
NOW = at(2026, 11, 24, 10, 0)  # a Tuesday, working hours


def delivered(sandbox) -> list[dict]:
    """Messages the app really sent (the sandbox drops a repeated uuid)."""
    return [m for m in im_store(sandbox).messages.values() if m.get("app_id")]


def send_posts(sandbox) -> list[dict]:
    return [e for e in sandbox.journal.since(0) if e["method"] == "POST" and e["path"] == SEND_PATH]


def rows(store, project="p1") -> list[NotificationRow]:
    from sqlalchemy import select

    with store.session() as s:
        return list(s.scalars(select(NotificationRow).where(NotificationRow.project == project)
                              .order_by(NotificationRow.id)))


def sample(seed):
    pm, mgmt, wang = seed.users["pm"], seed.users["management"], seed.users["王芳"]
    return [
        notice("overdue", "rec1", [pm, wang], digest=True),
        notice("due_soon", "rec2", [pm], digest=True),
        notice("escalation", "rec3", [pm, mgmt], level=1),
    ]


def test_same_notices_twice_send_once(sandbox, seed, gateway, store, cards):
    sender = Sender(gateway, store, cards)
    first = sender.dispatch("p1", "新品发布", sample(seed), NOW, POLICY)
    assert sorted((o.action, o.status) for o in first) == [
        ("digest", "sent"), ("digest", "sent"), ("single", "sent"), ("single", "sent")]
    assert len(delivered(sandbox)) == 4 and len(send_posts(sandbox)) == 4
    pm_digest = next(o for o in first if o.action == "digest" and o.recipient == seed.users["pm"])
    assert pm_digest.key == digest_key(["overdue:task:rec1:d1", "due_soon:task:rec2:d1"])
    assert pm_digest.record.startswith("2 ")

    again = sender.dispatch("p1", "新品发布", sample(seed), NOW + timedelta(minutes=30), POLICY)
    assert {o.status for o in again} == {"skipped"}
    assert len(delivered(sandbox)) == 4 and len(send_posts(sandbox)) == 4
    assert {r.status for r in rows(store)} == {"sent"}
    assert all(r.message_id.startswith("om_") for r in rows(store))


def test_digest_is_one_card_per_recipient_and_a_new_set_is_sent(sandbox, seed, gateway, store, cards):
    pm = seed.users["pm"]
    sender = Sender(gateway, store, cards)
    sender.dispatch("p1", "P", [notice("overdue", f"r{i}", [pm], digest=True) for i in range(3)], NOW, POLICY)
    assert [c for c in cards.calls if c[0] == "digest"] == [("digest", sorted(f"overdue:task:r{i}:d1" for i in range(3)))]
    assert len(delivered(sandbox)) == 1
    # the same set in another order: same key, nothing sent; one more member: a new digest
    sender.dispatch("p1", "P", [notice("overdue", f"r{i}", [pm], digest=True) for i in (2, 1, 0)], NOW, POLICY)
    assert len(delivered(sandbox)) == 1
    sender.dispatch("p1", "P", [notice("overdue", f"r{i}", [pm], digest=True) for i in range(4)], NOW, POLICY)
    assert len(delivered(sandbox)) == 2
    # the same key in another project is another message
    sender.dispatch("p2", "P2", [notice("overdue", f"r{i}", [pm], digest=True) for i in range(4)], NOW, POLICY)
    assert len(delivered(sandbox)) == 3


def test_two_concurrent_runs_send_each_message_once(sandbox, seed, gateway, store_url, cards):
    stores = [open_store(store_url), open_store(store_url)]  # two "processes": own engines
    senders = [Sender(gateway, st, cards) for st in stores]
    barrier = threading.Barrier(2)
    results: list[list] = [[], []]

    def run(i: int) -> None:
        barrier.wait(10)
        results[i] = senders[i].dispatch("p1", "P", sample(seed), NOW, POLICY)

    errors = run_together(run, 2)
    for st in stores:
        st.dispose()
    assert not errors
    assert len(delivered(sandbox)) == 4
    assert len(send_posts(sandbox)) == 4  # the loser of each reservation never even asked Feishu
    sent = [o for r in results for o in r if o.status == "sent"]
    assert len(sent) == 4


def _dead_local_holder() -> str:
    """The holder identity of a process on this host that has exited (a crashed sender)."""
    import socket
    import subprocess
    import sys

    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait(30)
    return f"{socket.gethostname()}:{child.pid}:deadbeef"


def test_crash_after_send_before_mark_delivers_once(sandbox, seed, gateway, store, cards):
    """The process sent the message, then died before recording it: the retry reuses the uuid.
    Its lease is on the wall clock: a run at any `--as-of` instant respects it while it lasts."""
    pm = seed.users["pm"]
    sender = Sender(gateway, store, cards, lease_seconds=60)
    n = notice("escalation", "rec9", [pm], level=1)
    card = cards.single("P", n, "zh")
    with store.session() as s:
        row = ledger.reserve(s, "p1", n.key, pm, kind=n.kind, payload=card, now=NOW,
                             lease_until=lease_until(60), holder="other-host:7:abcd")
        assert row is not None and row.status == "pending"
        row_uuid = row.uuid
    first_id = sender.send_card(pm, card, row_uuid)  # … and the process (on another host) dies here
    assert len(delivered(sandbox)) == 1

    # a new run while the dead run's lease is live leaves the row alone, whatever its `now`
    for when in (NOW + timedelta(seconds=5), NOW + timedelta(days=3)):
        out = Sender(gateway, store, cards).dispatch("p1", "P", [n], when, POLICY)
        assert [o.status for o in out] == ["skipped"]
    # after the lease (wall clock): retried with the same uuid → Feishu (sandbox) drops the duplicate
    with store.session() as s:
        s.get(NotificationRow, row.id).lease_until = wall_now() - timedelta(seconds=1)
    out = Sender(gateway, store, cards).dispatch("p1", "P", [n], NOW, POLICY)
    assert [o.status for o in out] == ["sent"]
    assert len(delivered(sandbox)) == 1
    assert len(send_posts(sandbox)) == 2
    [r] = rows(store)
    assert r.status == "sent" and r.message_id == first_id and r.uuid == ledger.message_uuid("p1", n.key, pm)


def test_crash_before_send_is_retried_at_once_when_the_holder_is_dead(sandbox, seed, gateway, store, cards):
    """Issue #16.4: a restarted process reclaims a dead holder's rows at once — a rerun at the
    same `--as-of` instant, within the old 120 s lease, delivers them."""
    pm = seed.users["pm"]
    n = notice("budget", "rec5", [pm])
    with store.session() as s:
        ledger.reserve(s, "p1", n.key, pm, kind=n.kind, payload=cards.single("P", n, "zh"), now=NOW,
                       lease_until=lease_until(120), holder=_dead_local_holder())
    # the next run no longer has this notice (the condition cleared), but the reserved row is owed
    out = Sender(gateway, store, cards).dispatch("p1", "P", [], NOW, POLICY)
    assert [(o.key, o.status) for o in out] == [(n.key, "sent")]
    assert len(delivered(sandbox)) == 1


def test_interrupted_send_older_than_the_uuid_window_is_reported_not_resent(sandbox, seed, gateway, store, cards):
    pm = seed.users["pm"]
    n = notice("gate", "g7", [pm])
    with store.session() as s:
        ledger.reserve(s, "p1", n.key, pm, kind=n.kind, payload=cards.single("P", n, "zh"), now=NOW,
                       lease_until=wall_now() - timedelta(hours=2), holder="other-host:7:abcd")
    out = Sender(gateway, store, cards).dispatch("p1", "P", [n], NOW, POLICY)
    assert [o.status for o in out] == ["failed"] and "uncertain" in out[0].why
    assert delivered(sandbox) == []
    [r] = rows(store)
    assert r.status == "failed" and r.permanent and "不确定是否已送达" in r.error_reason


@pytest.mark.parametrize("kind", ["5xx", "429", "timeout"])
def test_injected_faults_lose_nothing_and_duplicate_nothing(sandbox, seed, gateway, store, cards, kind):
    pm = seed.users["pm"]
    sender = Sender(gateway, store, cards)
    # fewer faults than the gateway's attempts: retried inside the run
    sandbox.inject("/im/v1/messages", kind, count=2, delay=0.01)
    out = sender.dispatch("p1", "P", [notice("gate", "g1", [pm])], NOW, POLICY)
    assert [o.status for o in out] == ["sent"]
    # more faults than attempts: the run gives up, the row stays pending, the next run delivers
    sandbox.inject("/im/v1/messages", kind, count=gateway.max_attempts, delay=0.01)
    out = sender.dispatch("p1", "P", [notice("gate", "g2", [pm])], NOW, POLICY)
    assert [o.status for o in out] == ["pending"]
    assert {r.key: r.status for r in rows(store)}["gate:task:g2:d1"] == "pending"
    out = sender.dispatch("p1", "P", [notice("gate", "g2", [pm])], NOW + timedelta(minutes=30), POLICY)
    assert [o.status for o in out] == ["sent"]
    assert len(delivered(sandbox)) == 2
    again = sender.dispatch("p1", "P", [notice("gate", "g1", [pm]), notice("gate", "g2", [pm])],
                            NOW + timedelta(hours=1), POLICY)
    assert {o.status for o in again} == {"skipped"} and len(delivered(sandbox)) == 2


def test_client_side_timeout_keeps_the_row_pending(sandbox, seed, sqlite_url, cards):
    store = open_store(sqlite_url)
    gw = Gateway(seed.app_id, seed.app_secret, sandbox.url, timeout=0.3, max_attempts=2, sleep=lambda s: None)
    sandbox.inject("/im/v1/messages", "timeout", count=2, delay=0.6)
    pm = seed.users["pm"]
    out = Sender(gw, store, cards).dispatch("p1", "P", [notice("gate", "t1", [pm])], NOW, POLICY)
    assert [o.status for o in out] == ["pending"]
    [r] = rows(store)
    assert r.attempts == 1 and r.error_code == ConnectionFailed("x").code
    out = Sender(gw, store, cards).dispatch("p1", "P", [], NOW + timedelta(minutes=30), POLICY)
    assert [o.status for o in out] == ["sent"] and len(delivered(sandbox)) == 1
    store.dispose()


def test_transient_failures_give_up_after_max_attempts(sandbox, seed, gateway, store, cards):
    pm = seed.users["pm"]
    sender = Sender(gateway, store, cards, max_attempts=3)
    sandbox.inject("/im/v1/messages", "5xx", count=100)
    n = notice("gate", "g3", [pm])
    statuses = [sender.dispatch("p1", "P", [n], NOW + timedelta(minutes=30 * i), POLICY)[0].status
                for i in range(3)]
    assert statuses == ["pending", "pending", "failed"]
    [r] = rows(store)
    assert r.status == "failed" and not r.permanent and r.attempts == 3
    with store.session() as s:
        assert [u.key for u in ledger.undelivered(s, "p1", NOW)] == [n.key]
    posts = len(send_posts(sandbox))
    sandbox.clear_faults()
    out = sender.dispatch("p1", "P", [n], NOW + timedelta(hours=3), POLICY)
    assert [o.status for o in out] == ["skipped"] and len(send_posts(sandbox)) == posts


def test_permanent_rejection_is_recorded_listed_and_never_retried(sandbox, seed, gateway, store, cards):
    pm, wang = seed.users["pm"], seed.users["王芳"]
    sandbox.world.users[wang].stopped_bot = True  # 230053
    sender = Sender(gateway, store, cards)
    out = sender.dispatch("p1", "P", [notice("escalation", "rec3", [pm, wang], level=1)], NOW, POLICY)
    by = {o.recipient: o for o in out}
    assert by[pm].status == "sent"
    assert by[wang].status == "failed" and "230053" in by[wang].why and by[wang].why.startswith("未送达")
    posts = len(send_posts(sandbox))
    assert posts == 2  # a SendRejected is not retried inside the gateway either

    out = sender.dispatch("p1", "P", [notice("escalation", "rec3", [pm, wang], level=1)],
                          NOW + timedelta(hours=1), POLICY)
    assert {o.status for o in out} == {"skipped"} and len(send_posts(sandbox)) == posts
    with store.session() as s:
        lost = ledger.undelivered(s, "p1", NOW - timedelta(days=7))
        assert [(r.recipient, r.error_code, r.permanent) for r in lost] == [(wang, 230053, True)]
        assert ledger.undelivered(s, "p1", NOW + timedelta(minutes=1)) == []
        assert ledger.undelivered(s, "p2", NOW - timedelta(days=7)) == []
        assert ledger.counts(s, "p1") == {"sent": 1, "failed": 1}


def test_quiet_hours_queue_then_send_once_in_the_window(sandbox, seed, gateway, store, cards):
    pm = seed.users["pm"]
    sender = Sender(gateway, store, cards)
    night = at(2026, 11, 24, 23, 0)
    out = sender.dispatch("p1", "P", sample(seed), night, POLICY)
    assert {o.status for o in out} == {"queued"} and "2026-11-25 08:30" in out[0].why
    assert send_posts(sandbox) == []
    assert {(r.status, r.not_before) for r in rows(store)} == {("queued", at(2026, 11, 25, 8, 30))}
    # the same notices again at night: still one queued row each
    out = sender.dispatch("p1", "P", sample(seed), night + timedelta(minutes=30), POLICY)
    assert {o.status for o in out} == {"queued"} and len(rows(store)) == 4
    assert sender.flush_queued(at(2026, 11, 25, 8, 0)) == []  # still before the window
    assert send_posts(sandbox) == []

    sent = sender.flush_queued(at(2026, 11, 25, 8, 30))
    assert sorted(o.status for o in sent) == ["sent"] * 4
    assert len(delivered(sandbox)) == 4
    assert sender.flush_queued(at(2026, 11, 25, 9, 0)) == []
    out = sender.dispatch("p1", "P", sample(seed), at(2026, 11, 25, 9, 0), POLICY)
    assert {o.status for o in out} == {"skipped"} and len(delivered(sandbox)) == 4
    assert {r.status for r in rows(store)} == {"sent"} and pm in {r.recipient for r in rows(store)}


def test_quiet_queue_is_sent_by_a_later_dispatch_too(sandbox, seed, gateway, store, cards):
    pm = seed.users["pm"]
    sender = Sender(gateway, store, cards)
    sender.dispatch("p1", "P", [notice("gate", "q1", [pm])], at(2026, 11, 28, 11, 0), POLICY)  # Saturday
    assert rows(store)[0].not_before == at(2026, 11, 30, 8, 30)  # Monday morning
    out = sender.dispatch("p1", "P", [], at(2026, 11, 30, 9, 0), POLICY)
    assert [o.status for o in out] == ["sent"] and len(delivered(sandbox)) == 1


def test_dry_run_sends_and_stores_nothing(sandbox, seed, gateway, store, cards):
    out = Sender(gateway, store, cards).dispatch("p1", "P", sample(seed), NOW, POLICY, dry_run=True)
    assert {o.status for o in out} == {"dry_run"} and len(out) == 4
    assert rows(store) == [] and send_posts(sandbox) == []


def test_a_lease_is_free_at_exactly_its_end_and_not_a_moment_before():
    """A crashed sender's lease runs out at `lease_until` (wall clock): from that instant it is free."""
    end = NOW + timedelta(minutes=5)
    row = NotificationRow(lease_until=end, lease_holder="")
    assert not ledger.lease_is_free(row, end - timedelta(seconds=1))
    assert ledger.lease_is_free(row, end)
    assert ledger.lease_is_free(NotificationRow(lease_until=None, lease_holder=""), NOW)

"""Escalation states, processed events, weekly snapshots, job runs — on SQLite and PostgreSQL."""
from __future__ import annotations

import threading
from datetime import timedelta

from gtm.schemas.decisions import EscalationState
from gtm.sync.store import ledger as st
from gtm.sync.store.open import open_store
from tests.support.notices import at


def test_escalation_states_round_trip_and_buttons(store):
    t0 = at(2026, 11, 24, 10)
    with store.session() as s:
        assert st.get_states(s, "p1") == {}
        n = st.save_states(s, "p1", [
            EscalationState(table="issue", record_id="rec1", level=1, since=t0 - timedelta(days=4)),
            EscalationState(table="task", record_id="rec2", level=2),
        ])
        assert n == 2
        st.save_states(s, "p2", [EscalationState(table="issue", record_id="rec1", level=5)])
    with store.session() as s:
        states = st.get_states(s, "p1")
        assert set(states) == {("issue", "rec1"), ("task", "rec2")}
        assert states[("issue", "rec1")].level == 1 and states[("issue", "rec1")].since == t0 - timedelta(days=4)
        assert st.get_states(s, "p2")[("issue", "rec1")].level == 5  # projects do not mix

        acked = st.ack(s, "p1", "issue", "rec1", t0 + timedelta(hours=24))
        assert acked.acked_until == t0 + timedelta(hours=24) and acked.level == 1
        snoozed = st.snooze(s, "p1", "issue", "rec3", t0 + timedelta(days=2))  # unknown record: created
        assert snoozed.snoozed_until == t0 + timedelta(days=2) and snoozed.level == 0
        assert st.resolve(s, "p1", "task", "rec2").resolved
    with store.session() as s:
        states = st.get_states(s, "p1")
        assert states[("issue", "rec1")].acked_until == t0 + timedelta(hours=24)
        assert states[("task", "rec2")].resolved and states[("task", "rec2")].level == 2
        assert set(states) == {("issue", "rec1"), ("task", "rec2"), ("issue", "rec3")}
        # saving a new decision overwrites the row; re-opening resets the level
        st.save_states(s, "p1", [EscalationState(table="issue", record_id="rec1", level=2,
                                                 acked_until=None)])
        reopened = st.resolve(s, "p1", "task", "rec2", resolved=False)
        assert not reopened.resolved and reopened.level == 0
    with store.session() as s:
        states = st.get_states(s, "p1")
        assert states[("issue", "rec1")].level == 2 and states[("issue", "rec1")].acked_until is None


def test_claim_event_first_time_only_across_sessions(store, store_url):
    with store.session() as a:
        assert st.claim_event(a, "ev-1", "p1") is True
    other = open_store(store_url)  # another process/replica
    try:
        with other.session() as b:
            assert st.claim_event(b, "ev-1", "p1") is False
            assert st.claim_event(b, "ev-2") is True
        with store.session() as a:
            assert st.claim_event(a, "ev-2") is False
        # a handler that failed rolls back its claim: the retried event is handled again
        try:
            with store.session() as a:
                assert st.claim_event(a, "ev-3") is True
                raise RuntimeError("handler failed")
        except RuntimeError:
            pass
        with other.session() as b:
            assert st.claim_event(b, "ev-3") is True
    finally:
        other.dispose()


def test_claim_event_race_has_one_winner(store, store_url):
    stores = [open_store(store_url) for _ in range(4)]
    barrier = threading.Barrier(len(stores))
    wins: list[bool] = []
    lock = threading.Lock()

    def claim(i: int) -> None:
        barrier.wait(10)
        with stores[i].session() as s:
            won = st.claim_event(s, "ev-race", "p1")
        with lock:
            wins.append(won)

    threads = [threading.Thread(target=claim, args=(i,)) for i in range(len(stores))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    for x in stores:
        x.dispose()
    assert sorted(wins) == [False, False, False, True]


def test_prune_events(store):
    with store.session() as s:
        st.claim_event(s, "old", now=at(2026, 11, 1))
        st.claim_event(s, "new", now=at(2026, 11, 24))
        assert st.prune_events(s, at(2026, 11, 20)) == 1
        assert st.claim_event(s, "old") is True and st.claim_event(s, "new") is False


def test_weekly_snapshots(store):
    assert st.week_label(at(2026, 11, 24)) == "2026-W48"
    assert st.week_label(at(2027, 1, 1)) == "2026-W53"
    with store.session() as s:
        assert st.get_previous(s, "p1", "2026-W48") is None
        st.save_snapshot(s, "p1", "2026-W46", {"rag": "green"}, at(2026, 11, 9, 9, 30))
        st.save_snapshot(s, "p1", "2026-W47", {"rag": "yellow"}, at(2026, 11, 16, 9, 30))
        st.save_snapshot(s, "p2", "2026-W47", {"rag": "red"}, at(2026, 11, 16, 9, 30))
        st.save_snapshot(s, "p1", "2026-W48", {"rag": "red"}, at(2026, 11, 23, 9, 30))
        # a re-run report replaces its week
        st.save_snapshot(s, "p1", "2026-W48", {"rag": "green", "open": 3}, at(2026, 11, 23, 10, 0))
    with store.session() as s:
        prev = st.get_previous(s, "p1", "2026-W48")
        assert prev is not None and prev.week == "2026-W47" and prev.summary == {"rag": "yellow"}
        assert st.get_previous(s, "p1", "2026-W49").summary == {"rag": "green", "open": 3}
        assert st.get_previous(s, "p1", "2026-W46") is None


def test_job_runs_and_system_problems(store):
    with store.session() as s:
        assert st.last_ok(s, "p1", "check") is None
        st.record_job_run(s, "p1", "check", at(2026, 11, 24, 9), at(2026, 11, 24, 9, 1), True)
        st.record_job_run(s, "p1", "check", at(2026, 11, 24, 9, 30), at(2026, 11, 24, 9, 31), False, "boom")
        st.record_job_run(s, "p2", "check", at(2026, 11, 24, 10), at(2026, 11, 24, 10, 1), True)
        st.add_system_problem(s, "p1", "job:check", "boom", now=at(2026, 11, 24, 9, 31))
    with store.session() as s:
        assert st.last_ok(s, "p1", "check") == at(2026, 11, 24, 9, 1)
        assert [r.ok for r in st.job_runs(s, "p1", "check")] == [False, True]
        assert [p.message for p in st.system_problems(s, "p1")] == ["boom"]
        assert st.system_problems(s, "p2") == []
        assert st.system_problems(s, "p1", since=at(2026, 11, 24, 10)) == []

"""Nothing grows without bound (issue #16.10): processed event ids are pruned on the nightly
schedule, and the per-record / per-message button locks are forgotten once released."""
from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone

from tests.support.runtime import make_runtime, open_test_store


def test_reconcile_job_prunes_old_event_ids(sandbox, seed, gateway, sqlite_url):
    from gtm.bot.service.jobs import reconcile_job
    from gtm.sync.store.ledger import ProcessedEventRow, claim_event

    store = open_test_store(sqlite_url)
    try:
        rt = make_runtime(sandbox, seed, gateway, store)
        now = datetime.now(timezone.utc)
        with store.session() as s:
            for i in range(50):
                claim_event(s, f"old-{i}", now=now - timedelta(days=10))
            claim_event(s, "fresh", now=now - timedelta(hours=1))
        from gtm.sync.binding import BaseBinding
        from gtm.sync.provision import register_project

        with store.session() as s:  # an archived project: its re-read is skipped, the prune runs
            register_project(s, "alpha", "Alpha", "gtm", BaseBinding(slug="alpha", app_token="basX")).active = False
        reconcile_job(rt, "alpha", now)
        with store.session() as s:
            assert [r.event_id for r in s.query(ProcessedEventRow)] == ["fresh"]
    finally:
        store.dispose()


def test_button_locks_are_forgotten_when_released():
    from gtm.bot.chat import actions

    for i in range(1000):
        with actions._record_locks.hold(("p", "task", f"rec{i}")):
            pass
        with actions._message_locks.hold(f"om_{i}"):
            pass
    assert len(actions._record_locks) == 0 and len(actions._message_locks) == 0


def test_keyed_lock_still_excludes_while_held():
    from gtm.bot.chat.keyed_locks import KeyedLocks

    locks = KeyedLocks()
    inside, seen = threading.Event(), []
    release = threading.Event()

    def first() -> None:
        with locks.hold("k"):
            inside.set()
            release.wait(5)
            seen.append("first")

    def second() -> None:
        inside.wait(5)
        with locks.hold("k"):
            seen.append("second")

    a, b = threading.Thread(target=first), threading.Thread(target=second)
    a.start()
    b.start()
    inside.wait(5)
    assert len(locks) == 1
    release.set()
    a.join(5)
    b.join(5)
    assert seen == ["first", "second"] and len(locks) == 0

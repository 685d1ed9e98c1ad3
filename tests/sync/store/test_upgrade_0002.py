"""A store made by the previous release (revision 0001) upgrades in place to the leases/claims shape."""
from __future__ import annotations

from datetime import datetime, timezone

from alembic import command
from sqlalchemy import text

from gtm.sync.store.base import make_engine
from gtm.sync.store.open import alembic_config, current_revision, head_revision, open_store


def test_0001_store_upgrades_and_keeps_its_rows(store_url):
    cfg = alembic_config(store_url)
    command.upgrade(cfg, "0001_initial")
    eng = make_engine(store_url)
    at = datetime(2026, 11, 2, 2, 0, tzinfo=timezone.utc).replace(tzinfo=None)
    with eng.begin() as c:
        c.execute(text("DELETE FROM processed_events"))
        c.execute(text("INSERT INTO processed_events (event_id, project, received_at) VALUES ('ev-old', '', :at)"),
                  {"at": at})
    eng.dispose()
    store = open_store(store_url)
    try:
        assert current_revision(store.engine) == head_revision()
        from gtm.sync.store.ledger import ProcessedEventRow, claim_event

        with store.session() as s:
            row = s.get(ProcessedEventRow, "ev-old")
            assert row.status == "done" and row.holder == "" and row.lease_until is None
            assert claim_event(s, "ev-old", lease_seconds=60) is False  # answered before the upgrade
    finally:
        store.dispose()

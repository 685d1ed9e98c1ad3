"""The migrations create exactly what the models declare (drift fails here), on both backends."""
from __future__ import annotations

import threading

from sqlalchemy import inspect

from gtm.sync.store.migrate import current_revision, head_revision, schema_drift
from gtm.sync.store.open import load_models, open_store, sqlite_path
from tests.support.concurrency import run_together


def test_migrated_schema_matches_the_models(store):
    assert current_revision(store.engine) == head_revision()
    drift = schema_drift(store.engine)
    assert drift == [], f"models and migrations differ; regenerate with `python -m gtm.sync.store.migrate MSG`: {drift}"
    tables = set(inspect(store.engine).get_table_names())
    assert set(load_models().tables) <= tables
    assert {"projects", "notifications", "escalation_states", "processed_events", "weekly_snapshots",
            "job_runs", "system_problems", "alembic_version"} <= tables


def test_open_store_is_idempotent(store_url):
    first = open_store(store_url)
    first.dispose()
    second = open_store(store_url)
    assert current_revision(second.engine) == head_revision()
    second.dispose()


def test_two_processes_migrating_a_fresh_database_at_once(store_url):
    """Replicas starting together: the migration lock lets one upgrade and the other see head."""
    barrier = threading.Barrier(3)

    def start(_: int) -> None:
        barrier.wait(10)
        open_store(store_url).dispose()

    errors = run_together(start, 3)
    assert errors == []
    check = open_store(store_url, migrate=False)
    assert current_revision(check.engine) == head_revision()
    check.dispose()


def test_open_store_refuses_a_missing_sqlite_folder(tmp_path):
    """A typo in GTM_DATABASE_URL must not silently create a new empty database somewhere."""
    import pytest

    from gtm.sync.store.open import StoreOpenError

    url = f"sqlite:///{tmp_path / 'nested' / 'dir' / 'gtm.db'}"
    with pytest.raises(StoreOpenError, match="does not exist"):
        open_store(url)
    assert not (tmp_path / "nested").exists()
    (tmp_path / "nested" / "dir").mkdir(parents=True)
    store = open_store(url)
    assert sqlite_path(url).exists()
    store.dispose()
    assert sqlite_path("sqlite://") is None and sqlite_path("postgresql://x/y") is None

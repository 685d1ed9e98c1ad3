"""Sync-suite fixtures: a real SQLite store with the mirror tables, the same on the real
PostgreSQL in a schema of its own, a pinned sandbox clock."""
from __future__ import annotations

import uuid
from datetime import datetime

import pytest
from sqlalchemy import text

from gtm.sync.store.base import Base, Store, make_engine
from gtm.sync.store.mirror import MirrorRecord, MirrorTable
from tests.support.sync_bases import T0, ms

@pytest.fixture
def store(sqlite_url):
    st = Store(make_engine(sqlite_url))
    Base.metadata.create_all(st.engine)  # the mirror tables are registered by the import above
    yield st
    st.dispose()


@pytest.fixture
def pg_store(pg_url):
    """A store with the mirror tables on the real PostgreSQL, in a schema of its own (dropped
    afterwards)."""
    schema = f"sync_test_{uuid.uuid4().hex[:8]}"
    admin = make_engine(pg_url)
    with admin.begin() as c:
        c.execute(text(f'CREATE SCHEMA "{schema}"'))
    st = Store(make_engine(pg_url, connect_args={"options": f"-csearch_path={schema}"}))
    try:
        Base.metadata.create_all(st.engine, tables=[MirrorRecord.__table__, MirrorTable.__table__])
        yield st
    finally:
        st.dispose()
        with admin.begin() as c:
            c.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture
def sb_clock(sandbox):
    """Pin the sandbox's clock (records' modified times) and move it explicitly."""
    class Clock:
        def set(self, when: datetime) -> None:
            sandbox.bitable.fixed_now_ms = ms(when)
    c = Clock()
    c.set(T0)
    yield c
    sandbox.bitable.fixed_now_ms = None

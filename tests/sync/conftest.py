"""Sync-suite fixtures: a real SQLite store with the mirror tables, a pinned sandbox clock."""
from __future__ import annotations

from datetime import datetime

import pytest

from gtm.sync.store.base import Base, Store, make_engine
from tests.support.sync_bases import T0, ms

@pytest.fixture
def store(sqlite_url):
    st = Store(make_engine(sqlite_url))
    import gtm.sync.store.mirror  # noqa: F401 - register the mirror tables on Base.metadata
    Base.metadata.create_all(st.engine)
    yield st
    st.dispose()


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

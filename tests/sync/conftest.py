"""Sync-suite fixtures: a real SQLite store with the mirror tables; the real PostgreSQL (one
database per run, a fresh schema per test) and the same store on it; a pinned sandbox clock."""
from __future__ import annotations

import uuid
from datetime import datetime

import pytest

from gtm.sync.store.base import Base, Store, make_engine
from gtm.sync.store.mirror import MirrorChange, MirrorRecord, MirrorTable
from tests.support.sync_bases import T0, ms

@pytest.fixture
def store(sqlite_url):
    st = Store(make_engine(sqlite_url))
    Base.metadata.create_all(st.engine)  # the mirror tables are registered by the import above
    yield st
    st.dispose()


def _admin_dsn(pg_url: str) -> str:
    from sqlalchemy.engine import make_url

    u = make_url(pg_url.replace("postgresql+psycopg://", "postgresql://"))
    return u.set(drivername="postgresql").render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def pg_run_db():
    """One uniquely named database for this test run on the real PostgreSQL, dropped at the end.

    (CREATE DATABASE forces a checkpoint: too slow per test. Tests get a fresh schema in it.)
    """
    import os

    import psycopg
    from sqlalchemy.engine import make_url

    pg_url = os.environ.get("GTM_TEST_DATABASE_URL", "")
    if not pg_url:
        pytest.skip("GTM_TEST_DATABASE_URL is not set (a real PostgreSQL is needed)")
    admin = _admin_dsn(pg_url)
    name = f"gtm_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield make_url(admin).set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def pg_db_url(pg_run_db: str):
    """A fresh schema per test (via search_path in the URL): migrations start from nothing."""
    import psycopg

    schema = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(pg_run_db, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    try:
        yield f"{pg_run_db}?options=-csearch_path%3D{schema}"
    finally:
        with psycopg.connect(pg_run_db, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


@pytest.fixture
def pg_store(pg_db_url):
    """A store with the mirror tables on the real PostgreSQL, in a schema of its own."""
    st = Store(make_engine(pg_db_url))
    try:
        Base.metadata.create_all(st.engine, tables=[MirrorRecord.__table__, MirrorTable.__table__, MirrorChange.__table__])
        yield st
    finally:
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

"""Store fixtures: a migrated store on a real SQLite file and (when available) a fresh PostgreSQL
database per test, plus a tiny card factory so ledger tests do not depend on the real cards."""
from __future__ import annotations

import uuid

import pytest

from gtm.schemas.decisions import Notice


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


@pytest.fixture(params=["sqlite", "postgres"])
def store_url(request, sqlite_url: str) -> str:
    if request.param == "sqlite":
        return sqlite_url
    return request.getfixturevalue("pg_db_url")


@pytest.fixture
def store(store_url: str):
    from gtm.sync.store.open import open_store

    st = open_store(store_url)
    yield st
    st.dispose()


class TinyCards:
    """The smallest valid card JSON 2.0 for each message; records what it was asked to build."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, list[str]]] = []

    @staticmethod
    def _card(title: str, lines: list[str]) -> dict:
        return {"schema": "2.0", "header": {"title": {"tag": "plain_text", "content": title}},
                "body": {"elements": [{"tag": "markdown", "content": "\n".join(lines) or "-"}]}}

    def digest(self, project_name: str, recipient: str, notices: list[Notice], locale: str) -> dict:
        self.calls.append(("digest", [n.key for n in notices]))
        return self._card(f"{project_name} 每日提醒", [n.title for n in notices])

    def single(self, project_name: str, notice: Notice, locale: str) -> dict:
        self.calls.append(("single", [notice.key]))
        return self._card(f"{project_name} {notice.title}", [notice.text])


@pytest.fixture
def cards() -> TinyCards:
    return TinyCards()

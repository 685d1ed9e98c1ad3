"""Store fixtures: a migrated store on a real SQLite file and (when available) on the real
PostgreSQL, in a fresh schema per test (`pg_db_url`, tests/sync/conftest.py), plus a tiny card
factory so ledger tests do not depend on the real cards."""
from __future__ import annotations

import pytest

from gtm.schemas.decisions import Notice


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

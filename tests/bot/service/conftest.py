"""Serve/doctor fixtures: an Runtime on the sandbox with a real SQLite store."""
from __future__ import annotations

import pytest

from tests.support.runtime import make_settings


@pytest.fixture
def make_app(sandbox, seed, sqlite_url):
    """Build AppContexts like `open_runtime` does, but on the test's sandbox and SQLite file."""
    from gtm.bot.runtime import Runtime
    from gtm.sync.feishu.gateway import gateway_from_settings
    from gtm.sync.store.open import open_store

    made = []

    def build(**kw) -> Runtime:
        settings = make_settings(sandbox, seed, kw.pop("database_url", sqlite_url), **kw)
        store = open_store(settings.database_url)
        app = Runtime(settings, store, gateway_from_settings(settings, sleep=lambda s: None))
        app._closers = [store.dispose]
        made.append(app)
        return app

    yield build
    for app in made:
        app.close()


@pytest.fixture
def app_ctx(make_app):
    return make_app()

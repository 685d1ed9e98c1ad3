"""The product running on the sandbox: a store, settings, a Runtime and the bot on its long connection."""
from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from gtm.bot.chat.dispatcher import Dispatcher
from gtm.bot.chat.transports.longconn import LongConnection
from gtm.bot.runtime import Runtime
from gtm.sandbox import Sandbox
from gtm.sandbox.seed import SeedInfo
from gtm.schemas.settings import Settings
from gtm.sync.feishu.gateway import Gateway
from gtm.sync.store.base import Store
from gtm.sync.store.open import load_models, open_store


def open_test_store(url: str) -> Store:
    """A store on `url` with every model table (create_all: alembic's 4 s per test is for tests/sync/store)."""
    store = open_store(url, migrate=False)
    load_models().create_all(store.engine)
    return store


def make_runtime(sandbox: Sandbox, seed: SeedInfo, gateway: Gateway, store: Store) -> Runtime:
    """A Runtime on the sandbox and `store` (the one the dispatcher and the jobs use)."""
    settings = Settings(_env_file=None, feishu_app_id=seed.app_id, feishu_app_secret=seed.app_secret,
                        feishu_domain=sandbox.url, database_url=str(store.engine.url))
    return Runtime(settings, store, gateway, sandbox=sandbox)


def make_settings(sandbox: Sandbox, seed: SeedInfo, database_url: str, **kw: Any) -> Settings:
    """Settings for `serve`/`doctor` on the sandbox: port 0, short leader retry and timeouts."""
    values = dict(feishu_app_id=seed.app_id, feishu_app_secret=SecretStr(seed.app_secret),
                  feishu_domain=sandbox.url, database_url=database_url, chat_id=seed.chat_id,
                  http_port=0, leader_retry_seconds=0.2, request_timeout_seconds=3)
    values.update(kw)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


def cli_env(sandbox: Sandbox, seed: SeedInfo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The environment for `gtm ARGS` in-process on the sandbox: no GTM_* of the caller's, `tmp_path` as the
    working folder (no stray .env / gtm.toml) and its own SQLite file there."""
    for k in list(os.environ):
        if k.startswith("GTM_"):
            monkeypatch.delenv(k)
    monkeypatch.chdir(tmp_path)
    return {"GTM_FEISHU_DOMAIN": sandbox.url, "GTM_FEISHU_APP_ID": seed.app_id,
            "GTM_FEISHU_APP_SECRET": seed.app_secret, "GTM_DATABASE_URL": f"sqlite:///{tmp_path / 'gtm.db'}"}


@contextmanager
def running_bot(sandbox: Sandbox, seed: SeedInfo, dispatcher: Dispatcher) -> Iterator[Dispatcher]:
    """The dispatcher connected over the real long connection for the duration of a test."""
    conn = LongConnection(seed.app_id, seed.app_secret, dispatcher.dispatch, domain=sandbox.url,
                          bot_open_id=dispatcher.bot_open_id).start(wait=10)
    try:
        yield dispatcher
    finally:
        conn.stop()
        dispatcher.close()

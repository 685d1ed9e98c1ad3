"""The product running on the sandbox: a store, settings, a Runtime and the bot on its long connection."""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from pydantic import SecretStr

from gtm.bot.chat.transports.longconn import LongConnection
from gtm.bot.runtime import Runtime
from gtm.schemas.settings import Settings
from gtm.sync.store.open import load_models, open_store


def open_test_store(url: str):
    """A store on `url` with every model table (create_all: alembic's 4 s per test is for tests/sync/store)."""
    store = open_store(url, migrate=False)
    load_models().create_all(store.engine)
    return store


def make_runtime(sandbox: Any, seed: Any, gateway: Any, store: Any) -> Runtime:
    """A Runtime on the sandbox and `store` (the one the dispatcher and the jobs use)."""
    settings = Settings(_env_file=None, feishu_app_id=seed.app_id, feishu_app_secret=seed.app_secret,
                        feishu_domain=sandbox.url, database_url=str(store.engine.url))
    return Runtime(settings, store, gateway, sandbox=sandbox)


def make_settings(sandbox: Any, seed: Any, database_url: str, **kw: Any) -> Settings:
    """Settings for `serve`/`doctor` on the sandbox: port 0, short leader retry and timeouts."""
    values = dict(feishu_app_id=seed.app_id, feishu_app_secret=SecretStr(seed.app_secret),
                  feishu_domain=sandbox.url, database_url=database_url, chat_id=seed.chat_id,
                  http_port=0, leader_retry_seconds=0.2, request_timeout_seconds=3)
    values.update(kw)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


@contextmanager
def running_bot(sandbox: Any, seed: Any, dispatcher: Any) -> Iterator[Any]:
    """The dispatcher connected over the real long connection for the duration of a test."""
    conn = LongConnection(seed.app_id, seed.app_secret, dispatcher.dispatch, domain=sandbox.url,
                          bot_open_id=dispatcher.bot_open_id).start(wait=10)
    try:
        yield dispatcher
    finally:
        conn.stop()
        dispatcher.close()

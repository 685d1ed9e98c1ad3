"""GTM_BASE_TOKEN / GTM_CHAT_ID: the one-project shortcut registers an existing Base, read-only."""
from __future__ import annotations

from datetime import date

from gtm.schemas.tables import tables_for
from gtm.sync.feishu.gateway import Gateway
from gtm.sync.feishu.ratelimit import DEFAULT_RATES
from gtm.sync.provision import provision
from tests.support.runtime import make_runtime, open_test_store


def test_configured_base_becomes_the_default_project(sandbox, seed, sqlite_url):
    fast = Gateway(seed.app_id, seed.app_secret, sandbox.url, timeout=5, sleep=lambda s: None,
                   rates={k: v * 1000 for k, v in DEFAULT_RATES.items()})
    made = provision(fast, name="已有的计划", template="gtm", start=date(2026, 11, 2), slug="x")
    store = open_test_store(sqlite_url)
    runtime = make_runtime(sandbox, seed, fast, store)
    runtime.settings = runtime.settings.model_copy(update={"base_token": made.binding.app_token,
                                                           "chat_id": seed.chat_id})
    mark = sandbox.journal.mark()
    project = runtime.project()  # no --project, nothing registered: the configured Base is adopted
    assert project.slug == "default" and project.chat_ids == [seed.chat_id]
    assert project.binding.app_token == made.binding.app_token
    assert project.binding.table_ids == made.binding.table_ids and set(project.binding.table_ids) == set(tables_for("gtm").keys())
    assert not [e for e in sandbox.journal.since(mark) if e["write"]], "adopting must not write to the Base"
    assert runtime.project_for_chat(seed.chat_id).slug == "default"
    store.dispose()

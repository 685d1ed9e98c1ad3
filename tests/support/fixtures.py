"""The fixtures every folder shares (registered by tests/conftest.py through `pytest_plugins`).

- `sandbox_config` → `sandbox` (a started, seeded `gtm.sandbox` on a free port) → `seed`;
- `gateway` (the product gateway on it) and `lark_client` (a bare lark-oapi client);
- `sqlite_url` (a real SQLite file in tmp_path) and `pg_url` (the real PostgreSQL, or a skip).

Every test that talks to "Feishu" goes through lark-oapi over HTTP to `gtm.sandbox`.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

import lark_oapi as lark
import pytest
from lark_oapi.core.cache import LocalCache

from gtm.sandbox import SandboxConfig
from gtm.sandbox.seed import SeedInfo
from tests.support.sandboxes import sandbox_gateway, seeded_sandbox


@pytest.fixture(autouse=True)
def _restore_sdk_ws_loop():
    """lark-oapi's ws client keeps one module-global event loop; a test that points it elsewhere
    must not leak that (often closed) loop into the next test."""
    mod = sys.modules.get("lark_oapi.ws.client")
    saved = getattr(mod, "loop", None)
    yield
    if mod is not None and sys.modules.get("lark_oapi.ws.client") is mod and mod.loop is not saved:
        mod.loop = saved


@pytest.fixture
def sandbox_config() -> SandboxConfig:
    """Override in a test module to switch realism on (rate limits, latency, batch limit …)."""
    return SandboxConfig()


@pytest.fixture
def sandbox(sandbox_config: SandboxConfig):
    with seeded_sandbox(sandbox_config) as sb:
        yield sb


@pytest.fixture
def seed(sandbox) -> SeedInfo:
    return sandbox.seed


@pytest.fixture
def gateway(sandbox, seed):
    """A product gateway (real lark-oapi client) pointed at the sandbox; no sleeping on retries."""
    return sandbox_gateway(sandbox)


@pytest.fixture
def lark_client(sandbox, seed):
    # A fresh token cache per test: the SDK's default cache is process-global, keyed by app id.
    return (lark.Client.builder().app_id(seed.app_id).app_secret(seed.app_secret)
            .domain(sandbox.url).timeout(5).log_level(lark.LogLevel.ERROR)
            .cache(LocalCache()).build())


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'gtm-test.db'}"


@pytest.fixture
def pg_url() -> str:
    """The real local PostgreSQL (set by .ci/run); without it the tests skip (a failure when CI is set)."""
    url = os.environ.get("GTM_TEST_DATABASE_URL", "")
    if not url:
        pytest.skip("GTM_TEST_DATABASE_URL is not set (a real PostgreSQL is needed)")
    return url

"""Shared fixtures: a real sandbox on a free port, a real SDK gateway, a real SQLite store.

Every test that talks to "Feishu" goes through lark-oapi over HTTP to `gtm.sandbox`.
"""
from __future__ import annotations

import os
import sys
import warnings
from pathlib import Path

import pytest

warnings.filterwarnings("ignore", message="Module gtm was already imported")

from ci_policy import pytest_runtest_makereport  # noqa: E402,F401 - CI: a skip is a failure
from gtm.sandbox import Sandbox, SandboxConfig  # noqa: E402
from gtm.sandbox.seed import SeedInfo, seed_default  # noqa: E402


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
    sb = Sandbox(sandbox_config)
    sb.seed = seed_default(sb.world)  # type: ignore[attr-defined]
    sb.start()
    yield sb
    sb.stop()


@pytest.fixture
def seed(sandbox) -> SeedInfo:
    return sandbox.seed


@pytest.fixture
def gateway(sandbox, seed):
    """A product gateway (real lark-oapi client) pointed at the sandbox; no sleeping on retries."""
    from gtm.sync.feishu.gateway import Gateway

    return Gateway(seed.app_id, seed.app_secret, sandbox.url, timeout=5, sleep=lambda s: None)


@pytest.fixture
def lark_client(sandbox, seed):
    import lark_oapi as lark
    from lark_oapi.core.cache import LocalCache

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


# Property tests explore new inputs on every developer run; CI replays a fixed set (no flaky CI).
from hypothesis import settings as _hyp_settings  # noqa: E402

_hyp_settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    _hyp_settings.load_profile("ci")

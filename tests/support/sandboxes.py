"""Starting the embedded sandbox and pointing the product gateway at it.

The `sandbox`/`seed`/`gateway` fixtures (tests/support/fixtures.py) start one per test; a
module- or session-scoped "provision once, copy per test" fixture starts its own with
`seeded_sandbox()`.
"""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from gtm.sandbox import Sandbox, SandboxConfig
from gtm.sandbox.seed import seed_default
from gtm.sync.feishu.gateway import Gateway
from gtm.sync.feishu.ratelimit import DEFAULT_PER_MINUTE, DEFAULT_RATES


@contextmanager
def seeded_sandbox(config: SandboxConfig | None = None) -> Iterator[Sandbox]:
    """A started sandbox on a free port with the default seed (as `sandbox.seed`); stopped after."""
    sb = Sandbox(config or SandboxConfig())
    sb.seed = seed_default(sb.world)  # type: ignore[attr-defined]
    sb.start()
    try:
        yield sb
    finally:
        sb.stop()


def sandbox_gateway(sandbox: Sandbox, **kw: Any) -> Gateway:
    """The product gateway (real lark-oapi client) on the sandbox; no sleeping on retries."""
    seed = sandbox.seed  # type: ignore[attr-defined]
    return Gateway(seed.app_id, seed.app_secret, sandbox.url, timeout=5, sleep=lambda s: None, **kw)


def fast_gateway(sandbox: Sandbox) -> Gateway:
    """The gateway without the client-side rate limiter (the sandbox has no limits by default;
    10 schema writes/s would make provisioning a Base take seconds per test)."""
    return sandbox_gateway(sandbox, rates={}, per_minute={})


def roomy_gateway(sandbox: Sandbox) -> Gateway:
    """The gateway with every documented rate raised 1000-fold (the limiter still runs)."""
    return sandbox_gateway(sandbox, rates={k: v * 1000 for k, v in DEFAULT_RATES.items()},
                           per_minute={k: v * 1000 for k, v in DEFAULT_PER_MINUTE.items()})


def open_rate_limits(monkeypatch: pytest.MonkeyPatch) -> None:
    """Raise every documented rate 1000-fold for gateways the product builds itself (the CLI,
    `open_runtime`) for the rest of the test."""
    for k, v in list(DEFAULT_RATES.items()):
        monkeypatch.setitem(DEFAULT_RATES, k, v * 1000)
    for k, n in list(DEFAULT_PER_MINUTE.items()):
        monkeypatch.setitem(DEFAULT_PER_MINUTE, k, n * 1000)

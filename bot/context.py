"""Builds the process context: settings → store → gateway (real Feishu or the embedded sandbox).

Without Feishu credentials the CLI runs on an embedded sandbox whose data persists in
`.gtm/sandbox-state.json`, so `gtm init` then `gtm check` work across invocations with no
account. With GTM_FEISHU_APP_ID/SECRET set, everything goes to the configured Feishu domain.
"""
from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from pydantic import SecretStr

from gtm.schemas.settings import Settings, load_settings
from gtm.sync.feishu.gateway import Gateway, gateway_from_settings
from gtm.sync.feishu.ratelimit_shared import shared_limiter_for
from gtm.sync.store.base import Store

log = logging.getLogger(__name__)

LOCAL_DIR = Path(os.environ.get("GTM_LOCAL_DIR", ".gtm"))


def open_database(url: str) -> Store:
    """The store at `url`, migrated to the latest schema."""
    from gtm.sync.store.open import open_store

    return open_store(url)


@dataclass
class AppContext:
    settings: Settings
    store: Store
    gateway: Gateway
    sandbox: Any = None  # the embedded sandbox, when running without credentials
    seed: Any = None
    _closers: list = field(default_factory=list)

    @property
    def embedded(self) -> bool:
        return self.sandbox is not None

    @property
    def runtime(self):
        from gtm.bot.runtime import Runtime

        if not hasattr(self, "_runtime"):
            self._runtime = Runtime(self.settings, self.store, self.gateway, sandbox=self.sandbox)
        return self._runtime

    def close(self) -> None:
        for fn in reversed(self._closers):
            try:
                fn()
            except Exception:  # closing must not mask the command's own error
                log.exception("error while closing")
        self._closers.clear()


def start_embedded_sandbox(state_file: Path | None, port: int = 0):
    """Start the in-process sandbox (seeded demo tenant); returns (sandbox, seed info)."""
    from gtm.sandbox import Sandbox
    from gtm.sandbox.seed import seed_default

    sb = Sandbox(state_file=str(state_file) if state_file else None)
    seed = seed_default(sb.world)
    sb.start(port=port)
    return sb, seed


def embedded_notice() -> str:
    """The one stderr line a one-shot command prints when it falls back to the embedded sandbox."""
    return (f"gtm: 未配置飞书凭证，使用内置本地沙箱（数据在 {LOCAL_DIR}/）· no Feishu credentials: "
            f"using the embedded local sandbox (data in {LOCAL_DIR}/); set GTM_FEISHU_APP_ID/"
            f"GTM_FEISHU_APP_SECRET for a real tenant")


def open_context(settings: Settings | None = None, *, embedded_state: Path | None = None,
                 announce: Callable[[str], None] | None = None) -> AppContext:
    """Settings from the environment; the embedded sandbox when no credentials are configured.

    `announce` receives `embedded_notice()` when the sandbox is used without being asked for
    (GTM_SANDBOX unset): the CLI prints it on stderr.
    """
    settings = settings or load_settings()
    closers: list = []
    sandbox = seed = None
    if not settings.has_credentials:
        if announce is not None and not settings.sandbox:
            announce(embedded_notice())
        LOCAL_DIR.mkdir(parents=True, exist_ok=True)
        sandbox, seed = start_embedded_sandbox(embedded_state or LOCAL_DIR / "sandbox-state.json")
        closers.append(sandbox.stop)
        updates: dict[str, Any] = {"feishu_app_id": seed.app_id, "feishu_app_secret": SecretStr(seed.app_secret),
                                   "feishu_domain": sandbox.url}
        if "GTM_DATABASE_URL" not in os.environ and settings.database_url == Settings.model_fields["database_url"].default:
            updates["database_url"] = f"sqlite:///{LOCAL_DIR / 'gtm.db'}"
        if not settings.chat_id:
            updates["chat_id"] = seed.chat_id
        settings = settings.model_copy(update=updates)
    try:
        store = open_database(settings.database_url)
    except Exception:
        for fn in reversed(closers):  # the embedded sandbox started above must not outlive us
            fn()
        raise
    closers.append(store.dispose)
    gateway = gateway_from_settings(settings)
    shared = shared_limiter_for(store.engine, settings.feishu_app_id)
    if shared is not None:  # replicas on one PostgreSQL share Feishu's per-app budget
        gateway.limiter = shared
    ctx = AppContext(settings, store, gateway, sandbox, seed)
    ctx._closers = closers
    return ctx

"""The one runtime every room receives: settings, store, gateway, the projects served, and
(without Feishu credentials) the embedded sandbox.

Jobs, handlers, transports and CLI commands receive a `Runtime` (one typed context, as
python-telegram-bot's jobs do) instead of reaching for globals. Each project is a
`ProjectRuntime`: its registry row, its Base binding, its effective policy (process policy +
per-project overrides). Mirrors are kept one per project per process.

`open_runtime()` builds it from the environment: settings → store → gateway. Without Feishu
credentials the CLI runs on an embedded sandbox whose data persists in `.gtm/sandbox-state.json`,
so `gtm init` then `gtm check` work across invocations with no account. With
GTM_FEISHU_APP_ID/SECRET set, everything goes to the configured Feishu domain.
"""
from __future__ import annotations

import logging
import os
import threading
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Callable
from zoneinfo import ZoneInfo

from pydantic import SecretStr

from gtm.bot.failures import ProjectNotFound
from gtm.sandbox import Sandbox
from gtm.sandbox.seed import SeedInfo, seed_default
from gtm.schemas.settings import Policy, Settings, load_settings
from gtm.sync.binding import BaseBinding
from gtm.sync.feishu.gateway import Gateway, gateway_from_settings
from gtm.sync.mirror import Mirror
from gtm.sync.provision import register_project
from gtm.sync.provision_plan import plan_provision
from gtm.sync.feishu.ratelimit_shared import shared_limiter_for
from gtm.sync.store.base import Store
from gtm.sync.store.open import open_store
from gtm.sync.store.registry import ProjectRow, list_projects

log = logging.getLogger(__name__)

LOCAL_DIR = Path(os.environ.get("GTM_LOCAL_DIR", ".gtm"))


@dataclass
class ProjectRuntime:
    slug: str
    name: str
    template: str
    chat_ids: list[str]
    policy: Policy
    binding: BaseBinding
    active: bool = True

    @property
    def tz(self) -> ZoneInfo:
        return self.policy.tz


def effective_policy(settings: Settings, row: ProjectRow) -> Policy:
    """Process policy, then the project's timezone, then its overrides."""
    base = settings.effective_policy().model_dump()
    if row.timezone:
        base["timezone"] = row.timezone
    if row.template:
        base["template"] = row.template  # its report title, key date and money unit
    base.update(row.policy_overrides or {})
    return Policy.model_validate(base)


class Runtime:
    """Everything a job, handler or command needs. Thread-safe for the parts that are shared."""

    def __init__(self, settings: Settings, store: Store, gateway: Gateway, *, sandbox: Sandbox | None = None,
                 seed: SeedInfo | None = None) -> None:
        self.settings = settings
        self.store = store
        self.gateway = gateway
        self.sandbox = sandbox  # the embedded sandbox when running without Feishu credentials
        self.seed = seed  # what the embedded sandbox was seeded with (app, chat, people)
        self._lock = threading.Lock()
        self._mirrors: dict[str, Mirror] = {}
        self._adopted = False
        self._closers: list[Callable[[], None]] = []

    @property
    def embedded(self) -> bool:
        return self.sandbox is not None

    def close(self) -> None:
        """Stop what `open_runtime` started (the store's pool, the embedded sandbox), newest first."""
        for fn in reversed(self._closers):
            try:
                fn()
            except Exception:  # closing must not mask the command's own error
                log.exception("error while closing")
        self._closers.clear()

    # -- projects ------------------------------------------------------------------------
    def _to_runtime(self, row: ProjectRow) -> ProjectRuntime:
        return ProjectRuntime(slug=row.slug, name=row.name or row.slug, template=row.template,
                              chat_ids=list(row.chat_ids or []), policy=effective_policy(self.settings, row),
                              binding=BaseBinding.from_row(row), active=row.active)

    def projects(self, *, active_only: bool = True) -> list[ProjectRuntime]:
        self._adopt_configured_base()
        with self.store.session() as s:
            return [self._to_runtime(r) for r in list_projects(s, active_only=active_only)]

    def _adopt_configured_base(self) -> None:
        """The one-project shortcut: with GTM_BASE_TOKEN (and GTM_CHAT_ID) set and nothing
        registered yet, register that Base as project "default", finding its tables by name
        (read-only; `gtm init --base` is the way to also create what is missing)."""
        if self._adopted or not self.settings.base_token:
            return
        self._adopted = True
        with self.store.session() as s:
            if list_projects(s):
                return
        tz = self.settings.timezone
        plan = plan_provision(self.gateway, binding=BaseBinding(slug="default", app_token=self.settings.base_token,
                                                                timezone=tz),
                              start=datetime.now(self.settings.tz).date(), tz=tz, slug="default")
        with self.store.session() as s:
            register_project(s, "default", plan.name, "gtm", plan.binding,
                             [self.settings.chat_id] if self.settings.chat_id else [])

    def project(self, slug: str | None = None) -> ProjectRuntime:
        """One project: by slug, or the only one. A clear error lists the slugs otherwise."""
        projects = self.projects(active_only=False)
        if slug:
            for p in projects:
                if p.slug == slug:
                    return p
            raise ProjectNotFound(f"没有项目 {slug!r} / no project {slug!r}; 已有 / known: "
                                  + (", ".join(p.slug for p in projects) or "（无 / none — run `gtm init`）"))
        active = [p for p in projects if p.active]
        if len(active) == 1:
            return active[0]
        if not active:
            hint = (" (GTM_BASE_TOKEN 已设置：`gtm init` 会把它登记为项目 default / GTM_BASE_TOKEN is set: "
                    "`gtm init` adopts it as project 'default')") if self.settings.base_token else ""
            raise ProjectNotFound("还没有项目 / no project yet: run `gtm init --project SLUG` first" + hint)
        raise ProjectNotFound("有多个项目，请用 --project 指定 / several projects, pass --project: "
                              + ", ".join(p.slug for p in active))

    def project_for_chat(self, chat_id: str) -> ProjectRuntime | None:
        for p in self.projects():
            if chat_id in p.chat_ids:
                return p
        return None

    def mirror(self, project: ProjectRuntime) -> Mirror:
        """The project's mirror (one per project per process)."""
        with self._lock:
            m = self._mirrors.get(project.slug)
            if m is None or m.binding.app_token != project.binding.app_token:
                m = Mirror(self.store, self.gateway, project.binding)
                self._mirrors[project.slug] = m
            else:
                m.rebind(project.binding)  # renames followed / drift found by another run
            return m


def open_database(url: str) -> Store:
    """The store at `url`, migrated to the latest schema."""
    return open_store(url)


def start_embedded_sandbox(state_file: Path | None, port: int = 0) -> tuple[Sandbox, SeedInfo]:
    """Start the in-process sandbox (seeded demo tenant); returns (sandbox, seed info)."""
    sb = Sandbox(state_file=str(state_file) if state_file else None)
    seed = seed_default(sb.world)
    sb.start(port=port)
    return sb, seed


def embedded_notice() -> str:
    """The one stderr line a one-shot command prints when it falls back to the embedded sandbox."""
    return (f"gtm: 未配置飞书凭证，使用内置本地沙箱（数据在 {LOCAL_DIR}/）· no Feishu credentials: "
            f"using the embedded local sandbox (data in {LOCAL_DIR}/); set GTM_FEISHU_APP_ID/"
            f"GTM_FEISHU_APP_SECRET for a real tenant")


def open_runtime(settings: Settings | None = None, *, embedded_state: Path | None = None,
                 announce: Callable[[str], None] | None = None) -> Runtime:
    """Settings from the environment; the embedded sandbox when no credentials are configured.

    `announce` receives `embedded_notice()` when the sandbox is used without being asked for
    (GTM_SANDBOX unset): the CLI prints it on stderr.
    """
    settings = settings or load_settings()
    closers: list[Callable[[], None]] = []
    sandbox = seed = None
    if not settings.has_credentials:
        if announce is not None and not settings.sandbox:
            announce(embedded_notice())
        LOCAL_DIR.mkdir(parents=True, exist_ok=True)
        sandbox, seed = start_embedded_sandbox(embedded_state or LOCAL_DIR / "sandbox-state.json")
        closers.append(sandbox.stop)
        updates: dict[str, object] = {"feishu_app_id": seed.app_id, "feishu_app_secret": SecretStr(seed.app_secret),
                                   "feishu_domain": sandbox.url}
        if "GTM_DATABASE_URL" not in os.environ and settings.database_url == Settings.model_fields["database_url"].default:
            updates["database_url"] = f"sqlite:///{LOCAL_DIR / 'gtm.db'}"
        if not settings.chat_id:
            updates["chat_id"] = seed.chat_id
        settings = settings.model_copy(update=updates)
    try:
        store = open_database(settings.database_url)
    except Exception:  # closing what was opened, then re-raised
        for fn in reversed(closers):  # the embedded sandbox started above must not outlive us
            fn()
        raise
    closers.append(store.dispose)
    gateway = gateway_from_settings(settings)
    shared = shared_limiter_for(store.engine, settings.feishu_app_id)
    if shared is not None:  # replicas on one PostgreSQL share Feishu's per-app budget
        gateway.limiter = shared
    runtime = Runtime(settings, store, gateway, sandbox=sandbox, seed=seed)
    runtime._closers = closers
    return runtime

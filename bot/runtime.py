"""The running service's shared objects: settings, store, gateway and the projects it serves.

Jobs, handlers and transports receive a `Runtime` (one typed context, as python-telegram-bot's
jobs do) instead of reaching for globals. Each project is a `ProjectRuntime`: its registry row,
its Base binding, its effective policy (process policy + per-project overrides) and its mirror.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

from gtm.schemas.settings import Policy, Settings
from gtm.sync.binding import BaseBinding
from gtm.sync.feishu.gateway import Gateway
from gtm.sync.store.base import Store
from gtm.sync.store.registry import ProjectRow, list_projects


class ProjectNotFound(LookupError):
    """Names the slugs that exist so the user can pick one."""


@dataclass
class ProjectRuntime:
    slug: str
    name: str
    template: str
    chat_ids: list[str]
    policy: Policy
    binding: BaseBinding
    active: bool = True
    _mirror: Any = field(default=None, repr=False)

    @property
    def tz(self):
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
    """Everything a job or handler needs. Thread-safe for the parts that are shared."""

    def __init__(self, settings: Settings, store: Store, gateway: Gateway, *, sandbox: Any = None) -> None:
        self.settings = settings
        self.store = store
        self.gateway = gateway
        self.sandbox = sandbox  # the embedded sandbox when running without Feishu credentials
        self._lock = threading.Lock()
        self._mirrors: dict[str, Any] = {}
        self._adopted = False

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
        from datetime import datetime

        from gtm.sync.provision import plan_provision, register_project

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

    def mirror(self, project: ProjectRuntime):
        """The project's mirror (one per project per process)."""
        from gtm.sync.mirror import Mirror

        with self._lock:
            m = self._mirrors.get(project.slug)
            if m is None or m.binding.app_token != project.binding.app_token:
                m = Mirror(self.store, self.gateway, project.binding)
                self._mirrors[project.slug] = m
            else:
                m.rebind(project.binding)  # renames followed / drift found by another run
            return m

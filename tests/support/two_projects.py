"""Two real projects in one deployment (tests/e2e/test_multi_project.py).

`build_world` provisions the `gtm` template and the `sales` template into two Bases of the sandbox
(the real `gtm.sync.provision.provision`, through the real SDK), links each to its own group chat
and has the people type a plan with trouble into each (`act_create/act_update` with values from
the product codec, as `gtm demo` does). The Bases are then registered in a store with
`register_project` — `register` can do that again for a fresh store, so several tests share one
provisioned sandbox (≈2.5 s) while each has a ledger of its own.

Cast (seed people): 王芳 owns overdue tasks in both projects; 李娜 is 管理层 of both; 杨帆 is 管理层
of Beta only; 张伟 is Alpha's PM, 刘洋 is Beta's PM (and owns an overdue task in Alpha).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from gtm.schemas.plan import IssueStatus, Level3, MilestoneStatus, Person, TaskStatus
from gtm.sync.binding import BaseBinding
from gtm.sync.mirror import Mirror
from gtm.sync.provision import provision, register_project
from gtm.sync.store.registry import get_project
from tests.support.actors import typist  # people type into the Base the way the demo does
from tests.support.runtime import open_test_store
from tests.support.sandboxes import fast_gateway

SHANGHAI = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 11, 20, 10, 0, tzinfo=SHANGHAI)  # a Friday, working hours in both zones


@dataclass
class Proj:
    """One provisioned project: what the tests need to know about it."""

    slug: str
    name: str
    template: str
    timezone: str
    chat_id: str
    binding: BaseBinding
    pm: str
    management: list[str]
    own_tasks: dict[str, str] = field(default_factory=dict)  # task name -> owner open_id (created by us)
    overdue_milestone: str = ""


@dataclass
class World:
    sandbox: Any
    seed: Any
    gateway: Any
    alpha: Proj
    beta: Proj

    @property
    def projects(self) -> list[Proj]:
        return [self.alpha, self.beta]

    def register(self, store: Any) -> None:
        """Put both projects into `store`'s registry (idempotent)."""
        with store.session() as s:
            for p in self.projects:
                register_project(s, p.slug, p.name, p.template, p.binding, chat_ids=[p.chat_id])
                get_project(s, p.slug).timezone = p.timezone


def _provision(sandbox: Any, gateway: Any, *, slug: str, name: str, template: str, tz: str, start: date,
               pm: str, management: list[str]) -> BaseBinding:
    result = provision(gateway, name=name, template=template, start=start, tz=tz, slug=slug,
                       domain="sandbox.feishu.cn")
    b = result.binding
    for person in [pm, *management]:
        sandbox.bitable.add_member(b.app_token, "openid", person, "full_access" if person == pm else "view")
    return b


def _snapshot(sandbox: Any, gateway: Any, b: BaseBinding, now: datetime):
    """The Base as the product reads it (a throwaway mirror on an in-memory store)."""
    st = open_test_store("sqlite://")
    try:
        m = Mirror(st, gateway, b)
        m.refresh(now, full=True)
        return m.snapshot()
    finally:
        st.dispose()


def _type_plan(sandbox: Any, gateway: Any, p: Proj, chat_id: str, team: list[str],
               tasks: list[tuple[str, str, int, str]], issues: list[tuple[str, str, int, str]],
               now: datetime, late_milestone: bool) -> None:
    """People fill in the plan: roles, owners, our tasks (name, owner, due in days, status), issues
    (text, owner, open for days, severity) and, optionally, one milestone past its date."""
    snap = _snapshot(sandbox, gateway, p.binding, now)
    t = typist(sandbox, p.binding, p.pm)
    today = now.astimezone(p.binding.tz).date()
    P = lambda o: Person(open_id=o)  # noqa: E731
    t.update("project", snap.project.record_id, pm=P(p.pm), management=[P(m) for m in p.management],
             core_team=[P(x) for x in team], chat=[chat_id], budget=300000, spent=120000)
    ms = sorted(snap.milestones, key=lambda m: m.target_date or today)
    for i, m in enumerate(ms):
        t.update("milestone", m.record_id, owner=P(team[i % len(team)]))
    if late_milestone and ms:
        first = ms[0]
        t.update("milestone", first.record_id, status=MilestoneStatus.IN_PROGRESS.value,
                 target_date=today - timedelta(days=3))
        p.overdue_milestone = first.name
    link = [ms[1].record_id] if len(ms) > 1 else []
    for i, (name, owner, due, status) in enumerate(tasks):
        t.create("task", task_id=f"{p.slug.upper()}-{i + 1}", name=name, owner=P(owner), milestone=link,
                 planned_start=today + timedelta(days=due - 7), planned_end=today + timedelta(days=due),
                 status=status, progress=0.3)
        p.own_tasks[name] = owner
    for text, owner, days, severity in issues:
        t.create("issue", issue=text, owner=P(owner), raised_at=now - timedelta(days=days, hours=1),
                 severity=severity, status=IssueStatus.OPEN.value)


def build_world(sandbox: Any, seed: Any, now: datetime = NOW) -> World:
    """Provision and fill both projects; a second group chat (bot in it) for Beta."""
    gw = fast_gateway(sandbox)
    u = seed.users
    beta_chat = sandbox.control.create_chat(seed.tenant_key, "Beta 大客户项目群",
                                            [u["刘洋"], u["王芳"], u["陈静"], u["杨帆"], u["李娜"]],
                                            [seed.app_id])["chat_id"]
    today = now.astimezone(SHANGHAI).date()
    # the templates' own tasks and milestones start today: only what the people type is late
    alpha = Proj("alpha", "Alpha 新品发布", "gtm", "Asia/Shanghai", seed.chat_id,
                 _provision(sandbox, gw, slug="alpha", name="Alpha 新品发布", template="gtm", tz="Asia/Shanghai",
                            start=today, pm=u["张伟"], management=[u["李娜"]]),
                 pm=u["张伟"], management=[u["李娜"]])
    beta = Proj("beta", "Beta 大客户项目", "sales", "Asia/Tokyo", beta_chat,
                _provision(sandbox, gw, slug="beta", name="Beta 大客户项目", template="sales", tz="Asia/Tokyo",
                           start=today, pm=u["刘洋"], management=[u["李娜"], u["杨帆"]]),
                pm=u["刘洋"], management=[u["李娜"], u["杨帆"]])
    ip, todo = TaskStatus.IN_PROGRESS.value, TaskStatus.NOT_STARTED.value
    _type_plan(sandbox, gw, alpha, seed.chat_id, [u["王芳"], u["刘洋"], u["陈静"]],
               tasks=[("官网产品页上线", u["王芳"], -3, ip), ("销售 Deck 定稿", u["刘洋"], -2, ip),
                      ("发布会彩排", u["陈静"], 12, todo)],
               issues=[("物料供应商交付延迟", u["陈静"], 4, Level3.HIGH.value)], now=now, late_milestone=False)
    _type_plan(sandbox, gw, beta, beta_chat, [u["王芳"], u["陈静"], u["杨帆"]],
               tasks=[("客户需求调研报告", u["王芳"], -3, ip), ("解决方案评审", u["陈静"], 1, ip)],
               issues=[("客户法务对付款条款有异议", u["杨帆"], 9, Level3.HIGH.value)], now=now,
               late_milestone=True)
    return World(sandbox, seed, gw, alpha, beta)

"""Sample people and realistic trouble for `gtm demo`, typed into the Base as the people would.

Edits go through the sandbox's act-as-user API (so the Base shows who changed what), with values
encoded by the product's own codec. Dates are relative to the demo's `now`: two overdue tasks, a
blocked task, an issue open 4 days and another open 8 days, a high risk, a dependency still 待确认,
spending 12% over budget, a milestone marked done with an exit criterion still unmet.
"""
from __future__ import annotations

from datetime import date, datetime, time, timedelta, tzinfo
from typing import Any

from gtm.bot.cards.views import is_blank
from gtm.sandbox import Sandbox
from gtm.schemas.plan import (
    DependencyStatus,
    IssueStatus,
    Level3,
    MilestoneStatus,
    Person,
    PlanSnapshot,
    RiskStatus,
    TaskStatus,
)
from gtm.schemas.tables import table
from gtm.sync.binding import BaseBinding
from gtm.sync.records import encode_fields

# metric name (as the templates name it) -> (current value, target to fill when the template left a
# blank). NRR has no value yet on purpose: the report shows it as not filled in, with no date.
DEMO_METRICS: dict[str, tuple[str, str]] = {
    "PMF 调研“非常失望”比例": ("46%", ""),
    "NPS": ("38", "> 30"),
    "LTV:CAC": ("3.4:1", ""),
    "ARR": ("420 万", "600 万"),
    "付费客户数": ("35 个", "50 个"),
    "NRR": ("", "> 110%"),
    "销售额": ("320 万元", "500 万元"),
    "客户验收通过率": ("96%", ""),
    "回款周期": ("28天", ""),
    "预热期海报曝光量": ("62万", ""),
    "执行期订单量": ("1.8万单", ""),
    "GMV": ("提升 12%", ""),
    "新增用户": ("4.2万", ""),
    "直播转化率": ("2.9%", ""),
}


class Typist:
    """Types rows into the sandbox Base as a given person."""

    def __init__(self, sandbox: Sandbox, binding: BaseBinding, who: str) -> None:
        self.sb, self.b, self.who = sandbox, binding, who

    def _fields(self, key: str, values: dict[str, Any]) -> dict[str, Any]:
        return encode_fields(table(key), values, self.b.tz, self.b)

    def update(self, key: str, record_id: str, **values: Any) -> None:
        self.sb.bitable.act_update(self.who, self.b.app_token, self.b.table_id(key), record_id,
                                   self._fields(key, values))

    def create(self, key: str, **values: Any) -> str:
        rec = self.sb.bitable.act_create(self.who, self.b.app_token, self.b.table_id(key), self._fields(key, values))
        return rec.get("record_id") or rec.get("id", "")


def deliverable_owners(deliverables: list[Any], team: list[Person], today: date) -> dict[str, Person]:
    """Record id → owner, round-robin in due-date order: the same people on every run (never by
    `hash()`, which changes between processes)."""
    ordered = sorted(deliverables, key=lambda x: (x.due_date or today, x.name, x.record_id))
    return {d.record_id: team[i % len(team)] for i, d in enumerate(ordered)}


def raised_days_ago(today: date, days: int, tz: tzinfo) -> datetime:
    """A demo issue's 提出日期: local noon `days` days before `today`, so it has been open `days`
    days by the calendar at whatever hour the demo runs (now − 8 days 2 hours was 9 local days
    between 00:00 and 02:00) and is past the 3-day / 1-week thresholds even at midnight."""
    return datetime.combine(today - timedelta(days=days), time(12), tzinfo=tz)


def populate(sandbox: Sandbox, binding: BaseBinding, snapshot: PlanSnapshot, people: dict[str, str],
             chat_id: str, now: datetime) -> dict[str, Any]:
    """Assign owners and create the trouble; returns a short description for the demo output."""
    P = {k: Person(open_id=v) for k, v in people.items()}
    pm, mgmt = P["张伟"], P["李娜"]
    team = [P["王芳"], P["刘洋"], P["陈静"], P["杨帆"]]
    today: date = now.astimezone(binding.tz).date()
    t = Typist(sandbox, binding, pm.open_id)

    t.update("project", snapshot.project.record_id, pm=pm, management=[mgmt], core_team=team,
             budget=500000, spent=560000, chat=[chat_id], gtm_type="新产品发布",
             goal="Q1 发布新一代协作套件，首月获得 50 家付费客户")

    ms = sorted(snapshot.milestones, key=lambda m: m.code)
    by_code = {m.code: m for m in ms}
    for i, m in enumerate(ms):
        t.update("milestone", m.record_id, owner=team[i % len(team)])
    m1, m2, m3 = by_code.get("M1"), by_code.get("M2"), by_code.get("M3")
    if m1:
        t.update("milestone", m1.record_id, status=MilestoneStatus.DONE.value, actual_date=m1.target_date)
    if m2:  # marked done, but one exit criterion is still unmet → the gate flags it
        t.update("milestone", m2.record_id, status=MilestoneStatus.DONE.value, actual_date=today - timedelta(days=6))
    owners = deliverable_owners(snapshot.deliverables, team, today)
    for d in snapshot.deliverables:
        owner = owners[d.record_id]
        done = m1 and m1.record_id in d.milestone or (m2 and m2.record_id in d.milestone)
        t.update("deliverable", d.record_id, owner=owner,
                 **({"status": MilestoneStatus.DONE.value, "done_date": today - timedelta(days=8)} if done else {}))
    unmet_left = 1
    for c in snapshot.exit_criteria:
        if m1 and m1.record_id in c.milestone:
            t.update("exit_criterion", c.record_id, met=True)
        elif m2 and m2.record_id in c.milestone:
            if unmet_left:
                unmet_left -= 1  # leave one unmet
                continue
            t.update("exit_criterion", c.record_id, met=True)

    for task in snapshot.tasks:  # the template's milestone reviews of M1/M2 took place
        if any(m and m.record_id in task.milestone for m in (m1, m2)):
            t.update("task", task.record_id, status=TaskStatus.DONE.value, progress=1.0,
                     actual_start=task.planned_start, actual_end=task.planned_end, owner=pm)
    m3_link = [m3.record_id] if m3 else []
    d = lambda n: today + timedelta(days=n)  # noqa: E731
    tasks = [
        dict(task_id="T-301", name="网站产品页与定价页上线", phase="Pre-Launch", owner=team[0], planned_start=d(-10),
             planned_end=d(-3), status=TaskStatus.IN_PROGRESS.value, progress=0.6),
        dict(task_id="T-302", name="销售 Deck、One-pager 与 Demo 脚本", phase="Pre-Launch", owner=team[1],
             planned_start=d(-8), planned_end=d(-2), status=TaskStatus.IN_PROGRESS.value, progress=0.4),
        dict(task_id="T-303", name="CRM 与营销自动化配置", phase="Pre-Launch", owner=team[3], planned_start=d(-5),
             planned_end=d(3), status=TaskStatus.BLOCKED.value, progress=0.3, risk_note="等待 IT 开通接口权限"),
        dict(task_id="T-304", name="销售团队培训与考核", phase="Pre-Launch", owner=team[2], planned_start=d(0),
             planned_end=d(1), status=TaskStatus.NOT_STARTED.value, progress=0.0),
        dict(task_id="T-305", name="FAQ 与帮助中心", phase="Pre-Launch", owner=team[0], planned_start=d(2),
             planned_end=d(9), status=TaskStatus.NOT_STARTED.value, progress=0.0),
        dict(task_id="T-306", name="发布公告与新闻稿", phase="Launch", owner=team[1], planned_start=d(5),
             planned_end=d(12), status=TaskStatus.NOT_STARTED.value, progress=0.0),
        dict(task_id="T-201", name="定位声明定稿", phase="Pre-Launch", owner=team[2], planned_start=d(-16),
             planned_end=d(-9), actual_start=d(-16), actual_end=d(-10), status=TaskStatus.DONE.value, progress=1.0),
    ]
    task_ids = {}
    for row in tasks:
        task_ids[row["task_id"]] = t.create("task", milestone=m3_link, approver=[pm], informed=[mgmt], **row)

    t.create("issue", issue="法务合规审批卡在第三方数据条款", raised_at=raised_days_ago(today, 4, binding.tz),
             owner=team[3], severity=Level3.HIGH.value, status=IssueStatus.IN_PROGRESS.value,
             tasks=[task_ids["T-303"]])
    t.create("issue", issue="渠道合作伙伴协议价格条款未谈妥", raised_at=raised_days_ago(today, 8, binding.tz),
             owner=team[1], severity=Level3.HIGH.value, status=IssueStatus.OPEN.value)
    t.create("issue", issue="官网 CDN 费用核对", raised_at=now - timedelta(days=1), owner=team[0],
             severity=Level3.LOW.value, status=IssueStatus.OPEN.value)

    risks = sorted(snapshot.risks, key=lambda r: r.risk)
    for i, r in enumerate(risks):
        high = i == 0
        t.update("risk", r.record_id, owner=team[i % len(team)], status=RiskStatus.OPEN.value,
                 likelihood=(Level3.HIGH if high else Level3.MEDIUM if i % 2 else Level3.LOW).value,
                 impact=(Level3.HIGH if high else Level3.MEDIUM).value, identified_on=today - timedelta(days=20))
    for i, dep in enumerate(snapshot.dependencies):
        pending = i == 0
        t.update("dependency", dep.record_id, owner=team[(i + 3) % len(team)],
                 status=(DependencyStatus.PENDING if pending else DependencyStatus.CONFIRMED).value,
                 needed_by=d(5 if pending else 30))
    for mtr in snapshot.metrics:  # by metric, never by row order; an unknown metric stays untouched
        values = DEMO_METRICS.get(mtr.metric)
        if values is None:
            continue
        current, target = values
        fields: dict[str, Any] = {}
        if current:
            fields.update(current=current, updated_on=d(-1))
        if target and is_blank(mtr.target):
            fields["target"] = target
        if fields:
            t.update("metric", mtr.record_id, **fields)
    return {"high_risk": risks[0].risk if risks else "", "pending_dependency":
            snapshot.dependencies[0].item if snapshot.dependencies else "", "tasks": task_ids}

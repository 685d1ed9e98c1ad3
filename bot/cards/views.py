"""View-models: what one card shows, already decided (texts, colours, counts), no Feishu JSON.

Handlers, the weekly report, the portfolio and the notice factory build these; one jinja2
template renders each (`gtm.bot.cards.render.render(name, view, locale)`). Lists that may be
long are `Clip`s so the renderer can cut them to fit the 30 KB card limit.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from gtm.bot.cards.render import Clip

Color = Literal["green", "yellow", "red", "blue", "grey", "orange", "turquoise", "wathet", "purple",
                "carmine", "indigo", "violet"]


class Label(BaseModel):
    """A status shown as a coloured tag: Chinese text, English text, colour."""

    zh: str
    en: str = ""
    color: str = "neutral"


class ItemRow(BaseModel):
    """One open item (task, deliverable, milestone, issue) in a list."""

    project: str = ""
    table: str
    record_id: str
    code: str = ""  # task id / milestone code
    name: str
    owner_id: str = ""
    owner_name: str = ""
    due: str = ""  # YYYY-MM-DD
    status: Label | None = None
    progress_pct: int | None = None
    days_overdue: int | None = None  # > 0 when late
    days_left: int | None = None


class ItemGroup(BaseModel):
    project: str = ""
    rows: Clip[ItemRow] = Field(default_factory=Clip)


class ItemListView(BaseModel):
    """My tasks / overdue / this week: items grouped by project (one group for one project)."""

    kind: Literal["my_tasks", "overdue", "this_week", "next_week", "lookup"]
    title: str
    title_en: str
    project_name: str = ""
    as_of: str = ""
    groups: list[ItemGroup] = Field(default_factory=list)
    total: int = 0
    later: int = 0  # my tasks: items due after the shown window ("还有 N 项")
    more_button: "HelpChoice | None" = None  # shows them all
    # what cannot be judged (schema drift: a date/status field deleted or retyped), zh / en
    blind: list[str] = Field(default_factory=list)
    blind_en: list[str] = Field(default_factory=list)


class ReasonView(BaseModel):
    color: str
    text: str
    text_en: str = ""
    records: list[str] = Field(default_factory=list)


class MilestoneProgress(BaseModel):
    record_id: str = ""
    code: str
    name: str
    owner_name: str = ""
    target: str = ""
    actual: str = ""
    status: Label
    variance_days: int | None = None
    done: int = 0
    total: int = 0
    pct: int = 0
    baseline: str = ""  # 基线结束 (the approved date), "" without a baseline
    baseline_variance: int | None = None


class StatusView(BaseModel):
    project_name: str
    as_of: str
    rag: Label
    header_color: str
    reasons: Clip[ReasonView] = Field(default_factory=Clip)
    milestones: Clip[MilestoneProgress] = Field(default_factory=Clip)
    next_milestone: str = ""
    next_milestone_en: str = ""
    launch_date: str = ""
    key_date: str = ""  # the template's name of its key date (验收日期, 活动日期 …)
    key_date_en: str = ""
    overdue: int = 0
    blocked: int = 0
    open_issues: int = 0
    high_risks: int = 0
    budget_line: str = ""
    budget_line_en: str = ""
    data_problems: int = 0
    slips: Clip[ReasonView] = Field(default_factory=Clip)  # schedule slips threatening milestones


class DeliverableRow(BaseModel):
    name: str
    standard: str = ""
    owner_name: str = ""
    due: str = ""
    status: Label


class CriterionRow(BaseModel):
    criterion: str
    met: bool


class MilestoneView(BaseModel):
    project_name: str
    code: str
    name: str
    phase: str = ""
    phase_en: str = ""
    owner_id: str = ""
    owner_name: str = ""
    target: str = ""
    actual: str = ""
    status: Label
    header_color: str = "blue"
    variance_days: int | None = None
    pct: int = 0
    baseline: str = ""
    baseline_variance: int | None = None
    deliverables: Clip[DeliverableRow] = Field(default_factory=Clip)
    criteria: Clip[CriterionRow] = Field(default_factory=Clip)
    tasks_open: int = 0
    tasks_total: int = 0
    note: str = ""


class RiskRow(BaseModel):
    risk: str
    likelihood: str = ""
    impact: str = ""
    score: int = 0
    level: Label
    mitigation: str = ""
    owner_name: str = ""
    status: str = ""


class HeatRow(BaseModel):
    """One likelihood row of the 3×3 heat map; cells ordered impact 低, 中, 高."""

    likelihood: Label
    cells: list[Label]


class RiskView(BaseModel):
    project_name: str
    as_of: str = ""
    top: Clip[RiskRow] = Field(default_factory=Clip)
    heat: list[HeatRow] = Field(default_factory=list)
    open_count: int = 0
    high_count: int = 0


class DependencyRow(BaseModel):
    item: str
    party: str = ""
    milestones: str = ""
    status: Label
    risk_level: str = ""
    needed_by: str = ""
    owner_name: str = ""
    mitigation: str = ""
    at_risk: bool = False


class DependencyView(BaseModel):
    project_name: str
    rows: Clip[DependencyRow] = Field(default_factory=Clip)
    pending: int = 0
    at_risk: int = 0


class IssueRow(BaseModel):
    record_id: str = ""
    issue: str
    owner_name: str = ""
    severity: str = ""
    status: Label
    age_days: int = 0
    level: Label


class IssueView(BaseModel):
    project_name: str
    rows: Clip[IssueRow] = Field(default_factory=Clip)
    management: int = 0


class ProblemRow(BaseModel):
    text: str
    text_en: str = ""


class DataProblemView(BaseModel):
    project_name: str
    rows: Clip[ProblemRow] = Field(default_factory=Clip)


class PathMilestone(BaseModel):
    """One open milestone on the 关键路径 card: its forecast and the chain of tasks deciding it."""

    label: str
    owner_name: str = ""
    target: str = ""
    forecast: str = ""
    late_days: int = 0
    baseline: str = ""
    steps: list[str] = Field(default_factory=list)  # "T-1 名称（负责人）· 预计 12-28" (zh)
    steps_en: list[str] = Field(default_factory=list)


class CriticalPathView(BaseModel):
    project_name: str
    as_of: str
    milestones: Clip[PathMilestone] = Field(default_factory=Clip)
    late: int = 0  # open milestones forecast after their target
    problems: int = 0  # predecessor cycles found


class HelpCommand(BaseModel):
    zh: str
    en: str
    what: str
    what_en: str


class HelpChoice(BaseModel):
    """A button that asks the bot a question for the clicker (callback value {"a": "ask", "q": …})."""

    zh: str
    en: str
    value: dict[str, Any]


class HelpView(BaseModel):
    project_name: str = ""
    unknown: str = ""  # the text we did not understand, as typed (empty for a plain help)
    suggestions: list[str] = Field(default_factory=list)
    choices: list[HelpChoice] = Field(default_factory=list)  # the nearest intents, as buttons
    commands: list[HelpCommand] = Field(default_factory=list)


class NotLinkedView(BaseModel):
    chat_id: str = ""


class WorkloadRow(BaseModel):
    name: str
    items: int
    overdue: int
    load_days: int
    capacity: int
    pct: int
    over: bool
    sample: list[str] = Field(default_factory=list)  # a few of the items


class WorkloadView(BaseModel):
    project_name: str
    window: str  # "12-07 – 12-21"
    rows: Clip[WorkloadRow] = Field(default_factory=Clip)
    over: int = 0


class SignoffView(BaseModel):
    """The 审批人's card: a milestone whose exit criteria are all met, 通过 / 退回 with a note."""

    project_name: str
    title: str
    title_en: str
    text: str
    text_en: str = ""
    criteria: list[str] = Field(default_factory=list)
    approve_value: dict[str, Any]
    reject_value: dict[str, Any]
    state: str = ""
    state_en: str = ""


class ConfirmView(BaseModel):
    """确认 / 取消 before a change typed in chat is written (buttons carry card-action values)."""

    project_name: str
    question: str  # "把 T-301 渠道培训 的进度改为 80%？"
    question_en: str
    lines: list[ReportLine] = Field(default_factory=list)  # what is there now, who may confirm
    confirm_value: dict[str, Any]
    cancel_value: dict[str, Any]


class MessageView(BaseModel):
    """A short answer (e.g. no such milestone / several projects match)."""

    title: str
    title_en: str = ""
    text: str
    text_en: str = ""
    color: str = "grey"
    choices: list[str] = Field(default_factory=list)


# ---- weekly report ------------------------------------------------------------------------
class ReportLine(BaseModel):
    text: str
    text_en: str = ""


class MetricRow(BaseModel):
    metric: str
    target: str = ""
    current: str = ""
    updated: str = ""


class WeeklyReportView(BaseModel):
    project_name: str
    project_slug: str = ""
    title: str = "GTM 项目周报"  # the template's own report name (销售项目周报, 营销活动周报 …)
    title_en: str = "GTM weekly report"
    week: str  # "2026-W48"
    period: str  # "2026-11-16 – 2026-11-22"
    generated_at: str
    rag: Label
    header_color: str
    reasons: Clip[ReasonView] = Field(default_factory=Clip)
    done: Clip[ReportLine] = Field(default_factory=Clip)
    next_week: Clip[ReportLine] = Field(default_factory=Clip)
    risks: Clip[ReportLine] = Field(default_factory=Clip)
    metrics: Clip[MetricRow] = Field(default_factory=Clip)
    support: Clip[ReportLine] = Field(default_factory=Clip)
    changes: Clip[ReportLine] = Field(default_factory=Clip)
    milestones: Clip[MilestoneProgress] = Field(default_factory=Clip)
    chart: dict[str, Any] = Field(default_factory=dict)  # VChart spec
    summary: str = ""  # one line for the 周报 table
    summary_en: str = ""
    counts: dict[str, int] = Field(default_factory=dict)
    facts: dict[str, Any] = Field(default_factory=dict)  # what `report_summary` stores for next week
    generated: datetime | None = None


# ---- portfolio ----------------------------------------------------------------------------
class PortfolioRow(BaseModel):
    name: str
    slug: str = ""
    rag: Label
    top_reason: str = ""
    top_reason_en: str = ""
    overdue_milestones: list[str] = Field(default_factory=list)
    management_issues: int = 0
    next_milestone: str = ""
    next_milestone_en: str = ""


class PortfolioView(BaseModel):
    as_of: str
    rows: Clip[PortfolioRow] = Field(default_factory=Clip)
    counts: dict[str, int] = Field(default_factory=dict)  # green/yellow/red


# ---- notices (cards sent by the ledger) ---------------------------------------------------
class ActionButton(BaseModel):
    text: str
    text_en: str
    value: dict[str, Any]
    kind: Literal["primary", "default", "danger"] = "default"


class DigestItem(BaseModel):
    """One overdue / due-soon item, with its buttons; `state` set once someone acted on it."""

    kind: str  # overdue | due_soon
    table: str
    record_id: str
    label: str
    text: str = ""
    text_en: str = ""
    due: str = ""
    idx: int = 0  # position: element ids and form names are built from it
    done_value: dict[str, Any] | None = None
    progress_value: dict[str, Any] | None = None
    postpone_value: dict[str, Any] | None = None
    state: str = ""  # e.g. "✅ 已完成" once acted on
    state_en: str = ""


class DigestView(BaseModel):
    project_name: str
    recipient: str
    overdue: Clip[DigestItem] = Field(default_factory=Clip)
    due_soon: Clip[DigestItem] = Field(default_factory=Clip)


class EscalationView(BaseModel):
    project_name: str
    title: str
    title_en: str = ""
    text: str
    text_en: str = ""
    record_label: str = ""
    level: int = 1
    level_label: Label
    owner_ids: list[str] = Field(default_factory=list)
    due: str = ""
    buttons: list[ActionButton] = Field(default_factory=list)
    snooze_value: dict[str, Any] | None = None
    state: str = ""
    state_en: str = ""


class AlertView(BaseModel):
    """Budget change request, milestone gate, delivery failure, system / data problems."""

    kind: str
    project_name: str
    title: str
    title_en: str = ""
    header_color: str = "orange"
    text: str
    text_en: str = ""
    lines: Clip[ReportLine] = Field(default_factory=Clip)
    buttons: list[ActionButton] = Field(default_factory=list)
    state: str = ""
    state_en: str = ""


# ---- derivations shared by handlers, the report and the portfolio (pure) -------------------
from datetime import date, datetime, timedelta  # noqa: E402
import re  # noqa: E402
from bisect import bisect_left, bisect_right  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from functools import lru_cache  # noqa: E402

from gtm.bot.rules.baseline import baseline_variance  # noqa: E402
from gtm.bot.rules.raci import reached  # noqa: E402
from gtm.bot.rules.schedule import check_schedule  # noqa: E402
from gtm.schemas.decisions import CheckResult, RagStatus, Slip  # noqa: E402
from gtm.schemas.plan import (  # noqa: E402
    DependencyStatus,
    IssueStatus,
    Level3,
    MilestoneStatus,
    PlanSnapshot,
    RiskStatus,
    TaskStatus,
)
from gtm.schemas.money import format_money  # noqa: E402
from gtm.schemas.settings import Policy  # noqa: E402
from gtm.bot import catalogue  # noqa: E402
from gtm.bot.rules.calendar import WorkCalendar  # noqa: E402
from gtm.bot.rules.escalation import due_level, open_days  # noqa: E402
from gtm.bot.rules.risk import shown_score  # noqa: E402

DONE = {TaskStatus.DONE.value, MilestoneStatus.DONE.value}
STATUS_COLOR = {
    TaskStatus.NOT_STARTED.value: "neutral", TaskStatus.IN_PROGRESS.value: "blue",
    TaskStatus.DONE.value: "green", MilestoneStatus.DONE.value: "green",
    TaskStatus.OVERDUE.value: "red", TaskStatus.BLOCKED.value: "orange",
    IssueStatus.OPEN.value: "orange", IssueStatus.IN_PROGRESS.value: "blue",
    IssueStatus.RESOLVED.value: "green", DependencyStatus.CONFIRMED.value: "green",
    DependencyStatus.PENDING.value: "orange",
}
STATUS_COLOR["待验收"] = "orange"  # a milestone marked done that its 审批人 has not signed off

RAG_LABEL = {c: Label(zh=w.zh, en=w.en, color=c) for c, w in catalogue.RAG.items()}
LEVEL_LABEL = {n: Label(zh=w.zh, en=w.en, color=("neutral", "orange", "red")[n]) for n, w in catalogue.LEVELS.items()}
LEVEL_BY_NAME = {v.zh: k for k, v in LEVEL_LABEL.items()}


@lru_cache(maxsize=256)
def status_label(value: str | None) -> Label:
    """A status option as a coloured label (unknown options kept as typed, grey)."""
    if not value:
        return Label(zh="—", en="—", color="neutral")
    word = catalogue.status_word(value)
    return Label(zh=word.zh, en=word.en, color=STATUS_COLOR.get(value, "neutral"))


def today(now: datetime, policy: Policy) -> date:
    return now.astimezone(policy.tz).date()


def iso(d: date | datetime | None) -> str:
    return d.isoformat()[:10] if d else ""


def week_label(day: date) -> str:
    y, w, _ = day.isocalendar()
    return f"{y}-W{w:02d}"


def is_done(status: str | None) -> bool:
    return status in DONE


def risk_score(risk) -> int:
    """风险评分 = 可能性 × 影响 (docs/seeds/000 §9.2), 1–9: `gtm.bot.rules.risk.shown_score`, the one
    definition the rules, the cards and the report share."""
    return shown_score(risk)


def risk_color(score: int, policy: Policy) -> str:
    if score >= policy.red_risk_score:
        return "red"
    if score >= policy.yellow_risk_score:
        return "orange"
    return "green" if score else "neutral"


def milestone_counts(snapshot: PlanSnapshot) -> dict[str, tuple[int, int]]:
    """Milestone record id → (done, total) of its deliverables, else of its tasks (time-free, so
    the answer cache keeps it per snapshot)."""
    d_by_m: dict[str, list[int]] = {}
    for d in snapshot.deliverables:
        for mid in d.milestone:
            c = d_by_m.setdefault(mid, [0, 0])
            c[0] += d.status in DONE
            c[1] += 1
    t_by_m: dict[str, list[int]] = {}
    for t in snapshot.tasks:
        for mid in t.milestone:
            c = t_by_m.setdefault(mid, [0, 0])
            c[0] += t.status in DONE
            c[1] += 1
    out: dict[str, tuple[int, int]] = {}
    for m in snapshot.milestones:
        c = d_by_m.get(m.record_id) or t_by_m.get(m.record_id) or (0, 0)
        out[m.record_id] = (c[0], c[1])
    return out


def milestone_progress(snapshot: PlanSnapshot, now: datetime, policy: Policy,
                       counts: dict[str, tuple[int, int]] | None = None) -> list[MilestoneProgress]:
    """Each milestone with % deliverables done (falls back to tasks, then to its own status).
    `counts` = `milestone_counts(snapshot)` when the caller already has it."""
    if counts is None:
        counts = milestone_counts(snapshot)
    day = today(now, policy)
    out = []
    for m in snapshot.milestones:
        done, total = counts.get(m.record_id, (0, 0))
        if total:
            pct = round(100 * done / total)
        else:
            pct = 100 if is_done(m.status) else 0
        variance = m.variance_days
        if variance is None and m.target_date:
            if m.actual_date:
                variance = (m.actual_date - m.target_date).days
            elif not is_done(m.status) and day > m.target_date:
                variance = (day - m.target_date).days
        status = m.status
        if not is_done(status) and m.target_date and day > m.target_date:
            status = MilestoneStatus.OVERDUE.value
        if is_done(status) and not reached(m):
            status = "待验收"  # done but not signed off by its 审批人: not reached yet
        out.append(MilestoneProgress(
            record_id=m.record_id, code=m.code, name=m.name,
            owner_name=m.owner.label() if m.owner else "", target=iso(m.target_date),
            actual=iso(m.actual_date), status=status_label(status), variance_days=variance,
            done=done, total=total, pct=pct, baseline=iso(m.baseline_end),
            baseline_variance=baseline_variance("milestone", m, policy)))
    return out


def overdue_milestones(snapshot: PlanSnapshot, now: datetime, policy: Policy) -> list[str]:
    day = today(now, policy)
    return [m.label for m in snapshot.milestones
            if m.target_date and day > m.target_date and not is_done(m.status)]


def open_items(snapshot: PlanSnapshot, project: str = "") -> list[ItemRow]:
    """Every not-done task, deliverable and milestone with its due date."""
    rows: list[ItemRow] = []
    for t in snapshot.tasks:
        if not is_done(t.status):
            rows.append(ItemRow.model_construct(project=project, table="task", record_id=t.record_id, code=t.task_id,
                                name=t.name, owner_id=t.owner.open_id if t.owner else "",
                                owner_name=t.owner.label() if t.owner else "",
                                due=iso(t.planned_end), status=status_label(t.status),
                                progress_pct=round(t.progress * 100) if t.progress is not None else None,
                                days_overdue=None, days_left=None))
    for d in snapshot.deliverables:
        if not is_done(d.status):
            rows.append(ItemRow.model_construct(project=project, table="deliverable", record_id=d.record_id, name=d.name,
                                owner_id=d.owner.open_id if d.owner else "",
                                owner_name=d.owner.label() if d.owner else "", due=iso(d.due_date),
                                status=status_label(d.status), code="", progress_pct=None,
                                days_overdue=None, days_left=None))
    for m in snapshot.milestones:
        if not is_done(m.status):
            rows.append(ItemRow.model_construct(project=project, table="milestone", record_id=m.record_id, code=m.code,
                                name=m.name, owner_id=m.owner.open_id if m.owner else "",
                                owner_name=m.owner.label() if m.owner else "", due=iso(m.target_date),
                                status=status_label(m.status), progress_pct=None,
                                days_overdue=None, days_left=None))
    return rows


def with_days(row: ItemRow, day: date) -> ItemRow:
    if row.due:
        delta = (day - date.fromisoformat(row.due)).days
        row.days_overdue = delta if delta > 0 else None
        row.days_left = -delta if delta <= 0 else None
    return row


def by_due(rows: list[ItemRow]) -> list[ItemRow]:
    return sorted(rows, key=lambda r: (r.due or "9999-99-99", r.table != "milestone", r.code, r.name))


# ---- open items, indexed once per snapshot (the @mention hot path) --------------------------
@dataclass(frozen=True, slots=True)
class OpenItem:
    """An open task/deliverable/milestone as plain data: cheap to hold 10^4 of them per plan;
    only the rows a card shows become `ItemRow`s (`to_row`)."""

    table: str
    record_id: str
    code: str
    name: str
    owner_id: str
    owner_name: str
    due: str
    status: str | None
    progress_pct: int | None

    def to_row(self, day: date, project: str = "") -> ItemRow:
        """The `ItemRow` of `open_items` + `with_days` (same fields set, same values)."""
        days_overdue = days_left = None
        if self.due:
            delta = (day - date.fromisoformat(self.due)).days
            days_overdue = delta if delta > 0 else None
            days_left = -delta if delta <= 0 else None
        return ItemRow.model_construct(
            project=project, table=self.table, record_id=self.record_id, code=self.code, name=self.name,
            owner_id=self.owner_id, owner_name=self.owner_name, due=self.due,
            status=status_label(self.status), progress_pct=self.progress_pct,
            days_overdue=days_overdue, days_left=days_left)


_NO_DUE = "9999-99-99"


class _DueList:
    """Items in `by_due` order with their sort dates, so due-date windows are bisections."""

    __slots__ = ("items", "dues")

    def __init__(self, items: list[OpenItem]) -> None:
        self.items = items
        self.dues = [i.due or _NO_DUE for i in items]

    def before(self, day_iso: str) -> list[OpenItem]:
        """Items due strictly before `day_iso` (undated items sort last, so this is a prefix)."""
        return self.items[:bisect_left(self.dues, day_iso)]

    def between(self, start_iso: str, end_iso: str) -> list[OpenItem]:
        """Items due in [start_iso, end_iso]."""
        return self.items[bisect_left(self.dues, start_iso):bisect_right(self.dues, end_iso)]


class ItemIndex:
    """Every open item of one snapshot, sorted as `by_due` sorts, plus the same per owner.

    A stable sort restricted to a subset keeps the subset's order, so filtering this list gives
    exactly `by_due(filter(open_items))`; overdue and due-this-week are contiguous runs of it.
    Built once per snapshot (the answer cache keeps it); read-only afterwards (thread-safe)."""

    def __init__(self, snapshot: PlanSnapshot) -> None:
        items = open_item_data(snapshot)
        items.sort(key=lambda r: (r.due or _NO_DUE, r.table != "milestone", r.code, r.name))
        self.all = _DueList(items)
        owned: dict[str, list[OpenItem]] = {}
        for it in items:
            owned.setdefault(it.owner_id, []).append(it)
        self._by_owner = {k: _DueList(v) for k, v in owned.items()}
        self._empty = _DueList([])
        self.blocked = sum(1 for t in snapshot.tasks if t.status == TaskStatus.BLOCKED.value)
        self.milestone_counts = milestone_counts(snapshot)

    def owned_by(self, open_id: str) -> _DueList:
        return self._by_owner.get(open_id, self._empty)


def open_item_data(snapshot: PlanSnapshot) -> list[OpenItem]:
    """`open_items` as plain `OpenItem`s, in the same order (tasks, deliverables, milestones)."""
    out: list[OpenItem] = []
    add = out.append
    for t in snapshot.tasks:
        if t.status not in DONE:
            o = t.owner
            add(OpenItem("task", t.record_id, t.task_id, t.name, o.open_id if o else "", o.label() if o else "",
                         iso(t.planned_end), t.status,
                         round(t.progress * 100) if t.progress is not None else None))
    for d in snapshot.deliverables:
        if d.status not in DONE:
            o = d.owner
            add(OpenItem("deliverable", d.record_id, "", d.name, o.open_id if o else "",
                         o.label() if o else "", iso(d.due_date), d.status, None))
    for m in snapshot.milestones:
        if m.status not in DONE:
            o = m.owner
            add(OpenItem("milestone", m.record_id, m.code, m.name, o.open_id if o else "",
                         o.label() if o else "", iso(m.target_date), m.status, None))
    return out


def issue_age(issue, now: datetime, policy: Policy | None = None) -> int:
    """Days an issue has been open, counted as the escalation ladder counts them (working days
    when `Policy.escalation_day_count` says so)."""
    if not issue.raised_at:
        return 0
    policy = policy or Policy()
    return open_days(issue.raised_at, now, policy, _calendar(policy))


def issue_level(issue, now: datetime, policy: Policy, check: CheckResult | None) -> int:
    """0 team, 1 PM, 2 management: the Base's 升级级别, else the ladder state, else by the same
    thresholds and work calendar the escalation rule uses."""
    if issue.level in LEVEL_BY_NAME:
        return LEVEL_BY_NAME[issue.level]
    if check is not None:
        for st in check.escalations:
            if st.table == "issue" and st.record_id == issue.record_id:
                return min(2, st.level)
    if issue.status == IssueStatus.RESOLVED.value or not issue.raised_at:
        return 0
    return min(2, due_level(issue.raised_at, now, policy, _calendar(policy)))


def _calendar(policy: Policy) -> WorkCalendar:
    return WorkCalendar(policy)


def open_issues(snapshot: PlanSnapshot) -> list:
    return [i for i in snapshot.issues if i.status != IssueStatus.RESOLVED.value]


def open_risks(snapshot: PlanSnapshot) -> list:
    return [r for r in snapshot.risks if r.status != RiskStatus.CLOSED.value]


def dependency_at_risk(dep, day: date, policy: Policy) -> bool:
    if dep.status == DependencyStatus.CONFIRMED.value:
        return False
    if dep.risk_level == Level3.HIGH.value:
        return True
    return bool(dep.needed_by and (dep.needed_by - day).days <= policy.dependency_warning_days)


def reasons_of(rag: RagStatus) -> list[ReasonView]:
    """The RAG reasons, red first. A reason's text already names its records, so only records
    the text does not name are listed after it (never the project itself, never twice)."""
    out = []
    for r in sorted(rag.reasons, key=lambda r: r.color != "red"):
        extra = []
        for x in r.records[:5]:
            name = x.label or x.record_id
            if x.table != "project" and name not in r.text and name not in extra:
                extra.append(name)
        out.append(ReasonView(color=r.color, text=r.text, text_en=r.text_en or r.text, records=extra))
    return out


_BLANK = re.compile(r"_{2,}|^\s*(例|例如|e\.g\.)\s*[:：]", re.IGNORECASE)


def is_blank(text: str | None) -> bool:
    """A template placeholder the team has not filled in yet ("＞ ___", "$_____", "例：500万元")."""
    return not text or not text.strip() or bool(_BLANK.search(text)) or text.strip() in ("—", "-")


def budget_lines(snapshot: PlanSnapshot, policy: Policy) -> tuple[str, str]:
    p = snapshot.project
    if not p.budget:
        return "", ""
    spent = p.spent or 0.0
    ratio = spent / p.budget - 1
    unit = policy.money_unit
    budget, used = format_money(p.budget, unit), format_money(spent, unit)
    zh = f"预算 {budget}，实际花费 {used}（{'超支' if ratio > 0 else '剩余'} {abs(ratio):.0%}）"
    en = f"Budget {budget}, spent {used} ({'over' if ratio > 0 else 'left'} {abs(ratio):.0%})"
    return zh, en


def next_milestone(progress: list[MilestoneProgress], locale: str = "zh") -> str:
    """The next open milestone with its target date: "M3 名称（2026-11-23）" / "M3 名称 (2026-11-23)"."""
    pending = [m for m in progress if m.status.zh not in DONE]
    pending.sort(key=lambda m: m.target or "9999")
    if not pending:
        return ""
    label = f"{pending[0].code} {pending[0].name}".strip()
    if not pending[0].target:
        return label
    return label + (f" ({pending[0].target})" if locale == "en" else f"（{pending[0].target}）")


def slips_of(snapshot: PlanSnapshot, check: CheckResult | None, now: datetime,
             policy: Policy) -> list[Slip]:
    """The schedule slips: from the check when it ran, else computed now (pure)."""
    if check is not None:
        return list(check.slips)
    return check_schedule(snapshot, now, policy)[1]


ItemListView.model_rebuild()
ConfirmView.model_rebuild()

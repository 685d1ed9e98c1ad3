"""The plan cards: status, milestone, risks, dependencies, issues, data problems, critical path,
workload; plus milestone progress as the status card and the reports show it."""
from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from gtm.bot.cards.render import Clip
from gtm.bot.cards.views.common import Label, ReasonView, status_label
from gtm.bot.rules.queries import DONE, milestone_states
from gtm.schemas.money import format_money
from gtm.schemas.plan import PlanSnapshot
from gtm.schemas.settings import Policy


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
    likelihood: str = ""  # the options as typed (高 / 中 / 低 …) and in English (unknown ones as typed)
    likelihood_en: str = ""
    impact: str = ""
    impact_en: str = ""
    score: int = 0
    level: Label
    mitigation: str = ""
    owner_name: str = ""
    status: str = ""
    status_en: str = ""
    basis: str = ""  # what the score rests on, blanks said (gtm.bot.catalogue.risk_basis)
    basis_en: str = ""


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
    unscored_count: int = 0  # open risks with no score at all (nothing filled yet)
    heat_notes: list[str] = Field(default_factory=list)  # under the map: risks it counts by level or cannot place
    heat_notes_en: list[str] = Field(default_factory=list)


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
    troubled: int = 0  # open tasks feeding it that are overdue or blocked (listed in `watch`)
    watch: list[str] = Field(default_factory=list)  # "⏰ T-301 名称（负责人）· 逾期 3 天 · 预计 12-08" (zh)
    watch_en: list[str] = Field(default_factory=list)


class CriticalPathView(BaseModel):
    project_name: str
    as_of: str
    milestones: Clip[PathMilestone] = Field(default_factory=Clip)
    late: int = 0  # open milestones forecast after their target
    troubled: int = 0  # open milestones on time by the forecast but with overdue or blocked tasks
    note: str = ""  # how overdue and blocked tasks are forecast, when the card shows any
    note_en: str = ""
    problems: int = 0  # predecessor cycles found


class WorkloadRow(BaseModel):
    name: str
    items: int
    overdue: int
    load_days: int
    capacity: int
    pct: int
    over: bool
    sample: list[str] = Field(default_factory=list)  # the items counted, up to `WORKLOAD_LISTED`
    more: int = 0  # items counted but not listed ("…还有 N 项")


WORKLOAD_LISTED = 8  # items listed per person; the rest are counted as "…还有 N 项"


class WorkloadView(BaseModel):
    project_name: str
    window: str  # "12-07 – 12-21"
    rows: Clip[WorkloadRow] = Field(default_factory=Clip)
    over: int = 0


def milestone_progress(snapshot: PlanSnapshot, now: datetime, policy: Policy,
                       counts: dict[str, tuple[int, int]] | None = None) -> list[MilestoneProgress]:
    """Each milestone's progress (`gtm.bot.rules.queries.milestone_states`) with its status label.
    `counts` = `milestone_counts(snapshot)` when the caller already has it."""
    return [MilestoneProgress(
        record_id=s.record_id, code=s.code, name=s.name, owner_name=s.owner_name, target=s.target,
        actual=s.actual, status=status_label(s.status), variance_days=s.variance_days, done=s.done,
        total=s.total, pct=s.pct, baseline=s.baseline, baseline_variance=s.baseline_variance)
        for s in milestone_states(snapshot, now, policy, counts)]


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

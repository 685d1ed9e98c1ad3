"""Domain models of a plan: what the rules, reports and the bot work on (no Feishu shapes here).

Attribute names match the `attr` of the table specs in `gtm.schemas.tables`, so the record codec
maps a row to a model by name. Status vocabularies are enums built from the specs' options.
"""
from __future__ import annotations

from datetime import date, datetime
from enum import Enum
from typing import Iterable

from pydantic import BaseModel, ConfigDict, Field

from gtm.schemas import tables as T
from gtm.schemas.fields import Option


def _enum(name: str, keys: Iterable[str], options: tuple[Option, ...]) -> type[Enum]:
    """A str Enum whose values are the option names declared in the table specs."""
    members = dict(zip(keys, (o.name for o in options), strict=True))
    cls = Enum(name, members, type=str)  # type: ignore[misc]
    cls.en = property(lambda self: {o.name: o.en for o in options}[self.value])  # type: ignore[attr-defined]
    return cls


MilestoneStatus = _enum("MilestoneStatus", ["NOT_STARTED", "IN_PROGRESS", "DONE", "OVERDUE"],
                        T.MILESTONE_STATUS)
TaskStatus = _enum("TaskStatus", ["NOT_STARTED", "IN_PROGRESS", "DONE", "OVERDUE", "BLOCKED"],
                   T.TASK_STATUS)
RiskStatus = _enum("RiskStatus", ["OPEN", "MITIGATING", "CLOSED"], T.RISK_STATUS)
DependencyStatus = _enum("DependencyStatus", ["CONFIRMED", "PENDING"], T.DEPENDENCY_STATUS)
IssueStatus = _enum("IssueStatus", ["OPEN", "IN_PROGRESS", "RESOLVED"], T.ISSUE_STATUS)
Level3 = _enum("Level3", ["HIGH", "MEDIUM", "LOW"], T.LEVEL3)
EscalationLevel = _enum("EscalationLevel", ["TEAM", "PM", "MANAGEMENT"], T.ESCALATION_LEVEL)
Rag = _enum("Rag", ["GREEN", "YELLOW", "RED"], T.RAG)
GtmType = _enum("GtmType", ["NEW_PRODUCT", "NEW_FEATURE", "NEW_MARKET", "REPOSITIONING", "OTHER"],
                T.GTM_TYPE)

LEVEL3_SCORE = {"HIGH": 3, "MEDIUM": 2, "LOW": 1}  # seed 000: 风险评分 = 可能性 × 影响


class Person(BaseModel):
    """A Feishu user as a person field reads (open_id plus display name when known)."""

    model_config = ConfigDict(frozen=True)
    open_id: str
    name: str = ""

    def label(self) -> str:
        return self.name or self.open_id


class Record(BaseModel):
    """Fields every row has: its Feishu record id and when someone last changed it."""

    record_id: str = ""
    modified_at: datetime | None = None


class ProjectInfo(Record):
    name: str = ""
    gtm_type: str | None = None
    pm: Person | None = None
    management: list[Person] = Field(default_factory=list)
    core_team: list[Person] = Field(default_factory=list)
    start_date: date | None = None
    launch_date: date | None = None
    budget: float | None = None
    spent: float | None = None
    goal: str = ""
    chat: list[str] = Field(default_factory=list)  # chat ids (oc_…)
    rag: str | None = None
    rag_reason: str = ""
    customer: str = ""
    customer_contact: str = ""
    feasibility: int | None = None  # 1–5 (seed 002, 《项目机会评估报告》)
    contract_amount: float | None = None
    success_criteria: str = ""


class Milestone(Record):
    code: str = ""
    name: str = ""
    phase: str | None = None
    owner: Person | None = None
    target_date: date | None = None
    actual_date: date | None = None
    status: str | None = None  # a MilestoneStatus value, or an unknown option kept as typed
    variance_days: int | None = None
    note: str = ""
    baseline_end: date | None = None
    baseline_variance: int | None = None
    approver: list[Person] = Field(default_factory=list)
    informed: list[Person] = Field(default_factory=list)
    informed_depts: str = ""
    signoff: str | None = None  # 待验收 / 已通过 / 已退回
    signoff_note: str = ""

    @property
    def label(self) -> str:
        return f"{self.code} {self.name}".strip()


class Deliverable(Record):
    name: str = ""
    milestone: list[str] = Field(default_factory=list)  # milestone record ids
    standard: str = ""
    owner: Person | None = None
    due_date: date | None = None
    status: str | None = None
    done_date: date | None = None
    phase: str | None = None


class ExitCriterion(Record):
    criterion: str = ""
    milestone: list[str] = Field(default_factory=list)
    met: bool = False
    evidence: str | None = None  # the link of the URL field


class Task(Record):
    task_id: str = ""
    name: str = ""
    phase: str | None = None
    milestone: list[str] = Field(default_factory=list)
    owner: Person | None = None
    approver: list[Person] = Field(default_factory=list)
    consulted: list[Person] = Field(default_factory=list)
    informed: list[Person] = Field(default_factory=list)
    planned_start: date | None = None
    planned_end: date | None = None
    actual_start: date | None = None
    actual_end: date | None = None
    progress: float | None = None  # fraction 0..1
    status: str | None = None
    risk_note: str = ""
    note: str = ""
    predecessors: list[str] = Field(default_factory=list)
    variance_days: int | None = None
    description: str = ""
    parent: list[str] = Field(default_factory=list)  # WBS: the module (or phase task) above it
    owner_role: str | None = None
    approver_role: str = ""
    consulted_role: str = ""
    informed_role: str = ""
    tags: list[str] = Field(default_factory=list)
    baseline_end: date | None = None
    baseline_variance: int | None = None

    @property
    def label(self) -> str:
        return f"{self.task_id} {self.name}".strip()


class Risk(Record):
    risk: str = ""
    likelihood: str | None = None
    impact: str | None = None
    score: int | None = None
    mitigation: str = ""
    owner: Person | None = None
    status: str | None = None
    identified_on: date | None = None
    level: str | None = None  # 风险等级 as typed (seed 002); see `risk_level` for the derived one


class Dependency(Record):
    item: str = ""
    party: str = ""
    milestones: list[str] = Field(default_factory=list)
    status: str | None = None
    risk_level: str | None = None
    mitigation: str = ""
    owner: Person | None = None
    needed_by: date | None = None


class Issue(Record):
    issue: str = ""
    raised_at: datetime | None = None
    owner: Person | None = None
    severity: str | None = None
    status: str | None = None
    resolved_at: datetime | None = None
    tasks: list[str] = Field(default_factory=list)
    level: str | None = None


class Metric(Record):
    metric: str = ""
    target: str = ""
    current: str = ""
    method: str = ""
    updated_on: date | None = None


class ReportEntry(Record):
    week: str = ""
    rag: str | None = None
    summary: str = ""
    sent_at: datetime | None = None


class Communication(Record):
    meeting: str = ""
    frequency: str = ""
    participants: str = ""
    purpose: str = ""
    form: str = ""


class Payment(Record):
    item: str = ""
    amount: float | None = None
    due_date: date | None = None
    received: float | None = None
    received_on: date | None = None
    note: str = ""


class DataProblem(BaseModel):
    """A cell the service could not use. Names the table, record and field; never fatal."""

    model_config = ConfigDict(frozen=True)
    table: str  # table key
    record_id: str
    field: str  # field attr ("" for a whole-record problem)
    value: str = ""  # a short repr of the offending value
    reason: str  # Chinese first
    reason_en: str = ""

    def describe(self, lang: str = "zh") -> str:
        spec = T.table(self.table)
        fname = spec.field(self.field).name if self.field else ""
        if lang == "en":
            fen = spec.field(self.field).en if self.field else ""
            return f"{spec.en} {self.record_id} {fen}: {self.reason_en or self.reason} ({self.value})"
        return f"{spec.name} {self.record_id} {fname}：{self.reason}（{self.value}）"


class FieldGap(BaseModel):
    """A field the rules need that the Base no longer offers as the spec says (schema drift).

    `kind`: "missing" (deleted) or "retyped" (its type changed). Until it is repaired every answer
    and check that depends on it says what it cannot judge instead of reporting "0 items".
    """

    model_config = ConfigDict(frozen=True)
    table: str  # table key
    field: str  # field attr
    kind: str  # missing | retyped
    field_id: str = ""
    actual_name: str = ""
    actual_type: int = 0
    judges: str = ""  # what cannot be judged, Chinese ("逾期、即将到期")
    judges_en: str = ""

    def describe(self, lang: str = "zh") -> str:
        spec = T.table(self.table)
        f = spec.field(self.field)
        if lang == "en":
            what = "was deleted" if self.kind == "missing" else "was renamed/changed type"
            judge = self.judges_en or "the rules that use it"
            return (f"{spec.en}.{f.en} ({spec.name}.{f.name}) {what}: cannot judge {judge} "
                    f"→ `gtm init --repair`")
        what = "字段已被删除" if self.kind == "missing" else "字段已改名/改类型"
        return f"{spec.name}.{f.name} {what}，无法判断{self.judges or '相关规则'} → `gtm init --repair`"


MODEL_BY_TABLE: dict[str, type[Record]] = {
    "project": ProjectInfo, "milestone": Milestone, "deliverable": Deliverable,
    "exit_criterion": ExitCriterion, "task": Task, "risk": Risk, "dependency": Dependency,
    "issue": Issue, "metric": Metric, "report": ReportEntry, "communication": Communication,
    "payment": Payment,
}

LIST_BY_TABLE: dict[str, str] = {
    "milestone": "milestones", "deliverable": "deliverables", "exit_criterion": "exit_criteria",
    "task": "tasks", "risk": "risks", "dependency": "dependencies", "issue": "issues",
    "metric": "metrics", "report": "reports", "communication": "communications", "payment": "payments",
}


class PlanSnapshot(BaseModel):
    """Everything the checks need about one project at one read: rows plus data problems."""

    project_slug: str = "default"
    project: ProjectInfo = Field(default_factory=ProjectInfo)
    milestones: list[Milestone] = Field(default_factory=list)
    deliverables: list[Deliverable] = Field(default_factory=list)
    exit_criteria: list[ExitCriterion] = Field(default_factory=list)
    tasks: list[Task] = Field(default_factory=list)
    risks: list[Risk] = Field(default_factory=list)
    dependencies: list[Dependency] = Field(default_factory=list)
    issues: list[Issue] = Field(default_factory=list)
    metrics: list[Metric] = Field(default_factory=list)
    reports: list[ReportEntry] = Field(default_factory=list)
    communications: list[Communication] = Field(default_factory=list)
    payments: list[Payment] = Field(default_factory=list)
    problems: list[DataProblem] = Field(default_factory=list)
    blind: list[FieldGap] = Field(default_factory=list)  # fields lost to schema drift
    read_at: datetime | None = None

    def rows(self, table_key: str) -> list[Record]:
        if table_key == "project":
            return [self.project] if self.project.record_id else []
        return getattr(self, LIST_BY_TABLE[table_key])

    def milestone_by_id(self) -> dict[str, Milestone]:
        return {m.record_id: m for m in self.milestones}

    def people(self) -> dict[str, Person]:
        """Every person mentioned anywhere, by open_id (names resolved where Feishu sent them)."""
        found: dict[str, Person] = {}
        for table_key in ["project", *LIST_BY_TABLE]:
            for row in self.rows(table_key):
                for value in row.__dict__.values():
                    items = value if isinstance(value, list) else [value]
                    for item in items:
                        if isinstance(item, Person) and (item.open_id not in found or item.name):
                            found[item.open_id] = item
        return found

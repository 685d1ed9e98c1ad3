"""Domain models of a plan: what the rules, reports and the bot work on (no Feishu shapes here).

Attribute names match the `attr` of the table specs in `gtm.schemas.tables`, so the record codec
maps a row to a model by name. Status vocabularies are enums built from the specs' options.
One module (~430 lines): the row models, the snapshot that holds them and the data problem that
names them are read together everywhere.
"""
from __future__ import annotations

from datetime import date, datetime
from enum import Enum
from functools import cache
from typing import Iterable, get_args

from pydantic import BaseModel, ConfigDict, Field

from gtm.schemas import tables as T
from gtm.schemas.fields import FieldSpec, Kind, Option

# A plan date outside these years is a typo (1970-01-01, 9999-12-31): refused by the record codec,
# reported as a data problem, never forecast; `--as-of` and the holiday lists use the same bounds.
FIRST_YEAR, LAST_YEAR = 2000, 2100


def plausible_date(d: object) -> bool:
    """A date (or datetime) the plan can hold: between FIRST_YEAR and LAST_YEAR."""
    return isinstance(d, date) and FIRST_YEAR <= d.year <= LAST_YEAR


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

LEVEL3_SCORE = {"HIGH": 3, "MEDIUM": 2, "LOW": 1}  # docs/seeds/000 §9.2: 风险评分 = 可能性 × 影响


LABEL_CHARS = 40  # longest row / person label printed anywhere (cards, terminal, digests)
VALUE_CHARS = 60  # longest cell value quoted in a data problem


def clip_text(text: object, limit: int = LABEL_CHARS) -> str:
    """One line of at most `limit` characters; longer text ends in "…" (people's text is data:
    a 100,000-character name is printed as 40 characters, not 4.5 MB)."""
    if type(text) is str and len(text) <= limit and text.isprintable() and "  " not in text \
            and text[:1] != " " and text[-1:] != " ":
        return text  # the usual label: one line, short, single spaces (isprintable: no tab, newline or other space)
    s = " ".join(str(text).split())
    return s if len(s) <= limit else s[: limit - 1] + "…"


class Person(BaseModel):
    """A Feishu user as a person field reads (open_id plus display name when known)."""

    model_config = ConfigDict(frozen=True)
    open_id: str
    name: str = ""

    def label(self) -> str:
        """The name; a person Feishu sends without one (resigned, or outside the app's contact
        range) is marked as such, never shown as a raw ou_… id."""
        if self.name:
            return clip_text(self.name)
        return f"离职/未知成员…{self.open_id[-4:]}" if self.open_id else "未知成员"


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
    feasibility: int | None = None  # 1–5 (docs/seeds/002 §2.1, 《项目机会评估报告》)
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
    level: str | None = None  # 风险等级 as typed (docs/seeds/002 §2.2); see `risk_level` for the derived one


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
    """A cell the service could not use. Names the table, the row (its own ID or name), the field,
    the value (clipped), what is wrong and how to fix it; never fatal."""

    model_config = ConfigDict(frozen=True)
    table: str  # table key
    record_id: str
    field: str  # field attr ("" for a whole-record problem)
    value: str = ""  # a short repr of the offending value
    reason: str  # Chinese first
    reason_en: str = ""
    label: str = ""  # the row's own ID or name (任务ID + 名称, 编号 + 名称, 名称 …); "" when unknown
    fix: str = ""  # how to fix it (zh); "" → the generic advice for the field's type
    fix_en: str = ""

    def describe(self, lang: str = "zh") -> str:
        spec = T.table(self.table)
        f = spec.field(self.field) if self.field else None
        row = clip_text(self.label) if self.label else (f"记录 {self.record_id}" if lang != "en"
                                                          else f"record {self.record_id}")
        value = clip_text(self.value, VALUE_CHARS) if self.value else ""
        fix_zh, fix_en = (self.fix, self.fix_en) if self.fix else fix_for(f)
        if lang == "en":
            where = f"{spec.en} · {row}" + (f" · {f.en}" if f else "")
            shown = f" = “{value}”" if value else ""
            return f"{where}{shown}: {self.reason_en or self.reason}. Fix: {fix_en or fix_zh}"
        where = f"{spec.name} ·「{row}」" + (f" ·「{f.name}」" if f else "")
        shown = f"（当前值：{value}）" if value else ""
        return f"{where}{shown}：{self.reason}。怎么改：{fix_zh}"


def fix_for(f: FieldSpec | None) -> tuple[str, str]:
    """Generic advice for a bad cell of this field (when the problem brings none of its own)."""
    K = Kind
    if f is None:
        return ("在多维表格中打开这一行检查", "open this row in the Base and check it")
    k = f.kind
    if k in (K.DATE, K.DATETIME):
        return (f"把「{f.name}」改为 {FIRST_YEAR}–{LAST_YEAR} 年间的日期，如 2026-11-30",
                f"set “{f.en}” to a date between {FIRST_YEAR} and {LAST_YEAR}, e.g. 2026-11-30")
    if k in (K.USER, K.USERS):
        return (f"在「{f.name}」里从通讯录重新选择在职成员", f"pick a current member in “{f.en}”")
    if k in (K.SELECT, K.MULTI_SELECT) and f.options:
        names = "、".join(o.name for o in f.options)
        return (f"在「{f.name}」的下拉选项中选择：{names}", f"choose one of the options of “{f.en}”: {names}")
    if k in (K.NUMBER, K.CURRENCY, K.INTEGER):
        return (f"在「{f.name}」填写数字，如 12000", f"enter a number in “{f.en}”, e.g. 12000")
    if k is K.PROGRESS:
        return (f"在「{f.name}」填写 0–100% 之间的进度", f"enter a progress of 0–100% in “{f.en}”")
    if k is K.LINK:
        return (f"在「{f.name}」重新选择关联记录，或删除失效的关联", f"re-pick the linked rows in “{f.en}” or remove the stale link")
    if k is K.CHECKBOX:
        return (f"勾选或取消勾选「{f.name}」", f"tick or untick “{f.en}”")
    return (f"填写「{f.name}」", f"fill in “{f.en}”")


_LABEL_ATTRS = {"project": ("name",), "milestone": ("code", "name"), "deliverable": ("name",),
                "exit_criterion": ("criterion",), "task": ("task_id", "name"), "risk": ("risk",),
                "dependency": ("item",), "issue": ("issue",), "metric": ("metric",), "report": ("week",)}


def row_label(table: str, row: Record) -> str:
    """A row's own ID and/or name, clipped ("T3 渠道培训", "M2 发布准备就绪", a risk's text …)."""
    parts = [str(getattr(row, a, "") or "").strip() for a in _LABEL_ATTRS.get(table, ())]
    return clip_text(" ".join(p for p in parts if p))


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



@cache
def person_fields(cls: type[BaseModel]) -> tuple[str, ...]:
    """The fields of a row model that hold a `Person` or a list of them."""
    return tuple(name for name, info in cls.model_fields.items() if _holds_person(info.annotation))


def _holds_person(annotation: object) -> bool:
    return annotation is Person or any(_holds_person(a) for a in get_args(annotation))


def share_keys(cls: type[BaseModel]) -> None:
    """Let the rows of `cls` share one key table (the record codec builds 10^5 of them).

    CPython keeps the attributes of an instance whose fields are set one by one (as
    `sync.records.RecordDecoder` does) as bare values against a key table shared by the class:
    ~0.35 KB for a task instead of ~1.2 KB with a dict of its own. The table takes its key order
    from the first instance that sets attributes; an instance whose `__dict__` is assigned whole
    before that (pydantic's validation does) leaves the class without one. So the order is set
    here, as the class is made: one throwaway instance with every field, in declaration order."""
    obj = object.__new__(cls)
    for name in cls.model_fields:
        object.__setattr__(obj, name, None)


for _cls in (*MODEL_BY_TABLE.values(), DataProblem):  # the rules make 10^4 problems on a large plan
    share_keys(_cls)

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

    def labelled(self, problems: list[DataProblem]) -> list[DataProblem]:
        """`problems` with each row's own ID or name filled in (the record id means nothing to people)."""
        todo = [p for p in problems if not p.label and p.record_id]
        if not todo:
            return problems
        wanted: dict[str, set[str]] = {}
        for p in todo:
            wanted.setdefault(p.table, set()).add(p.record_id)
        # labels of the rows that have problems only (not of every row of a 100,000-row table)
        labels: dict[tuple[str, str], str] = {}
        for key, ids in wanted.items():
            try:
                rows = self.rows(key)
            except KeyError:
                continue
            for r in rows:
                if r.record_id in ids:
                    labels[(key, r.record_id)] = row_label(key, r)
        return [p.model_copy(update={"label": labels[(p.table, p.record_id)]})
                if not p.label and labels.get((p.table, p.record_id)) else p for p in problems]

    def milestone_by_id(self) -> dict[str, Milestone]:
        return {m.record_id: m for m in self.milestones}

    def people(self) -> dict[str, Person]:
        """Every person mentioned anywhere, by open_id (names resolved where Feishu sent them)."""
        found: dict[str, Person] = {}
        for table_key in ["project", *LIST_BY_TABLE]:
            rows = self.rows(table_key)
            if not rows:
                continue
            names = person_fields(type(rows[0]))
            for row in rows:
                # getattr, not row.__dict__: reading __dict__ gives each row a dict of its own (~60 B)
                for name in names:
                    value = getattr(row, name)
                    for item in (value if isinstance(value, list) else (value,)):
                        if isinstance(item, Person) and (item.open_id not in found or item.name):
                            found[item.open_id] = item
        return found

"""The shape of a plan template and how it is laid out on a calendar.

A template is plain data (phases, milestones with deliverables and exit criteria, tasks, risks,
dependencies, metrics), transcribed from the seed documents. `layout` turns it into rows for the
plan tables: dates counted from the project's start date, owners left empty (people assign them),
every status at its "not started" value. Links are given as milestone *codes*; provisioning
replaces them with record ids once the milestones exist.
"""
from __future__ import annotations

from datetime import date, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field

from gtm.schemas.plan import DependencyStatus, MilestoneStatus, RiskStatus, TaskStatus


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True)


class Phase(_Frozen):
    name: str  # the value in the Base's 阶段 column (the seed's wording)
    en: str = ""
    zh: str = ""  # the Chinese name when `name` is not Chinese (docs/seeds/000 §4: Pre-Launch（发布前准备）)
    aliases: tuple[str, ...] = ()  # values an older release wrote for this phase


class DeliverableT(_Frozen):
    name: str
    standard: str = ""  # 完成标准


class OutputT(_Frozen):
    """A deliverable that belongs to a phase but to no milestone (due at `offset_days`)."""

    name: str
    phase: str
    offset_days: int
    standard: str = ""


class ExampleT(_Frozen):
    """A task's values in the seed's worked example (`gtm init --example`)."""

    actual_start: int | None = None  # offsets from the start, like the planned dates
    actual_end: int | None = None
    progress: float | None = None  # fraction 0..1
    status: str = ""
    risk_note: str = ""
    note: str = ""


class MilestoneT(_Frozen):
    code: str
    name: str
    phase: str
    offset_days: int  # target date = start + offset_days
    deliverables: tuple[DeliverableT, ...] = ()
    exit_criteria: tuple[str, ...] = ()
    en: str = ""


class TaskT(_Frozen):
    task_id: str
    name: str
    phase: str
    milestone: str = ""  # milestone code
    start_offset: int = 0  # planned start = start + start_offset
    end_offset: int = 0
    note: str = ""
    description: str = ""  # detail that is not part of the seed's step name
    role: str = ""  # the owner's role (the 负责人 column of docs/seeds/003 §3: 经理, 设计师 …)
    raci: tuple[str, str, str] = ("", "", "")  # roles that approve / are consulted / are informed
    example: ExampleT | None = None  # in the seed's worked example (None: not in it)


class RiskT(_Frozen):
    risk: str
    likelihood: str | None = None  # 高/中/低, None: the team assesses it
    impact: str | None = None
    mitigation: str = ""


class DependencyT(_Frozen):
    item: str
    party: str
    milestones: tuple[str, ...] = ()  # milestone codes
    risk_level: str | None = None
    mitigation: str = ""


class CommunicationT(_Frozen):
    meeting: str  # 会议/沟通
    frequency: str = ""
    participants: str = ""
    purpose: str = ""
    form: str = ""


class PaymentT(_Frozen):
    item: str
    offset_days: int  # due date = start + offset_days
    note: str = ""


class MetricT(_Frozen):
    metric: str  # 指标
    target: str = ""  # 目标值
    method: str = ""  # 衡量方式


class PlanTemplate(_Frozen):
    """One plan template. `spacing` documents how the milestone dates were chosen."""

    key: str
    name: str
    en: str
    source: str  # which seed document it transcribes
    spacing: str  # how milestones are spaced (from the seed)
    phases: tuple[Phase, ...]
    milestones: tuple[MilestoneT, ...]
    tasks: tuple[TaskT, ...] = ()
    risks: tuple[RiskT, ...] = ()
    dependencies: tuple[DependencyT, ...] = ()
    metrics: tuple[MetricT, ...] = ()
    goal: str = ""
    launch_milestone: str = ""  # the milestone whose date is the project's key date
    launch_task: str = ""  # or the task whose planned start is (campaign: the go-live)
    outputs: tuple[OutputT, ...] = ()
    communications: tuple[CommunicationT, ...] = ()
    payments: tuple[PaymentT, ...] = ()
    success_criteria: str = ""
    # what people see: the report's title and the key date's name (Chinese, English), the money unit
    report_title: str = "项目周报"
    report_title_en: str = "Weekly report"
    key_date: str = "目标日期"
    key_date_en: str = "Target date"
    currency: str = "CNY"
    example_start: date | None = None  # the seed's own start date, for `--example`
    strict_permissions: bool = False  # docs/seeds/003 §2.4: owners edit their rows, members view
    extra: dict[str, Any] = Field(default_factory=dict)

    @property
    def has_example(self) -> bool:
        return any(t.example is not None for t in self.tasks)

    @property
    def span_days(self) -> int:
        """Days from the start to the plan's last date (every offset counts from the start, >= 0)."""
        offsets = [m.offset_days for m in self.milestones] + [o.offset_days for o in self.outputs]
        offsets += [p.offset_days for p in self.payments]
        for t in self.tasks:
            offsets += [t.start_offset, t.end_offset]
            if t.example is not None:
                offsets += [x for x in (t.example.actual_start, t.example.actual_end) if x is not None]
        return max(offsets, default=0)

    def phase_names(self, value: str) -> tuple[str, str]:
        """(Chinese, English) for a 阶段 value, also one an older release wrote; else the value."""
        for p in self.phases:
            if value == p.name or value in p.aliases:
                zh = f"{p.zh}（{p.en}）" if p.zh else p.name
                return zh, p.en or p.name
        return value, value

    def milestone(self, code: str) -> MilestoneT:
        for m in self.milestones:
            if m.code == code:
                return m
        raise KeyError(f"template {self.key}: no milestone {code}")

    def check(self) -> None:
        """Raise ValueError on an inconsistent template (unknown phase or milestone code)."""
        phases = {p.name for p in self.phases}
        codes = [m.code for m in self.milestones]
        if len(set(codes)) != len(codes):
            raise ValueError(f"template {self.key}: duplicate milestone codes")
        ids = [t.task_id for t in self.tasks]
        if len(set(ids)) != len(ids):
            raise ValueError(f"template {self.key}: duplicate task ids")
        for m in self.milestones:
            if m.phase not in phases:
                raise ValueError(f"template {self.key}: milestone {m.code} has unknown phase {m.phase}")
        for o in self.outputs:
            if o.phase not in phases:
                raise ValueError(f"template {self.key}: output {o.name} has unknown phase {o.phase}")
        for t in self.tasks:
            if t.phase not in phases:
                raise ValueError(f"template {self.key}: task {t.task_id} has unknown phase {t.phase}")
            if t.milestone and t.milestone not in codes:
                raise ValueError(f"template {self.key}: task {t.task_id} links unknown milestone {t.milestone}")
            if t.end_offset < t.start_offset:
                raise ValueError(f"template {self.key}: task {t.task_id} ends before it starts")
        for d in self.dependencies:
            for c in d.milestones:
                if c not in codes:
                    raise ValueError(f"template {self.key}: dependency {d.item} links unknown milestone {c}")


def layout(template: PlanTemplate, start: date, tz: ZoneInfo | str = "Asia/Shanghai",
           *, project_name: str = "", example: bool = False) -> dict[str, list[dict[str, Any]]]:
    """Rows per table key (attr → value) for a plan starting on `start`.

    Dates are calendar days (`date`); `tz` is accepted so callers pass the Base's zone along
    (the record codec turns a day into midnight of that zone). Link cells hold milestone codes.
    `example=True`: the seed's worked example instead of a clean plan (only the tasks the example
    lists, with their actual dates, progress, status, 风险/问题 and 备注).
    """
    del tz  # days are zone-free here; the codec applies the zone when writing
    if example and not template.has_example:
        raise ValueError(f"模板 {template.key} 没有示例计划（只有 campaign 有）/ template {template.key} has no "
                         f"worked example (only campaign has one)")
    day = lambda n: start + timedelta(days=n)  # noqa: E731 - tiny local helper
    ms_date = {m.code: day(m.offset_days) for m in template.milestones}
    launch_task = next((t for t in template.tasks if t.task_id == template.launch_task), None)
    launch = (day(launch_task.start_offset) if launch_task else None) or ms_date.get(template.launch_milestone) \
        or (max(ms_date.values()) if ms_date else None)
    project = {"name": project_name or template.name, "start_date": start, "launch_date": launch,
               "goal": template.goal, "success_criteria": template.success_criteria}
    milestones = [{"code": m.code, "name": m.name, "phase": m.phase, "target_date": ms_date[m.code],
                   "status": MilestoneStatus.NOT_STARTED.value} for m in template.milestones]
    with_phase = bool(template.outputs)  # a template with phase outputs records every deliverable's phase
    deliverables = [{"name": d.name, "milestone": [m.code], "standard": d.standard,
                     "due_date": ms_date[m.code], "status": MilestoneStatus.NOT_STARTED.value,
                     "phase": m.phase if with_phase else None}
                    for m in template.milestones for d in m.deliverables]
    if with_phase:
        deliverables += [{"name": o.name, "phase": o.phase, "standard": o.standard,
                          "due_date": day(o.offset_days), "status": MilestoneStatus.NOT_STARTED.value}
                         for o in template.outputs]
    exits = [{"criterion": c, "milestone": [m.code], "met": False}
             for m in template.milestones for c in m.exit_criteria]
    tasks = []
    for t in template.tasks:
        if example and t.example is None:
            continue
        row = {"task_id": t.task_id, "name": t.name, "phase": t.phase,
               "milestone": [t.milestone] if t.milestone else [],
               "planned_start": day(t.start_offset), "planned_end": day(t.end_offset),
               "progress": 0.0, "status": TaskStatus.NOT_STARTED.value, "note": t.note,
               "description": t.description, "owner_role": t.role or None,
               "approver_role": t.raci[0], "consulted_role": t.raci[1], "informed_role": t.raci[2]}
        if example and t.example is not None:
            x = t.example
            row.update({"actual_start": day(x.actual_start) if x.actual_start is not None else None,
                        "actual_end": day(x.actual_end) if x.actual_end is not None else None,
                        "progress": x.progress if x.progress is not None else row["progress"],
                        "status": x.status or row["status"], "risk_note": x.risk_note,
                        "note": x.note or row["note"]})
        tasks.append(row)
    risks = [{"risk": r.risk, "likelihood": r.likelihood, "impact": r.impact,
              "mitigation": r.mitigation, "status": RiskStatus.OPEN.value, "identified_on": start}
             for r in template.risks]
    deps = [{"item": d.item, "party": d.party, "milestones": list(d.milestones),
             "status": DependencyStatus.PENDING.value, "risk_level": d.risk_level,
             "mitigation": d.mitigation,
             "needed_by": min((ms_date[c] for c in d.milestones), default=None)}
            for d in template.dependencies]
    metrics = [{"metric": x.metric, "target": x.target, "method": x.method} for x in template.metrics]
    comms = [{"meeting": c.meeting, "frequency": c.frequency, "participants": c.participants,
              "purpose": c.purpose, "form": c.form} for c in template.communications]
    payments = [{"item": x.item, "due_date": day(x.offset_days), "note": x.note} for x in template.payments]
    if example:
        _example_milestones(milestones, tasks, deliverables, exits)
    rows = {"project": [project], "milestone": milestones, "deliverable": deliverables,
            "exit_criterion": exits, "task": tasks, "risk": risks, "dependency": deps,
            "metric": metrics, "communication": comms, "payment": payments}
    # drop empty cells: an empty value is "not set", not something to write
    return {k: [{a: v for a, v in row.items() if v not in (None, "", [])} for row in v]
            for k, v in rows.items()}


def _example_milestones(milestones: list[dict[str, Any]], tasks: list[dict[str, Any]],
                        deliverables: list[dict[str, Any]], exits: list[dict[str, Any]]) -> None:
    """In the worked example a milestone is done when every task linked to it is done (its
    actual date the last task's actual end), and so are its deliverables and exit criteria; the
    seed gives no milestone status of its own."""
    done = TaskStatus.DONE.value
    for m in milestones:
        linked = [t for t in tasks if m["code"] in t.get("milestone", [])]
        if linked and all(t.get("status") == done and t.get("actual_end") for t in linked):
            m["status"] = MilestoneStatus.DONE.value
            m["actual_date"] = max(t["actual_end"] for t in linked)
            for d in deliverables:
                if m["code"] in d.get("milestone", []):
                    d.update(status=MilestoneStatus.DONE.value, done_date=m["actual_date"])
            for c in exits:
                if m["code"] in c.get("milestone", []):
                    c["met"] = True

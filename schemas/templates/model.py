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
    name: str
    en: str = ""


class DeliverableT(_Frozen):
    name: str
    standard: str = ""  # 完成标准


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
    consulted: str = ""  # RACI C as department text (咨询部门), e.g. 设计部
    informed: str = ""  # RACI I as department text (知会部门), e.g. 销售部


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
    launch_milestone: str = ""  # the milestone whose date is the project's target launch date
    extra: dict[str, Any] = Field(default_factory=dict)

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
           *, project_name: str = "") -> dict[str, list[dict[str, Any]]]:
    """Rows per table key (attr → value) for a plan starting on `start`.

    Dates are calendar days (`date`); `tz` is accepted so callers pass the Base's zone along
    (the record codec turns a day into midnight of that zone). Link cells hold milestone codes.
    """
    del tz  # days are zone-free here; the codec applies the zone when writing
    day = lambda n: start + timedelta(days=n)  # noqa: E731 - tiny local helper
    ms_date = {m.code: day(m.offset_days) for m in template.milestones}
    launch = ms_date.get(template.launch_milestone) or (max(ms_date.values()) if ms_date else None)
    project = {"name": project_name or template.name, "start_date": start, "launch_date": launch,
               "goal": template.goal}
    milestones = [{"code": m.code, "name": m.name, "phase": m.phase, "target_date": ms_date[m.code],
                   "status": MilestoneStatus.NOT_STARTED.value} for m in template.milestones]
    deliverables = [{"name": d.name, "milestone": [m.code], "standard": d.standard,
                     "due_date": ms_date[m.code], "status": MilestoneStatus.NOT_STARTED.value}
                    for m in template.milestones for d in m.deliverables]
    exits = [{"criterion": c, "milestone": [m.code], "met": False}
             for m in template.milestones for c in m.exit_criteria]
    tasks = [{"task_id": t.task_id, "name": t.name, "phase": t.phase,
              "milestone": [t.milestone] if t.milestone else [],
              "planned_start": day(t.start_offset), "planned_end": day(t.end_offset),
              "progress": 0.0, "status": TaskStatus.NOT_STARTED.value, "note": t.note,
              "consulted_depts": t.consulted, "informed_depts": t.informed}
             for t in template.tasks]
    risks = [{"risk": r.risk, "likelihood": r.likelihood, "impact": r.impact,
              "mitigation": r.mitigation, "status": RiskStatus.OPEN.value, "identified_on": start}
             for r in template.risks]
    deps = [{"item": d.item, "party": d.party, "milestones": list(d.milestones),
             "status": DependencyStatus.PENDING.value, "risk_level": d.risk_level,
             "mitigation": d.mitigation,
             "needed_by": min((ms_date[c] for c in d.milestones), default=None)}
            for d in template.dependencies]
    metrics = [{"metric": x.metric, "target": x.target, "method": x.method} for x in template.metrics]
    rows = {"project": [project], "milestone": milestones, "deliverable": deliverables,
            "exit_criterion": exits, "task": tasks, "risk": risks, "dependency": deps,
            "metric": metrics}
    # drop empty cells: an empty value is "not set", not something to write
    return {k: [{a: v for a, v in row.items() if v not in (None, "", [])} for row in v]
            for k, v in rows.items()}

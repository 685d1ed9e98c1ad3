"""`gtm baseline set|show`: snapshot the approved plan into 基线结束, compare the plan against it.

`set` refreshes the mirror and writes 基线结束 := 计划结束 (tasks) / 目标日期 (milestones) and
基线偏差 through the ordinary write-back (conflict-checked, only service fields). `show` lists
every task and milestone with its baseline, today's end, the variance and the schedule forecast.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from gtm.bot.rules.baseline import baseline_variance, baseline_writes, current_end
from gtm.bot.rules.forecast import build_schedule
from gtm.bot.runtime import ProjectRuntime, Runtime
from gtm.schemas.plan import PlanSnapshot
from gtm.sync.writeback import write_back


@dataclass
class BaselineSet:
    rows: int  # tasks and milestones given a baseline
    cells_planned: int
    cells_written: int
    skipped: list[str]  # "table:record" edited by a person meanwhile


def set_baseline(runtime: Runtime, project: ProjectRuntime, now: datetime, *,
                 only_missing: bool = False) -> BaselineSet:
    mirror = runtime.mirror(project)
    mirror.refresh(now)
    snap = mirror.snapshot(now)
    out = baseline_writes(snap, project.policy, only_missing=only_missing)
    plan, report = write_back(out.writes, mirror, runtime.gateway)
    rows = len({(w.table, w.record_id) for w in out.writes if w.attr == "baseline_end"})
    return BaselineSet(rows, plan.count, report.written_cells, [f"{t}:{r}" for t, r in report.conflicts])


@dataclass(frozen=True)
class BaselineRow:
    table: str
    label: str
    owner: str
    baseline: str
    current: str
    variance: int | None
    forecast: str


def compare(snap: PlanSnapshot, now: datetime, project: ProjectRuntime) -> list[BaselineRow]:
    """Milestones (by target) then tasks (by planned end), each against its baseline."""
    policy = project.policy
    sched = build_schedule(snap, now, policy)
    rows: list[BaselineRow] = []
    for m in sorted(snap.milestones, key=lambda m: (str(m.target_date or ""), m.code)):
        f = sched.milestones.get(m.record_id)
        rows.append(BaselineRow("milestone", m.label, m.owner.label() if m.owner else "",
                                _iso(m.baseline_end), _iso(current_end("milestone", m, policy)),
                                baseline_variance("milestone", m, policy), _iso(f.finish if f else None)))
    for t in sorted(snap.tasks, key=lambda t: (str(t.planned_end or ""), t.task_id)):
        f = sched.tasks.get(t.record_id)
        rows.append(BaselineRow("task", t.label, t.owner.label() if t.owner else "",
                                _iso(t.baseline_end), _iso(current_end("task", t, policy)),
                                baseline_variance("task", t, policy), _iso(f.finish if f else None)))
    return rows


def _iso(d: object) -> str:
    return d.isoformat() if hasattr(d, "isoformat") else ""

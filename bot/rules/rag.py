"""Overall status (整体状态 绿/黄/红) with an explanation that names every reason and its records.

Red: a milestone overdue, an open risk scoring ≥ Policy.red_risk_score, an issue at 管理层 level,
a budget overrun. Yellow: a task or deliverable overdue, an open risk ≥ Policy.yellow_risk_score,
an issue at 项目经理 level, a 待确认 dependency within Policy.dependency_warning_days of (or past)
its 需要日期, a milestone gate violation, blocked tasks. Otherwise green.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TypeVar

from gtm.bot.rules import DIGEST_RECORDS, in_digest, local_date, make_ref, make_write, ref
from gtm.bot.rules.budget import BudgetOverrun
from gtm.bot.rules.calendar import WorkCalendar
from gtm.bot.rules.escalation import LadderItem
from gtm.bot.rules.gates import GateViolation
from gtm.bot.rules.overdue import OverdueItem
from gtm.bot.rules.queries import risk_score
from gtm.bot.rules.risk import is_open
from gtm.schemas.decisions import CellWrite, RagStatus, Reason, RecordRef
from gtm.schemas.money import format_money
from gtm.schemas.plan import DependencyStatus, EscalationLevel, PlanSnapshot, Rag
from gtm.schemas.settings import Policy

_T = TypeVar("_T")
_SHOWN = 5  # labels spelled out per reason in 状态说明; every record stays in Reason.records
_RAG_VALUE = {"green": Rag.GREEN.value, "yellow": Rag.YELLOW.value, "red": Rag.RED.value}


@dataclass
class Findings:
    """What the other rules found, so RAG does not recompute it."""

    overdue: list[OverdueItem] = field(default_factory=list)  # `Kept` from check_overdue: counted per table
    ladder: list[LadderItem] = field(default_factory=list)  # every open issue and blocked task, in plan order
    gates: list[GateViolation] = field(default_factory=list)
    budget: BudgetOverrun | None = None


def _reason(color: str, code: str, zh: str, en: str, refs: list[RecordRef],
            details: list[str] | None = None, details_en: list[str] | None = None,
            total: int | None = None) -> Reason:
    """`total` records (default: all of `refs`); `details` need only name the first `_SHOWN`.
    Under `digest_mode()` the reason keeps its first `DIGEST_RECORDS` records."""
    shown = details if details is not None else [r.label for r in refs[:_SHOWN]]
    shown_en = details_en if details_en is not None else shown
    count = len(refs) if total is None else total
    more = count - _SHOWN
    names = "、".join(shown[:_SHOWN]) + (f" 等共 {count} 项" if more > 0 else "")
    names_en = ", ".join(shown_en[:_SHOWN]) + (f" and {more} more" if more > 0 else "")
    return Reason(color=color, code=code, text=f"{zh}：{names}", text_en=f"{en}: {names_en}",
                  records=_kept(refs))


def _kept(items: list[_T]) -> list[_T]:
    """All of `items`; under `digest_mode()` the first `DIGEST_RECORDS` (what answers keep)."""
    return items[:DIGEST_RECORDS] if in_digest() else items


def evaluate_rag(snapshot: PlanSnapshot, now: datetime, policy: Policy, findings: Findings,
                 calendar: WorkCalendar | None = None) -> tuple[RagStatus, list[CellWrite]]:
    """The RAG colour with reasons, and writes of 整体状态 / 状态说明 when they change."""
    today = local_date(now, policy)
    red: list[Reason] = []
    yellow: list[Reason] = []

    by_table: dict[str, list[OverdueItem]] = {}
    for o in findings.overdue:
        by_table.setdefault(o.table, []).append(o)

    totals = getattr(findings.overdue, "totals", {})

    def overdue_reason(color: str, table: str, zh: str, en: str) -> Reason | None:
        items = by_table.get(table)
        if not items:
            return None
        refs = [o.ref or RecordRef(table=o.table, record_id=o.record_id, label=o.label)
                for o in _kept(items)]
        return _reason(color, f"{table}_overdue", zh, en, refs,
                       [f"{o.label}（逾期 {o.days_late} 天）" for o in items[:_SHOWN]],
                       [f"{o.label} ({o.days_late} d late)" for o in items[:_SHOWN]],
                       total=totals.get(table, len(items)))

    if (r := overdue_reason("red", "milestone", "里程碑逾期", "Milestones overdue")):
        red.append(r)
    hi, mid = [], []
    for risk in snapshot.risks:
        score = risk_score(risk)
        if not score or not is_open(risk):
            continue
        if score >= policy.red_risk_score:
            hi.append((ref("risk", risk), score))
        elif score >= policy.yellow_risk_score:
            mid.append((ref("risk", risk), score))
    if hi:
        red.append(_reason("red", "risk_high", f"高风险（评分≥{policy.red_risk_score}）",
                           f"High risks (score ≥ {policy.red_risk_score})", [r for r, _ in hi],
                           [f"{r.label}（{s}）" for r, s in hi], [f"{r.label} ({s})" for r, s in hi]))
    mgmt = EscalationLevel.MANAGEMENT.value
    pm = EscalationLevel.PM.value
    issues_m = [x for x in findings.ladder if x.table == "issue" and x.cell == mgmt]
    issues_p = [x for x in findings.ladder if x.table == "issue" and x.cell == pm]
    if issues_m:
        red.append(_reason("red", "issue_management", "问题已升级至管理层",
                           "Issues escalated to management",
                           [RecordRef(table="issue", record_id=x.record_id, label=x.label)
                            for x in issues_m]))
    if findings.budget is not None:
        b = findings.budget
        p = snapshot.project
        refs = [ref("project", p)] if p.record_id else []
        spent, budget = format_money(b.spent, policy.money_unit), format_money(b.budget, policy.money_unit)
        red.append(Reason(color="red", code="budget_overrun",
                          text=f"预算超支 {b.ratio * 100:.1f}%（花费 {spent} / 预算 {budget}）",
                          text_en=f"Budget overrun {b.ratio * 100:.1f}% (spent {spent} of {budget})", records=refs))

    if (r := overdue_reason("yellow", "task", "任务逾期", "Tasks overdue")):
        yellow.append(r)
    if (r := overdue_reason("yellow", "deliverable", "交付物逾期", "Deliverables overdue")):
        yellow.append(r)
    if mid:
        yellow.append(_reason("yellow", "risk_medium", f"中等风险（评分≥{policy.yellow_risk_score}）",
                              f"Medium risks (score ≥ {policy.yellow_risk_score})",
                              [r for r, _ in mid], [f"{r.label}（{s}）" for r, s in mid],
                              [f"{r.label} ({s})" for r, s in mid]))
    if issues_p:
        yellow.append(_reason("yellow", "issue_pm", "问题已升级至项目经理",
                              "Issues escalated to the project manager",
                              [RecordRef(table="issue", record_id=x.record_id, label=x.label)
                               for x in issues_p]))
    pending = DependencyStatus.PENDING.value
    deps = [d for d in snapshot.dependencies
            if d.status == pending and d.needed_by is not None
            and (d.needed_by - today).days <= policy.dependency_warning_days]
    if deps:
        yellow.append(_reason("yellow", "dependency_pending",
                              f"依赖待确认且 {policy.dependency_warning_days} 天内需要",
                              f"Pending dependencies needed within "
                              f"{policy.dependency_warning_days} days",
                              [ref("dependency", d) for d in deps],
                              [f"{ref('dependency', d).label}（{d.needed_by.isoformat()}）"
                               for d in deps],
                              [f"{ref('dependency', d).label} ({d.needed_by.isoformat()})"
                               for d in deps]))
    if findings.gates:
        yellow.append(_reason("yellow", "gate_violation", "里程碑完成但未满足退出标准",
                              "Milestones done without meeting exit criteria",
                              [g.milestone for g in findings.gates]))
    # the ladder has every blocked task, labelled: its labels are shared, not made again
    blocked = [x for x in findings.ladder if x.table == "task"]
    if blocked:
        yellow.append(_reason("yellow", "tasks_blocked", "任务阻塞", "Blocked tasks",
                              [make_ref("task", x.record_id, x.label) for x in _kept(blocked)],
                              total=len(blocked)))

    color = "red" if red else "yellow" if yellow else "green"
    status = RagStatus(color=color, reasons=red + yellow)
    writes: list[CellWrite] = []
    p = snapshot.project
    if p.record_id:
        value, text = _RAG_VALUE[color], status.explanation("zh")
        if p.rag != value:
            writes.append(make_write("project", p.record_id, "rag", value))
        if p.rag_reason != text:
            writes.append(make_write("project", p.record_id, "rag_reason", text))
    return status, writes

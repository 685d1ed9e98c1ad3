"""Budget overrun (docs/seeds/002 §2.4: 跟踪预算执行，超支10%以上需提交《变更申请》，说明原因及补救措施).

Over when 实际花费 > 预算 × (1 + Policy.budget_overrun_ratio). The notice key carries the overrun
band (whole 10 % steps over budget: 15 % → band 1, 23 % → band 2) so it is sent once per band.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime

from gtm.bot.rules import (
    RuleResult,
    management_ids,
    make_notice,
    pm_ids,
    problem,
    ref,
    require_aware,
)
from gtm.bot.rules.calendar import WorkCalendar
from gtm.schemas.money import format_money
from gtm.schemas.plan import PlanSnapshot
from gtm.schemas.settings import Policy


@dataclass(frozen=True)
class BudgetOverrun:
    budget: float
    spent: float
    ratio: float  # spent / budget − 1
    band: int


def _num(value: object) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        f = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def check_budget(snapshot: PlanSnapshot, now: datetime, policy: Policy,
                 calendar: WorkCalendar | None = None
                 ) -> tuple[RuleResult, BudgetOverrun | None]:
    """A change-request notice to the PM and management when spending is over budget."""
    require_aware(now)
    out = RuleResult()
    p = snapshot.project
    rid = p.record_id or "project"
    budget, spent = _num(p.budget), _num(p.spent)
    if p.budget is not None and budget is None:
        out.problems.append(problem("project", rid, "budget", p.budget, "预算不是数字",
                                    "budget is not a number"))
    if p.spent is not None and spent is None:
        out.problems.append(problem("project", rid, "spent", p.spent, "实际花费不是数字",
                                    "actual spend is not a number"))
    if spent is None:
        return out, None
    if budget is None or budget <= 0:
        if spent > 0:
            out.problems.append(problem("project", rid, "budget", p.budget,
                                        "已有实际花费但预算为空或不大于 0，无法检查超支",
                                        "spend recorded but the budget is empty or not positive"))
        return out, None
    ratio = round(spent / budget - 1, 9)
    if not math.isfinite(ratio):  # a budget like 1e-313: no overrun can be computed from it
        out.problems.append(problem("project", rid, "budget", p.budget, "预算过小，无法计算超支比例",
                                    "budget too small to compute an overrun"))
        return out, None
    if ratio <= round(policy.budget_overrun_ratio, 9):
        return out, None
    band = max(1, math.floor(ratio * 10 + 1e-9))
    over = BudgetOverrun(budget, spent, ratio, band)
    recipients = list(dict.fromkeys(pm_ids(snapshot) + management_ids(snapshot)))
    if not recipients:
        out.problems.append(problem("project", rid, "pm", "", "项目负责人和管理层为空，无法发送超支提醒",
                                    "no PM or management to tell about the overrun"))
        return out, over
    pct = f"{ratio * 100:.1f}%"
    unit = policy.money_unit
    spent_s, budget_s = format_money(spent, unit), format_money(budget, unit)
    limit = f"{policy.budget_overrun_ratio * 100:.0f}%"
    out.notices.append(make_notice(
        kind="budget", key=f"budget:project:{rid}:band{band}", recipients=recipients,
        record=ref("project", p) if p.record_id else None, digest=False,
        title=f"预算超支 {pct}：请提交《变更申请》",
        text=(f"项目「{p.name or rid}」实际花费 {spent_s} 已超出预算 {budget_s} 的 {pct}"
              f"（阈值 {limit}）。按规定超支 {limit} 以上需提交《变更申请》，说明原因及补救措施。"),
        text_en=(f"Project \"{p.name or rid}\" has spent {spent_s}, {pct} over its budget of "
                 f"{budget_s} (threshold {limit}). Submit a change request explaining why and "
                 f"how it will be recovered."),
        data={"budget": budget, "spent": spent, "ratio": ratio, "band": band, "currency": unit},
    ))
    return out, over

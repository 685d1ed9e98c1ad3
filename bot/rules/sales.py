"""The sales fields of docs/seeds/002 §2.1: the feasibility score of 《项目机会评估报告》 is 1–5 (a data problem
otherwise, naming the field and a good example)."""
from __future__ import annotations

from datetime import datetime

from gtm.bot.rules import RuleResult, problem, require_aware
from gtm.bot.rules.calendar import WorkCalendar
from gtm.schemas.plan import PlanSnapshot
from gtm.schemas.settings import Policy

FEASIBILITY = range(1, 6)


def check_sales_fields(snapshot: PlanSnapshot, now: datetime, policy: Policy,
                       calendar: WorkCalendar | None = None) -> RuleResult:
    require_aware(now)
    del policy, calendar  # the same signature as every rule; the range does not depend on them
    out = RuleResult()
    p = snapshot.project
    if p.feasibility is not None and p.feasibility not in FEASIBILITY:
        out.problems.append(problem("project", p.record_id, "feasibility", p.feasibility,
                                    "可行性评分应为 1–5 分（例：4）", "the feasibility score must be 1–5 (e.g. 4)"))
    return out

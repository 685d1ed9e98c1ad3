"""Risk score (docs/seeds/000 §9.1–§9.2, 风险评估矩阵): 风险评分 = 可能性 × 影响 with 高 3, 中 2, 低 1 (1–9).

A risk register in the shape of docs/seeds/002 §2.2 may give only a 风险等级 (高/中/低): then the score is that
level taken as both likelihood and impact (高 9, 中 4, 低 1), so it ranks with scored risks."""
from __future__ import annotations

from datetime import datetime

from gtm.bot.rules import RuleResult, make_write, problem, require_aware
from gtm.bot.rules.calendar import WorkCalendar
from gtm.schemas.plan import LEVEL3_SCORE, Level3, PlanSnapshot, Risk, RiskStatus
from gtm.schemas.settings import Policy
from gtm.schemas.tables import table

_SCORE_BY_VALUE = {Level3[k].value: v for k, v in LEVEL3_SCORE.items()}
_CLOSED = RiskStatus.CLOSED.value


def matrix_score(risk: Risk) -> int | None:
    """The score `check_risks` writes: likelihood × impact, else from the typed 风险等级; None when
    neither is usable (the score cards show is `gtm.bot.rules.queries.risk_score`)."""
    score = cell_score(risk.likelihood, risk.impact)
    return score if score is not None else level_score(risk)


def cell_score(likelihood: str | None, impact: str | None) -> int | None:
    """The score of one heat-map cell (可能性 × 影响), None unless both are 高/中/低."""
    a, b = _SCORE_BY_VALUE.get(likelihood or ""), _SCORE_BY_VALUE.get(impact or "")
    return a * b if a and b else None


def level_score(risk: Risk) -> int | None:
    """The score a typed 风险等级 stands for (高 9, 中 4, 低 1), None without one."""
    lv = _SCORE_BY_VALUE.get(risk.level or "")
    return lv * lv if lv else None


def is_open(risk: Risk) -> bool:
    return risk.status != _CLOSED


def check_risks(snapshot: PlanSnapshot, now: datetime, policy: Policy,
                calendar: WorkCalendar | None = None) -> tuple[RuleResult, dict[str, int]]:
    """Write 风险评分 where it differs from the computed score; return scores by record id."""
    require_aware(now)
    out = RuleResult()
    scores: dict[str, int] = {}
    for r in snapshot.risks:
        for attr, value in (("likelihood", r.likelihood), ("impact", r.impact)):
            name, en = table("risk").field(attr).name, table("risk").field(attr).en.lower()
            if value is not None and value not in _SCORE_BY_VALUE:
                out.problems.append(problem("risk", r.record_id, attr, value,
                                            f"{name}应为 高/中/低", f"{en} must be 高/中/低"))
        score = matrix_score(r)
        if score is None:
            continue
        scores[r.record_id] = score
        if r.score != score:
            out.writes.append(make_write("risk", r.record_id, "score", score))
    return out, scores

"""The portfolio: every active project on one card (RAG, top reason, overdue milestones, issues
at 管理层), red first. Pure: `build_portfolio(projects, now) -> PortfolioView`."""
from __future__ import annotations

from datetime import datetime
from typing import Sequence

from gtm.bot.cards import views as V
from gtm.bot.cards.render import Clip, render
from gtm.bot.rules import queries as Q
from gtm.schemas.decisions import CheckResult
from gtm.schemas.plan import PlanSnapshot
from gtm.schemas.settings import Policy

_ORDER = {"red": 0, "yellow": 1, "green": 2}


def build_portfolio(projects: Sequence[tuple[str, PlanSnapshot, CheckResult | None]], now: datetime,
                    policy: Policy | None = None) -> V.PortfolioView:
    policy = policy or Policy()
    rows = []
    for name, snap, check in projects:
        color = check.rag.color if check else {"绿色": "green", "黄色": "yellow", "红色": "red"}.get(
            snap.project.rag or "", "green")
        reasons = V.reasons_of(check.rag) if check else []
        top_zh = reasons[0].text if reasons else (snap.project.rag_reason or "一切按计划进行")
        top_en = reasons[0].text_en if reasons else (snap.project.rag_reason or "On track")
        mgmt = sum(1 for i in Q.open_issues(snap) if Q.issue_level(i, now, policy, check) >= 2)
        progress = V.milestone_progress(snap, now, policy)
        rows.append(V.PortfolioRow(name=name or snap.project.name or snap.project_slug, slug=snap.project_slug,
                                   rag=V.RAG_LABEL[color], top_reason=top_zh, top_reason_en=top_en,
                                   overdue_milestones=Q.overdue_milestones(snap, now, policy),
                                   management_issues=mgmt, next_milestone=V.next_milestone(progress),
                                   next_milestone_en=V.next_milestone(progress, "en")))
    rows.sort(key=lambda r: (_ORDER[r.rag.color], -len(r.overdue_milestones), -r.management_issues, r.name))
    counts = {c: sum(1 for r in rows if r.rag.color == c) for c in ("red", "yellow", "green")}
    return V.PortfolioView(as_of=now.astimezone(policy.tz).strftime("%Y-%m-%d %H:%M"),
                           rows=Clip.of(rows, 50), counts=counts)


def portfolio_card(view: V.PortfolioView, locale: str = "zh") -> dict:
    return render("portfolio", view, locale)

"""月度汇报 (docs/seeds/000 §10.1): the monthly portfolio card to management. Pure builder + a job.

For the month just ended (the calendar month before `now`'s, in the policy zone), per project:
milestones due in that month by their baseline (基线结束, else 目标日期) — hit (达成 on or before
it) or missed (达成 late, or still open) with the days against the baseline; then across
projects the top risks (评分 desc) and the decisions needed (issues at 管理层, budget over the
threshold, milestones awaiting sign-off, slips threatening milestones). `run_monthly` sends one
card per management person, once per month (ledger key `monthly:YYYY-MM`).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, Sequence

from pydantic import BaseModel, Field

from gtm.bot.cards import views as V
from gtm.bot.cards.render import Clip, render
from gtm.bot.checks.check import make_sender
from gtm.bot.checks.notify import Sender
from gtm.bot.checks.posting import evaluate_or_last_known
from gtm.bot.rules import local_date
from gtm.bot.rules import queries as Q
from gtm.bot.rules.raci import reached
from gtm.bot.runtime import Runtime
from gtm.schemas.decisions import CheckResult
from gtm.schemas.plan import PlanSnapshot
from gtm.schemas.settings import Policy


class MonthlyMilestone(BaseModel):
    project: str
    label: str
    due: str  # the baseline (or target) date
    actual: str = ""
    hit: bool
    days: int | None = None  # actual (or today) − due, days


class MonthlyView(BaseModel):
    month: str  # "2026-11"
    as_of: str
    hit: Clip[MonthlyMilestone] = Field(default_factory=Clip)
    missed: Clip[MonthlyMilestone] = Field(default_factory=Clip)
    risks: Clip[V.ReportLine] = Field(default_factory=Clip)
    decisions: Clip[V.ReportLine] = Field(default_factory=Clip)
    projects: int = 0


def month_before(day: date) -> tuple[date, date]:
    """(first, last) day of the calendar month before `day`'s."""
    last = day.replace(day=1) - timedelta(days=1)
    return last.replace(day=1), last


def build_monthly(projects: Sequence[tuple[str, PlanSnapshot, CheckResult | None]], now: datetime,
                  policy: Policy | None = None) -> MonthlyView:
    policy = policy or Policy()
    today = local_date(now, policy)
    first, last = month_before(today)
    hit, missed, risks, decisions = [], [], [], []
    for name, snap, check in projects:
        for m in snap.milestones:
            due = m.baseline_end or m.target_date
            if not isinstance(due, date) or not first <= due <= last:
                continue
            done = reached(m) and isinstance(m.actual_date, date)
            end = m.actual_date if done else today
            row = MonthlyMilestone(project=name, label=m.label, due=due.isoformat(),
                                   actual=m.actual_date.isoformat() if done else "",
                                   hit=bool(done and m.actual_date <= due), days=(end - due).days)
            (hit if row.hit else missed).append(row)
        for r in Q.open_risks(snap):
            s = Q.risk_score(r)
            if s >= policy.yellow_risk_score:
                risks.append((s, V.ReportLine(text=f"{name}：{r.risk}（评分 {s}；应对：{r.mitigation or '未填写'}）",
                                              text_en=f"{name}: {r.risk} (score {s}; mitigation: "
                                                      f"{r.mitigation or 'none'})")))
        for i in Q.open_issues(snap):
            if Q.issue_level(i, now, policy, check) >= 2:
                decisions.append(V.ReportLine(text=f"{name}：问题需管理层决策 —— {i.issue}",
                                              text_en=f"{name}: issue needs management — {i.issue}"))
        p = snap.project
        if p.budget and (p.spent or 0) > p.budget * (1 + policy.budget_overrun_ratio):
            zh, en = V.budget_lines(snap, policy)
            decisions.append(V.ReportLine(text=f"{name}：预算超支需批准变更申请（{zh}）",
                                          text_en=f"{name}: budget overrun, change request to approve ({en})"))
        for m in snap.milestones:
            if m.status == "完成" and not reached(m):
                decisions.append(V.ReportLine(text=f"{name}：{m.label} 待审批人验收",
                                              text_en=f"{name}: {m.label} awaits sign-off"))
        for slip in Q.slips_of(snap, check, now, policy)[:3]:
            if slip.milestones:
                decisions.append(V.ReportLine(text=f"{name}：{slip.text}", text_en=f"{name}: {slip.text_en}"))
    risks.sort(key=lambda x: -x[0])
    return MonthlyView(month=f"{first:%Y-%m}", as_of=now.astimezone(policy.tz).strftime("%Y-%m-%d %H:%M"),
                       hit=Clip.of(hit, 30), missed=Clip.of(missed, 30),
                       risks=Clip.of([x for _, x in risks[:5]]), decisions=Clip.of(decisions, 20),
                       projects=len(projects))


def monthly_card(view: MonthlyView, locale: str = "zh") -> dict:
    return render("monthly", view, locale)


@dataclass
class MonthlyRun:
    view: MonthlyView
    cards: dict[str, dict[str, Any]]
    outcomes: list[Any] = field(default_factory=list)


def run_monthly(runtime: Runtime, now: datetime, *, post: bool = True, sender: Sender | None = None) -> MonthlyRun:
    """The monthly card for every management person across every active project."""
    projects = runtime.projects()
    rows, managers = [], {}
    for p in projects:
        snapshot, check, _ = evaluate_or_last_known(runtime, p, now)
        rows.append((snapshot.project.name or p.name, snapshot, check))
        for person in snapshot.project.management:
            managers.setdefault(person.open_id, person)
    policy = projects[0].policy if projects else runtime.settings.effective_policy()
    view = build_monthly(rows, now, policy)
    card = monthly_card(view, policy.locale)
    run = MonthlyRun(view, {m: card for m in managers})
    if post and managers:
        sender = sender or make_sender(runtime)
        for open_id in managers:
            run.outcomes.append(sender.dispatch_card("_portfolio", f"monthly:{view.month}", open_id, card, now,
                                                     policy, rule="monthly", record=view.month))
    return run

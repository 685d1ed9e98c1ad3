"""The view function of each command about plan content (`gtm.bot.chat.intents` lists them):
`(Command, AskContext) -> (template name, view-model)`. Pure, no I/O.

`@on_project` answers about one project (picked by `gtm.bot.chat.scope`); the others read the
asker's projects. Help and the answer to an unknown question read the command table itself and
live beside it in `gtm.bot.chat.intents`; typed plan updates are `gtm.bot.chat.updates`.
"""
from __future__ import annotations

from datetime import timedelta

from gtm.bot.cards import views as V
from gtm.bot.rules import local_date
from gtm.bot.cards.render import Clip
from gtm.bot.chat.command import Answer, Command
from gtm.bot.chat.context import AskContext, ProjectData, now_of
from gtm.bot.chat.item_lists import item_list, my_tasks_view
from gtm.bot.chat.lookup import not_found
from gtm.bot.chat.project_views import (
    critical_path_view,
    data_problems_view,
    dependencies_view,
    issues_view,
    milestone_view,
    risks_view,
    status_view,
)
from gtm.bot.chat.scope import no_projects, on_project, require_project
from gtm.bot.checks.portfolio import build_portfolio
from gtm.bot.checks.weekly_report import build_weekly_report
from gtm.bot.rules.workload import workload


def answer_portfolio(cmd: Command, ctx: AskContext) -> Answer:
    pool = ctx.projects or ([ctx.current()] if ctx.current() else [])
    return "portfolio", build_portfolio([(p.name, p.snapshot, p.check) for p in pool], now_of(ctx), ctx.policy)


def answer_my_tasks(cmd: Command, ctx: AskContext) -> Answer:
    scope = ctx.scope()
    if not scope:
        return ("not_linked", V.NotLinkedView(chat_id=ctx.chat_id)) if ctx.chat_type != "p2p" else (
            "message", no_projects())
    return "items", my_tasks_view(ctx, scope, everything=cmd.name == "my_tasks_all")


def answer_overdue(cmd: Command, ctx: AskContext) -> Answer:
    day = local_date(now_of(ctx), ctx.policy).isoformat()
    if ctx.chat_type == "p2p" and not cmd.arg and not cmd.project and ctx.current() is None:
        # p2p: the asker's own overdue items across all their projects, grouped by project (a
        # project named in the question asks for that project's overdue items, as in its group)
        scope = ctx.scope()
        if scope:
            return "items", item_list("overdue", ctx, lambda ix: ix.owned_by(ctx.asker).before(day), scope)
    p = require_project(cmd, ctx)
    if isinstance(p, tuple):
        return p
    day = local_date(now_of(ctx), p.policy or ctx.policy).isoformat()
    return "items", item_list("overdue", ctx, lambda ix: ix.all.before(day), [p])


@on_project
def answer_due(p: ProjectData, cmd: Command, ctx: AskContext) -> Answer:
    """Due this week (Monday–Sunday), or next week with 下周 / next week in the question."""
    day = local_date(now_of(ctx), p.policy or ctx.policy)
    start = day - timedelta(days=day.weekday())
    kind = "this_week"
    if cmd.when == "next_week":
        start, kind = start + timedelta(days=7), "next_week"
    end = start + timedelta(days=6)
    return "items", item_list(kind, ctx, lambda ix: ix.all.between(start.isoformat(), end.isoformat()), [p])


@on_project
def answer_status(p: ProjectData, cmd: Command, ctx: AskContext) -> Answer:
    return "status", status_view(p, now_of(ctx), p.policy or ctx.policy)


@on_project
def answer_workload(p: ProjectData, cmd: Command, ctx: AskContext) -> Answer:
    """负载: open items per person for the next two weeks, over-allocated people first."""
    people, start, end = workload(p.snapshot, now_of(ctx), ctx.policy)
    rows = [V.WorkloadRow(name=x.name, items=len(x.items), overdue=x.overdue, load_days=x.load_days,
                          capacity=x.capacity, pct=x.pct, over=x.over, sample=x.items[:V.WORKLOAD_LISTED],
                          more=max(0, len(x.items) - V.WORKLOAD_LISTED)) for x in people]
    rows.sort(key=lambda r: (not r.over, -r.pct, -r.items))
    return "workload", V.WorkloadView(project_name=p.name, window=f"{start:%m-%d} – {end:%m-%d}",
                                      rows=Clip.of(rows, 30), over=sum(1 for r in rows if r.over))


@on_project
def answer_critical_path(p: ProjectData, cmd: Command, ctx: AskContext) -> Answer:
    return "critical_path", critical_path_view(p, now_of(ctx), ctx.policy)


@on_project
def answer_milestone(p: ProjectData, cmd: Command, ctx: AskContext) -> Answer:
    view = milestone_view(p, cmd.arg, now_of(ctx), p.policy or ctx.policy)
    return ("milestone" if isinstance(view, V.MilestoneView) else "message"), view


@on_project
def answer_task(p: ProjectData, cmd: Command, ctx: AskContext) -> Answer:
    """Items whose task ID (or milestone code) is in the question."""
    want = {c.upper() for c in cmd.codes or [cmd.arg]}
    missing = not_found(p.snapshot, want)
    if missing is not None:
        return "message", missing
    return "items", item_list("lookup", ctx, lambda ix: [i for i in ix.all.items if i.code.upper() in want], [p])


@on_project
def answer_risks(p: ProjectData, cmd: Command, ctx: AskContext) -> Answer:
    return "risks", risks_view(p, now_of(ctx), p.policy or ctx.policy)


@on_project
def answer_dependencies(p: ProjectData, cmd: Command, ctx: AskContext) -> Answer:
    return "dependencies", dependencies_view(p, now_of(ctx), p.policy or ctx.policy)


@on_project
def answer_issues(p: ProjectData, cmd: Command, ctx: AskContext) -> Answer:
    return "issues", issues_view(p, now_of(ctx), p.policy or ctx.policy)


@on_project
def answer_data_problems(p: ProjectData, cmd: Command, ctx: AskContext) -> Answer:
    return "data_problems", data_problems_view(p)


@on_project
def answer_report(p: ProjectData, cmd: Command, ctx: AskContext) -> Answer:
    policy = p.policy or ctx.policy  # in a p2p answer, the picked project's own policy
    prev = ctx.previous_report if p.snapshot is ctx.snapshot else None
    return "report", build_weekly_report(p.snapshot, p.check, now_of(ctx), policy.timezone, prev,
                                         project_name=p.name, policy=policy)

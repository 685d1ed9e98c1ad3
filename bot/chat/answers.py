"""Answer a parsed command with a card: snapshot + check → view-model → template. Pure, no I/O.

The transport builds an `AskContext` (the project of the chat, its latest snapshot and check
result, the asker, `now`) and calls `answer(cmd, ctx)`; in p2p chats and for 全部项目 the context
also carries every project of the asker (`ctx.projects`).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Callable

from pydantic import BaseModel

from gtm.bot.cards import views as V
from gtm.bot.cards.render import Clip, render
from gtm.bot.rules.risk import cell_score
from gtm.bot.chat.parse import Command, Handler, display, normalise, registry
from gtm.bot.rules.schedule import build_schedule, critical_paths
from gtm.schemas.decisions import CheckResult
from gtm.schemas.plan import Level3, PlanSnapshot
from gtm.schemas.settings import Policy
from gtm.schemas.templates import get_template

LIST_CAP = 60  # rows a list answer keeps before "还有 N 项" (the renderer may cut further)


@dataclass
class ProjectData:
    """One project the asker belongs to (for p2p answers and the portfolio)."""

    name: str
    snapshot: PlanSnapshot
    check: CheckResult | None = None
    slug: str = ""
    index: V.ItemIndex | None = None  # open items of `snapshot`, when the caller has them cached
    policy: Policy | None = None  # the project's own (its template's words, money unit); else the context's

    def items(self) -> V.ItemIndex:
        """The open-item index of the snapshot (built here when the caller did not bring one)."""
        if self.index is None:
            self.index = V.ItemIndex(self.snapshot)
        return self.index


@dataclass
class AskContext:
    project_name: str = ""
    project_slug: str = ""
    snapshot: PlanSnapshot | None = None  # None: the chat is not linked to a project
    check: CheckResult | None = None
    now: datetime | None = None  # aware; required
    policy: Policy = field(default_factory=Policy)
    asker: str = ""  # open_id
    locale: str = "zh"
    chat_id: str = ""
    chat_type: str = "group"  # group | p2p
    projects: list[ProjectData] = field(default_factory=list)  # every project of the asker
    previous_report: dict | None = None  # last weekly summary, for "what changed"
    index: V.ItemIndex | None = None  # open items of `snapshot` (see `ProjectData.index`)

    @property
    def tz(self):
        return self.policy.tz

    def current(self) -> ProjectData | None:
        if self.snapshot is None:
            return None
        if self.index is None:  # built once per context: `current()` is called several times
            self.index = V.ItemIndex(self.snapshot)
        return ProjectData(self.project_name or self.snapshot.project.name or self.project_slug,
                           self.snapshot, self.check, self.project_slug or self.snapshot.project_slug,
                           self.index)

    def scope(self) -> list[ProjectData]:
        """The chat's project, or (p2p without one) all the asker's projects."""
        cur = self.current()
        return [cur] if cur else list(self.projects)


def _now(ctx: AskContext) -> datetime:
    if ctx.now is None or ctx.now.tzinfo is None:
        raise ValueError("AskContext.now must be an aware datetime")
    return ctx.now


def _as_of(ctx: AskContext) -> str:
    return _now(ctx).astimezone(ctx.tz).strftime("%Y-%m-%d %H:%M")


def _message(title: str, title_en: str, text: str, text_en: str, color: str = "grey",
             choices: list[str] | None = None) -> V.MessageView:
    return V.MessageView(title=title, title_en=title_en, text=text, text_en=text_en, color=color,
                         choices=choices or [])


def _pick_project(cmd: Command, ctx: AskContext) -> ProjectData | V.MessageView:
    """The project a command is about: the arg names one, else the chat's, else the only one."""
    pool = list(ctx.projects)
    cur = ctx.current()
    if cur and all(p.snapshot is not cur.snapshot for p in pool):
        pool.insert(0, cur)
    if cmd.arg and cmd.name in ("status", "report", "overdue", "this_week", "risks", "dependencies",
                                "issues", "data_problems", "critical_path", "workload"):
        want = normalise(cmd.arg)
        hits = [p for p in pool if want in (normalise(p.name), normalise(p.slug))]
        hits = hits or [p for p in pool if want in normalise(p.name) or want == normalise(p.slug)]
        if len(hits) == 1:
            return hits[0]
        if not hits and cur is None:
            return _message("没有这个项目", "No such project", f"找不到项目「{cmd.arg}」。",
                            f"No project named “{cmd.arg}”.", choices=[p.name for p in pool])
        if len(hits) > 1:
            return _message("有多个项目匹配", "Several projects match", "请写全项目名称：",
                            "Please give the full project name:", choices=[p.name for p in hits])
    if cur:
        return cur
    if len(pool) == 1:
        return pool[0]
    if not pool:
        return _message("你还没有项目", "No projects", "你不在任何项目中。",
                        "You are not in any project.")
    return _message("请指定项目", "Which project?", "你在多个项目中，请在命令后写项目名，例如「状态 项目名」：",
                    "You are in several projects; add the project name, e.g. “status NAME”:",
                    choices=[p.name for p in pool])


# ---- answers ------------------------------------------------------------------------------
def status_view(p: ProjectData, now: datetime, policy: Policy) -> V.StatusView:
    snap = p.snapshot
    rag = p.check.rag if p.check else None
    color = rag.color if rag else (
        {"绿色": "green", "黄色": "yellow", "红色": "red"}.get(snap.project.rag or "", "green"))
    index = p.items()
    progress = V.milestone_progress(snap, now, policy, index.milestone_counts)
    day = V.today(now, policy)
    overdue = index.all.before(day.isoformat())
    zh, en = V.budget_lines(snap, policy)
    words = get_template(policy.template)
    reasons = V.reasons_of(rag) if rag else []
    if not reasons and snap.project.rag_reason:
        reasons = [V.ReasonView(color=color,
                                text=snap.project.rag_reason, text_en=snap.project.rag_reason)]
    return V.StatusView(
        project_name=p.name, as_of=now.astimezone(policy.tz).strftime("%Y-%m-%d %H:%M"),
        rag=V.RAG_LABEL[color], header_color=color, reasons=Clip.of(reasons, 10),
        milestones=Clip.of(progress, 12), next_milestone=V.next_milestone(progress),
        next_milestone_en=V.next_milestone(progress, "en"),
        launch_date=V.iso(snap.project.launch_date), key_date=words.key_date, key_date_en=words.key_date_en,
        overdue=len(overdue),
        blocked=index.blocked,
        open_issues=len(V.open_issues(snap)),
        high_risks=sum(1 for r in V.open_risks(snap) if V.risk_score(r) >= policy.red_risk_score),
        budget_line=zh, budget_line_en=en, data_problems=len(snap.problems),
        slips=Clip.of([V.ReasonView(color="orange", text=x.text, text_en=x.text_en)
                       for x in V.slips_of(snap, p.check, now, policy)], 8))


def milestone_view(p: ProjectData, key: str, now: datetime, policy: Policy) -> V.MilestoneView | V.MessageView:
    snap = p.snapshot
    want = normalise(key)
    found = None
    for m in snap.milestones:
        if want in (normalise(m.code), normalise(m.label), normalise(m.name)):
            found = m
            break
    if found is None:
        for m in snap.milestones:
            if want and (want in normalise(m.label)):
                found = m
                break
    if found is None:
        return _message("没有这个里程碑", "No such milestone", f"找不到里程碑「{key}」。可选：",
                        f"No milestone “{key}”. Known:", choices=[m.label for m in snap.milestones])
    prog = next(x for x in V.milestone_progress(snap, now, policy, p.items().milestone_counts)
                if x.record_id == found.record_id)
    dels = [d for d in snap.deliverables if found.record_id in d.milestone]
    crits = [c for c in snap.exit_criteria if found.record_id in c.milestone]
    tasks = [t for t in snap.tasks if found.record_id in t.milestone]
    color = {"green": "green", "red": "red", "blue": "blue", "orange": "orange"}.get(prog.status.color, "blue")
    return V.MilestoneView(
        project_name=p.name, code=found.code, name=found.name,
        phase=get_template(policy.template).phase_names(found.phase)[0] if found.phase else "",
        phase_en=get_template(policy.template).phase_names(found.phase)[1] if found.phase else "",
        owner_id=found.owner.open_id if found.owner else "",
        owner_name=found.owner.label() if found.owner else "",
        target=prog.target, actual=prog.actual, status=prog.status, header_color=color,
        variance_days=prog.variance_days, pct=prog.pct, baseline=prog.baseline,
        baseline_variance=prog.baseline_variance,
        deliverables=Clip.of([V.DeliverableRow(name=d.name, standard=d.standard,
                                               owner_name=d.owner.label() if d.owner else "",
                                               due=V.iso(d.due_date), status=V.status_label(d.status))
                              for d in dels], 30),
        criteria=Clip.of([V.CriterionRow(criterion=c.criterion, met=c.met) for c in crits], 30),
        tasks_open=sum(1 for t in tasks if not V.is_done(t.status)), tasks_total=len(tasks),
        note=found.note)


def _item_list(kind: str, ctx: AskContext, pick: Callable[[V.ItemIndex], list[V.OpenItem]],
               projects: list[ProjectData]) -> V.ItemListView:
    """`pick` chooses a project's items from its index, already in `by_due` order; only the
    rows the card keeps (LIST_CAP) become view rows, the rest are counted."""
    now = _now(ctx)
    day = V.today(now, ctx.policy)
    titles = {"my_tasks": ("我的任务", "My tasks"), "overdue": ("逾期事项", "Overdue items"),
              "this_week": ("本周到期", "Due this week"), "next_week": ("下周到期", "Due next week"),
              "lookup": ("查找结果", "Found")}
    groups, total = [], 0
    for p in projects:
        items = pick(p.items())
        extra: list[V.ItemRow] = []
        if kind == "my_tasks":  # also the asker's open issues (after the dated items)
            for i in V.open_issues(p.snapshot):
                if i.owner and i.owner.open_id == ctx.asker:
                    extra.append(V.ItemRow(project=p.name, table="issue", record_id=i.record_id,
                                           name=i.issue, owner_id=ctx.asker, owner_name=i.owner.label(),
                                           status=V.status_label(i.status)))
        n = len(items) + len(extra)
        if n:
            total += n
            shown = [it.to_row(day, p.name) for it in items[:LIST_CAP]]
            shown += extra[:LIST_CAP - len(shown)]
            rows = Clip(items=shown, more=n - len(shown)) if n > LIST_CAP else Clip.of(shown)
            groups.append(V.ItemGroup(project=p.name if len(projects) > 1 else "", rows=rows))
    zh, en = titles[kind]
    gaps = [g for p in projects for g in p.snapshot.blind if (g.table, g.field) in ITEM_FIELDS]
    return V.ItemListView(kind=kind, title=zh, title_en=en, groups=groups, total=total,
                          project_name=projects[0].name if len(projects) == 1 else "",
                          as_of=_as_of(ctx), blind=[g.describe("zh") for g in gaps],
                          blind_en=[g.describe("en") for g in gaps])


# the fields item lists (my tasks / overdue / this week) are judged by
ITEM_FIELDS = frozenset({("task", "planned_end"), ("task", "status"), ("deliverable", "due_date"),
                         ("deliverable", "status"), ("milestone", "target_date"), ("milestone", "status")})


MY_TASKS_DAYS = 14  # 我的任务 shows what is overdue and what is due in the next two weeks


def my_tasks_view(ctx: AskContext, scope: list[ProjectData], everything: bool = False) -> V.ItemListView:
    """The asker's overdue items and those due in the next `MY_TASKS_DAYS` days (plus open
    issues they own); the rest is counted as "还有 N 项" with a button showing all of them."""
    day = V.today(_now(ctx), ctx.policy)
    horizon = (day + timedelta(days=MY_TASKS_DAYS)).isoformat()
    if everything:
        view = _item_list("my_tasks", ctx, lambda ix: ix.owned_by(ctx.asker).items, scope)
        view.title, view.title_en = "我的全部任务", "All my tasks"
        return view
    view = _item_list("my_tasks", ctx, lambda ix: ix.owned_by(ctx.asker).before(horizon + "~"), scope)
    later = sum(len(p.items().owned_by(ctx.asker).items) - len(p.items().owned_by(ctx.asker).before(horizon + "~"))
                for p in scope)
    view.later = later
    if later:
        view.more_button = V.HelpChoice(zh="查看全部", en="Show all", value={"a": "ask", "q": "我的全部任务"})
    return view


def risks_view(p: ProjectData, now: datetime, policy: Policy) -> V.RiskView:
    risks = V.open_risks(p.snapshot)
    rows = []
    for r in risks:
        s = V.risk_score(r)
        rows.append(V.RiskRow(risk=r.risk, likelihood=r.likelihood or "", impact=r.impact or "", score=s,
                              level=V.Label(zh=str(s), en=str(s), color=V.risk_color(s, policy)),
                              mitigation=r.mitigation, owner_name=r.owner.label() if r.owner else "",
                              status=r.status or ""))
    rows.sort(key=lambda x: -x.score)
    levels = [Level3.HIGH, Level3.MEDIUM, Level3.LOW]
    heat = []
    for lk in levels:
        cells = []
        for im in reversed(levels):  # impact 低, 中, 高
            n = sum(1 for r in risks if r.likelihood == lk.value and r.impact == im.value)
            s = cell_score(lk.value, im.value) or 0
            color = V.risk_color(s, policy) if n else "neutral"
            cells.append(V.Label(zh=f"{n}" if n else "·", en=f"{n}" if n else "·", color=color))
        heat.append(V.HeatRow(likelihood=V.Label(zh=lk.value, en=lk.en), cells=cells))
    return V.RiskView(project_name=p.name, as_of=now.astimezone(policy.tz).strftime("%Y-%m-%d"),
                      top=Clip.of(rows, 10), heat=heat, open_count=len(risks),
                      high_count=sum(1 for r in rows if r.score >= policy.red_risk_score))


def dependencies_view(p: ProjectData, now: datetime, policy: Policy) -> V.DependencyView:
    day = V.today(now, policy)
    ms = p.snapshot.milestone_by_id()
    rows = [V.DependencyRow(item=d.item, party=d.party,
                            milestones=", ".join(ms[m].code or ms[m].name for m in d.milestones if m in ms),
                            status=V.status_label(d.status), risk_level=d.risk_level or "",
                            needed_by=V.iso(d.needed_by), owner_name=d.owner.label() if d.owner else "",
                            mitigation=d.mitigation, at_risk=V.dependency_at_risk(d, day, policy))
            for d in p.snapshot.dependencies]
    rows.sort(key=lambda r: (not r.at_risk, r.status.zh != "待确认", r.needed_by or "9999"))
    return V.DependencyView(project_name=p.name, rows=Clip.of(rows, LIST_CAP),
                            pending=sum(1 for r in rows if r.status.zh == "待确认"),
                            at_risk=sum(1 for r in rows if r.at_risk))


def issues_view(p: ProjectData, now: datetime, policy: Policy) -> V.IssueView:
    rows = []
    for i in V.open_issues(p.snapshot):
        lvl = V.issue_level(i, now, policy, p.check)
        rows.append(V.IssueRow(record_id=i.record_id, issue=i.issue,
                               owner_name=i.owner.label() if i.owner else "", severity=i.severity or "",
                               status=V.status_label(i.status), age_days=V.issue_age(i, now, policy),
                               level=V.LEVEL_LABEL[lvl]))
    rows.sort(key=lambda r: (-V.LEVEL_BY_NAME[r.level.zh], -r.age_days))
    return V.IssueView(project_name=p.name, rows=Clip.of(rows, LIST_CAP),
                       management=sum(1 for r in rows if r.level.zh == V.LEVEL_LABEL[2].zh))


def data_problems_view(p: ProjectData) -> V.DataProblemView:
    probs = list(p.snapshot.problems)
    if p.check:
        seen = set(probs)
        probs += [x for x in p.check.problems if x not in seen]
    rows = []
    for x in probs:
        try:
            rows.append(V.ProblemRow(text=x.describe("zh"), text_en=x.describe("en")))
        except KeyError:  # unknown table/field key: still show it, naming the record
            rows.append(V.ProblemRow(text=f"{x.table} {x.record_id} {x.field}：{x.reason}",
                                     text_en=f"{x.table} {x.record_id} {x.field}: {x.reason_en or x.reason}"))
    return V.DataProblemView(project_name=p.name, rows=Clip.of(rows, LIST_CAP))


def critical_path_view(p: ProjectData, now: datetime, policy: Policy) -> V.CriticalPathView:
    """关键路径: per open milestone, the forecast against the target and the deciding chain."""
    sched = build_schedule(p.snapshot, now, policy)
    rows = []
    for path in critical_paths(p.snapshot, sched):
        m, f = path.milestone, path.forecast
        steps, steps_en = [], []
        for st in path.steps:
            who = st.task.owner.label() if st.task.owner else ""
            fin = V.iso(st.forecast.finish)
            late = bool(st.forecast.finish and st.task.planned_end and st.forecast.finish > st.task.planned_end)
            mark = "⚠️ " if late else ""
            steps.append(f"{mark}{st.task.label}" + (f"（{who}）" if who else "") + f" · 预计 {fin}")
            steps_en.append(f"{mark}{st.task.label}" + (f" ({who})" if who else "") + f" · forecast {fin}")
        if path.dependency is not None:
            d = path.dependency
            steps.append(f"⚠️ 依赖「{d.item}」待确认 · 需要日期 {V.iso(d.needed_by)}")
            steps_en.append(f"⚠️ Dependency \"{d.item}\" pending · needed by {V.iso(d.needed_by)}")
        rows.append(V.PathMilestone(label=m.label, owner_name=m.owner.label() if m.owner else "",
                                    target=V.iso(f.target), forecast=V.iso(f.finish), late_days=f.late_days,
                                    steps=steps, steps_en=steps_en))
    return V.CriticalPathView(project_name=p.name, as_of=now.astimezone(policy.tz).strftime("%Y-%m-%d %H:%M"),
                              milestones=Clip.of(rows, 12), late=sum(1 for r in rows if r.late_days > 0),
                              problems=len(sched.cycles))


def help_view(ctx: AskContext, unknown: str = "", suggested: list[str] | None = None) -> V.HelpView:
    """Every listed intent with its help text; for an unknown question, the question as typed
    and the nearest intents as buttons."""
    intents = registry()
    cmds = [V.HelpCommand(zh=it.example or it.zh, en=it.example or it.en, what=it.help_zh, what_en=it.help_en)
            for it in intents.values() if it.listed]
    choices = [V.HelpChoice(zh=intents[n].zh, en=intents[n].en, value={"a": "ask", "q": intents[n].zh})
               for n in (suggested or []) if n in intents][:3]
    return V.HelpView(project_name=ctx.project_name, unknown=unknown, suggestions=[c.zh for c in choices],
                      choices=choices, commands=cmds)


def _require_project(cmd: Command, ctx: AskContext) -> ProjectData | tuple[str, BaseModel]:
    """The project a command is about, or the answer to give instead (not linked / which one)."""
    if ctx.snapshot is None and ctx.chat_type != "p2p":
        return "not_linked", V.NotLinkedView(chat_id=ctx.chat_id)
    picked = _pick_project(cmd, ctx)
    if isinstance(picked, V.MessageView):
        return "message", picked
    return picked


def on_project(fn: Callable[[ProjectData, Command, AskContext], tuple[str, BaseModel]]) -> Handler:
    """A handler for one project's answer: finds the project first (see `_require_project`)."""
    def handler(cmd: Command, ctx: AskContext) -> tuple[str, BaseModel]:
        p = _require_project(cmd, ctx)
        return p if isinstance(p, tuple) else fn(p, cmd, ctx)

    handler.__name__ = getattr(fn, "__name__", "handler")
    return handler


def answer_help(cmd: Command, ctx: AskContext) -> tuple[str, BaseModel]:
    return "help", help_view(ctx)


def answer_portfolio(cmd: Command, ctx: AskContext) -> tuple[str, BaseModel]:
    from gtm.bot.checks.portfolio import build_portfolio

    pool = ctx.projects or ([ctx.current()] if ctx.current() else [])
    return "portfolio", build_portfolio([(p.name, p.snapshot, p.check) for p in pool], _now(ctx), ctx.policy)


def answer_my_tasks(cmd: Command, ctx: AskContext) -> tuple[str, BaseModel]:
    scope = ctx.scope()
    if not scope:
        return ("not_linked", V.NotLinkedView(chat_id=ctx.chat_id)) if ctx.chat_type != "p2p" else (
            "message", _message("你还没有项目", "No projects", "你不在任何项目中。", "You are not in any project."))
    return "items", my_tasks_view(ctx, scope, everything=cmd.name == "my_tasks_all")


def answer_overdue(cmd: Command, ctx: AskContext) -> tuple[str, BaseModel]:
    day = V.today(_now(ctx), ctx.policy).isoformat()
    if ctx.chat_type == "p2p" and not cmd.arg and ctx.current() is None:
        # p2p: the asker's own overdue items across all their projects, grouped by project
        scope = ctx.scope()
        if scope:
            return "items", _item_list("overdue", ctx, lambda ix: ix.owned_by(ctx.asker).before(day), scope)
    p = _require_project(cmd, ctx)
    if isinstance(p, tuple):
        return p
    day = V.today(_now(ctx), p.policy or ctx.policy).isoformat()
    return "items", _item_list("overdue", ctx, lambda ix: ix.all.before(day), [p])


@on_project
def answer_due(p: ProjectData, cmd: Command, ctx: AskContext) -> tuple[str, BaseModel]:
    """Due this week (Monday–Sunday), or next week with 下周 / next week in the question."""
    day = V.today(_now(ctx), p.policy or ctx.policy)
    start = day - timedelta(days=day.weekday())
    kind = "this_week"
    if cmd.when == "next_week":
        start, kind = start + timedelta(days=7), "next_week"
    end = start + timedelta(days=6)
    return "items", _item_list(kind, ctx, lambda ix: ix.all.between(start.isoformat(), end.isoformat()), [p])


@on_project
def answer_status(p: ProjectData, cmd: Command, ctx: AskContext) -> tuple[str, BaseModel]:
    return "status", status_view(p, _now(ctx), p.policy or ctx.policy)


@on_project
def answer_workload(p: ProjectData, cmd: Command, ctx: AskContext) -> tuple[str, BaseModel]:
    """负载: open items per person for the next two weeks, over-allocated people first."""
    from gtm.bot.rules.workload import workload

    people, start, end = workload(p.snapshot, _now(ctx), ctx.policy)
    rows = [V.WorkloadRow(name=x.name, items=len(x.items), overdue=x.overdue, load_days=x.load_days,
                          capacity=x.capacity, pct=x.pct, over=x.over, sample=x.items[:3]) for x in people]
    rows.sort(key=lambda r: (not r.over, -r.pct, -r.items))
    return "workload", V.WorkloadView(project_name=p.name, window=f"{start:%m-%d} – {end:%m-%d}",
                                      rows=Clip.of(rows, 30), over=sum(1 for r in rows if r.over))


@on_project
def answer_critical_path(p: ProjectData, cmd: Command, ctx: AskContext) -> tuple[str, BaseModel]:
    return "critical_path", critical_path_view(p, _now(ctx), ctx.policy)


@on_project
def answer_milestone(p: ProjectData, cmd: Command, ctx: AskContext) -> tuple[str, BaseModel]:
    view = milestone_view(p, cmd.arg, _now(ctx), p.policy or ctx.policy)
    return ("milestone" if isinstance(view, V.MilestoneView) else "message"), view


@on_project
def answer_task(p: ProjectData, cmd: Command, ctx: AskContext) -> tuple[str, BaseModel]:
    """Items whose task ID (or milestone code) is in the question."""
    want = {c.upper() for c in cmd.codes or [cmd.arg]}
    return "items", _item_list("lookup", ctx, lambda ix: [i for i in ix.all.items if i.code.upper() in want], [p])


@on_project
def answer_risks(p: ProjectData, cmd: Command, ctx: AskContext) -> tuple[str, BaseModel]:
    return "risks", risks_view(p, _now(ctx), p.policy or ctx.policy)


@on_project
def answer_dependencies(p: ProjectData, cmd: Command, ctx: AskContext) -> tuple[str, BaseModel]:
    return "dependencies", dependencies_view(p, _now(ctx), p.policy or ctx.policy)


@on_project
def answer_issues(p: ProjectData, cmd: Command, ctx: AskContext) -> tuple[str, BaseModel]:
    return "issues", issues_view(p, _now(ctx), p.policy or ctx.policy)


@on_project
def answer_data_problems(p: ProjectData, cmd: Command, ctx: AskContext) -> tuple[str, BaseModel]:
    return "data_problems", data_problems_view(p)


@on_project
def answer_report(p: ProjectData, cmd: Command, ctx: AskContext) -> tuple[str, BaseModel]:
    from gtm.bot.checks.weekly_report import build_weekly_report

    policy = p.policy or ctx.policy  # in a p2p answer, the picked project's own policy
    prev = ctx.previous_report if p.snapshot is ctx.snapshot else None
    return "report", build_weekly_report(p.snapshot, p.check, _now(ctx), policy.timezone, prev,
                                         project_name=p.name, policy=policy)


def answer_unknown(cmd: Command, ctx: AskContext) -> tuple[str, BaseModel]:
    if ctx.snapshot is None and ctx.chat_type != "p2p":
        return "not_linked", V.NotLinkedView(chat_id=ctx.chat_id)
    cur = ctx.current()
    if cur is not None:  # "渠道培训 完成": a task by name (the router cannot know names)
        from gtm.bot.chat.updates import answer_update, named_update

        if named_update(cmd.text, cur):
            return answer_update(cmd, ctx)
    if cur:  # a bare milestone name the parser could not know
        for m in cur.snapshot.milestones:
            if cmd.text and (cmd.text in (normalise(m.name), normalise(m.label))):
                return "milestone", milestone_view(cur, m.code or m.name, _now(ctx), ctx.policy)
    return "help", help_view(ctx, cmd.original or cmd.text, cmd.suggested)


def view_for(cmd: Command, ctx: AskContext) -> tuple[str, BaseModel]:
    """(template name, view-model) answering `cmd` — the testable core of `answer`."""
    _now(ctx)
    if cmd.name == "unknown":
        return answer_unknown(cmd, ctx)
    it = registry().get(cmd.name)
    if it is None:
        raise ValueError(f"no handler for command {cmd.name!r}")
    return it.handler(cmd, ctx)


def answer(cmd: Command, ctx: AskContext) -> dict[str, Any]:
    """The card (JSON 2.0 dict) answering `cmd` in `ctx`."""
    name, view = view_for(cmd, ctx)
    return render(name, view, ctx.locale)


def not_linked_card(chat_id: str = "", locale: str = "zh") -> dict[str, Any]:
    return render("not_linked", V.NotLinkedView(chat_id=chat_id), locale)


__all__ = ["AskContext", "ProjectData", "answer", "view_for", "not_linked_card", "display"]

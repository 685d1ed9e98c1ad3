"""View-models of one project's answers: status, a milestone, risks, dependencies, issues, data
problems, the critical path. Pure functions of `ProjectData`, `now` and the policy.
"""
from __future__ import annotations

from datetime import date, datetime

from gtm.bot.cards import views as V
from gtm.bot.catalogue import (
    FORECAST_FROM_TODAY,
    Word,
    overdue_phrase,
    risk_basis,
    risks_by_level_phrase,
    risks_off_map_phrase,
    status_word,
)
from gtm.bot.rules import local_date
from gtm.bot.rules import queries as Q
from gtm.bot.cards.render import Clip
from gtm.bot.chat.context import ProjectData
from gtm.bot.chat.item_lists import LIST_CAP
from gtm.bot.chat.scope import message
from gtm.bot.chat.text import normalise
from gtm.bot.rules.risk import cell_score, level_score
from gtm.bot.rules.forecast import build_schedule
from gtm.bot.rules.schedule import PathStep, critical_paths
from gtm.schemas.plan import Level3, Risk, Task, TaskStatus
from gtm.schemas.settings import Policy
from gtm.schemas.templates import get_template


def status_view(p: ProjectData, now: datetime, policy: Policy) -> V.StatusView:
    snap = p.snapshot
    rag = p.check.rag if p.check else None
    color = rag.color if rag else (
        {"绿色": "green", "黄色": "yellow", "红色": "red"}.get(snap.project.rag or "", "green"))
    index = p.items()
    progress = V.milestone_progress(snap, now, policy, index.milestone_counts)
    day = local_date(now, policy)
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
        open_issues=len(Q.open_issues(snap)),
        high_risks=sum(1 for r in Q.open_risks(snap) if Q.risk_score(r) >= policy.red_risk_score),
        budget_line=zh, budget_line_en=en, data_problems=len(snap.problems),
        slips=Clip.of([V.ReasonView(color="orange", text=x.text, text_en=x.text_en)
                       for x in Q.slips_of(snap, p.check, now, policy)], 8))


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
        return message("没有这个里程碑", "No such milestone", f"找不到里程碑「{key}」。可选：",
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
        tasks_open=sum(1 for t in tasks if not Q.is_done(t.status)), tasks_total=len(tasks),
        note=found.note)


def risks_view(p: ProjectData, now: datetime, policy: Policy) -> V.RiskView:
    risks = Q.open_risks(p.snapshot)
    rows = []
    for r in risks:
        s = Q.risk_score(r)
        lk, im, st = (status_word(v or "") for v in (r.likelihood, r.impact, r.status))
        basis = risk_basis(s, r.likelihood or "", r.impact or "", r.level or "",
                           cell_score(r.likelihood, r.impact) is not None)
        rows.append(V.RiskRow(risk=r.risk, likelihood=lk.zh, likelihood_en=lk.en, impact=im.zh, impact_en=im.en,
                              score=s, level=V.Label(zh=str(s), en=str(s), color=V.risk_color(s, policy)),
                              mitigation=r.mitigation, owner_name=r.owner.label() if r.owner else "",
                              status=st.zh, status_en=st.en, basis=basis.zh, basis_en=basis.en))
    rows.sort(key=lambda x: -x.score)
    heat, by_level, off_map = _heat_map(risks, policy)
    notes = ([risks_by_level_phrase(by_level)] if by_level else []) + (
        [risks_off_map_phrase(off_map)] if off_map else [])
    return V.RiskView(project_name=p.name, as_of=now.astimezone(policy.tz).strftime("%Y-%m-%d"),
                      top=Clip.of(rows, 10), heat=heat, open_count=len(risks),
                      high_count=sum(1 for r in rows if r.score >= policy.red_risk_score),
                      unscored_count=sum(1 for r in rows if not r.score),
                      heat_notes=[w.zh for w in notes], heat_notes_en=[w.en for w in notes])


def _heat_cell(risk: Risk) -> tuple[str, str] | None:
    """Where a risk sits on the map: (可能性, 影响); a typed 风险等级 alone as (等级, 等级), as it is
    scored (`gtm.bot.rules.risk.level_score`); None when it cannot be placed."""
    if cell_score(risk.likelihood, risk.impact) is not None:
        return risk.likelihood or "", risk.impact or ""
    if level_score(risk) is not None:
        return risk.level or "", risk.level or ""
    return None


def _heat_map(risks: list[Risk], policy: Policy) -> tuple[list[V.HeatRow], int, int]:
    """The 3×3 map (likelihood 高→低, impact 低→高), how many risks it places by 风险等级 and how
    many it cannot place, so the map and the header count the same risks."""
    cells = [_heat_cell(r) for r in risks]
    levels = [Level3.HIGH, Level3.MEDIUM, Level3.LOW]
    heat = []
    for lk in levels:
        row = []
        for im in reversed(levels):  # impact 低, 中, 高
            n = cells.count((lk.value, im.value))
            s = cell_score(lk.value, im.value) or 0
            color = V.risk_color(s, policy) if n else "neutral"
            row.append(V.Label(zh=f"{n}" if n else "·", en=f"{n}" if n else "·", color=color))
        heat.append(V.HeatRow(likelihood=V.Label(zh=lk.value, en=lk.en), cells=row))
    by_level = sum(1 for r, c in zip(risks, cells) if c and cell_score(r.likelihood, r.impact) is None)
    return heat, by_level, cells.count(None)


def dependencies_view(p: ProjectData, now: datetime, policy: Policy) -> V.DependencyView:
    day = local_date(now, policy)
    ms = p.snapshot.milestone_by_id()
    rows = [V.DependencyRow(item=d.item, party=d.party,
                            milestones=", ".join(ms[m].code or ms[m].name for m in d.milestones if m in ms),
                            status=V.status_label(d.status), risk_level=d.risk_level or "",
                            needed_by=V.iso(d.needed_by), owner_name=d.owner.label() if d.owner else "",
                            mitigation=d.mitigation, at_risk=Q.dependency_at_risk(d, day, policy))
            for d in p.snapshot.dependencies]
    rows.sort(key=lambda r: (not r.at_risk, r.status.zh != "待确认", r.needed_by or "9999"))
    return V.DependencyView(project_name=p.name, rows=Clip.of(rows, LIST_CAP),
                            pending=sum(1 for r in rows if r.status.zh == "待确认"),
                            at_risk=sum(1 for r in rows if r.at_risk))


def issues_view(p: ProjectData, now: datetime, policy: Policy) -> V.IssueView:
    rows = []
    for i in Q.open_issues(p.snapshot):
        lvl = Q.issue_level(i, now, policy, p.check)
        rows.append(V.IssueRow(record_id=i.record_id, issue=i.issue,
                               owner_name=i.owner.label() if i.owner else "", severity=i.severity or "",
                               status=V.status_label(i.status), age_days=Q.issue_age(i, now, policy),
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
    """关键路径: per open milestone, the forecast against the target, the deciding chain and the
    overdue or blocked tasks feeding it (forecast from today, so they may still fit the target)."""
    sched = build_schedule(p.snapshot, now, policy)
    rows = []
    for path in critical_paths(p.snapshot, sched):
        m, f = path.milestone, path.forecast
        groups = ((False, path.overdue), (True, path.blocked))
        trouble = {st.task.record_id: _trouble(st.task, sched.today, blocked)
                   for blocked, group in groups for st in group}
        steps, steps_en = [], []
        for st in path.steps:
            late = bool(st.forecast.finish and st.task.planned_end and st.forecast.finish > st.task.planned_end)
            line = _step_line("⚠️ " if late else "", st, trouble.get(st.task.record_id))
            steps.append(line.zh)
            steps_en.append(line.en)
        if path.dependency is not None:
            d = path.dependency
            steps.append(f"⚠️ 依赖「{d.item}」待确认 · 需要日期 {V.iso(d.needed_by)}")
            steps_en.append(f"⚠️ Dependency \"{d.item}\" pending · needed by {V.iso(d.needed_by)}")
        on_chain = {st.task.record_id for st in path.steps}
        watch = [_step_line("⛔ " if blocked else "⏰ ", st, trouble[st.task.record_id])
                 for blocked, group in groups for st in group if st.task.record_id not in on_chain]
        rows.append(V.PathMilestone(label=m.label, owner_name=m.owner.label() if m.owner else "",
                                    target=V.iso(f.target), forecast=V.iso(f.finish), late_days=f.late_days,
                                    steps=steps, steps_en=steps_en, troubled=len(trouble),
                                    watch=[w.zh for w in watch], watch_en=[w.en for w in watch]))
    return V.CriticalPathView(project_name=p.name, as_of=now.astimezone(policy.tz).strftime("%Y-%m-%d %H:%M"),
                              milestones=Clip.of(rows, 12), late=sum(1 for r in rows if r.late_days > 0),
                              troubled=sum(1 for r in rows if r.troubled and not r.late_days),
                              problems=len(sched.cycles), **_forecast_note(rows))


def _trouble(task: Task, today: date, blocked: bool) -> Word:
    """阻塞 / 逾期 3 天 (3 days overdue) for a task feeding a milestone."""
    if blocked:
        return status_word(TaskStatus.BLOCKED.value)
    late = (today - task.planned_end).days if isinstance(task.planned_end, date) else 0
    return overdue_phrase(late) if late > 0 else status_word(TaskStatus.OVERDUE.value)


def _step_line(mark: str, step: PathStep, what: Word | None) -> Word:
    """A task on a milestone's chain or feeding it: "⏰ T-301 名称（王芳）· 逾期 3 天 · 预计 12-08"."""
    t = step.task
    who = t.owner.label() if t.owner else ""
    fin = V.iso(step.forecast.finish)
    return Word(f"{mark}{t.label}" + (f"（{who}）" if who else "") + (f" · {what.zh}" if what else "") + f" · 预计 {fin}",
                f"{mark}{t.label}" + (f" ({who})" if who else "") + (f" · {what.en}" if what else "")
                + f" · forecast {fin}")


def _forecast_note(rows: list[V.PathMilestone]) -> dict[str, str]:
    """Why a milestone with overdue or blocked tasks can still be forecast on time."""
    if not any(r.troubled for r in rows):
        return {}
    return {"note": FORECAST_FROM_TODAY.zh, "note_en": FORECAST_FROM_TODAY.en}

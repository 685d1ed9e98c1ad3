"""The weekly report (docs/seeds/000 §10.2 汇报模板): 整体状态 / 本周完成 / 下周计划 / 风险问题 / 关键指标 / 需要支持.

Pure: `build_weekly_report(snapshot, check, now, tz, previous, undelivered, system_problems)`
gives a `WeeklyReportView` (rendered by the `report` template, with a milestone bar chart and the
里程碑检查清单 table). "This week" is the seven local days ending today (the report goes out on
Monday morning, so that is the week just finished); "next week" the seven days after today.
`report_summary(view)` is what the store keeps as the weekly snapshot, so next week's report can
say what changed; `report_archive_row(view)` is the row for the 周报 table.
"""
from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from gtm.bot.cards import views as V
from gtm.bot.cards.render import Clip, clip_text, plain, render
from gtm.bot.catalogue import days_phrase, working_days_phrase
from gtm.bot.rules import queries as Q
from gtm.bot.rules.raci import reached
from gtm.schemas.decisions import CheckResult
from gtm.schemas.plan import PlanSnapshot, TaskStatus
from gtm.schemas.settings import Policy
from gtm.schemas.templates import get_template

SECTION_CAP = 30
CHART_CAP = 20


def _rag_color(snapshot: PlanSnapshot, check: CheckResult | None) -> str:
    if check is not None:
        return check.rag.color
    return {"绿色": "green", "黄色": "yellow", "红色": "red"}.get(snapshot.project.rag or "", "green")


def _in(d: date | None, start: date, end: date) -> bool:
    return d is not None and start <= d <= end


def _owner(row: Any) -> str:
    return row.owner.label() if getattr(row, "owner", None) else ""


def _line(zh: str, en: str) -> V.ReportLine:
    return V.ReportLine.model_construct(text=zh, text_en=en)  # hot path at 10k rows: no re-validation


def _done_this_week(snap: PlanSnapshot, start: date, end: date) -> list[V.ReportLine]:
    out = []
    unmet = {mid for c in snap.exit_criteria if not c.met for mid in c.milestone}
    for m in snap.milestones:
        # a milestone marked done with an exit criterion unmet is not "reached": the gate reason
        # of the same report says so, and the two lines must not contradict each other
        # and a milestone with a 审批人 is reached only once signed off (验收 = 已通过)
        if reached(m) and _in(m.actual_date, start, end) and m.record_id not in unmet:
            out.append(_line(f"里程碑 {m.label} 达成", f"Milestone {m.label} reached"))
    for d in snap.deliverables:
        if Q.is_done(d.status) and _in(d.done_date, start, end):
            out.append(_line(f"交付物 {d.name}（{_owner(d)}）", f"Deliverable {d.name} ({_owner(d)})"))
    for t in snap.tasks:
        if Q.is_done(t.status) and _in(t.actual_end, start, end):
            out.append(_line(f"{t.label}（{_owner(t)}）", f"{t.label} ({_owner(t)})"))
    return out


def _next_week(snap: PlanSnapshot, start: date, end: date) -> list[V.ReportLine]:
    rows = [r for r in V.open_items(snap) if r.due and start.isoformat() <= r.due <= end.isoformat()]
    out = []
    for r in V.by_due(rows):
        kind = {"milestone": ("里程碑 ", "Milestone "), "deliverable": ("交付物 ", "Deliverable ")}.get(
            r.table, ("", ""))
        label = f"{r.code} {r.name}".strip()
        who = f"，{r.owner_name}" if r.owner_name else ""
        who_en = f", {r.owner_name}" if r.owner_name else ""
        out.append(_line(f"{kind[0]}{label}（{r.due[5:]} 到期{who}）", f"{kind[1]}{label} (due {r.due[5:]}{who_en})"))
    return out


def _risks(snap: PlanSnapshot, check: CheckResult | None, now: datetime, policy: Policy,
           day: date) -> list[V.ReportLine]:
    out = [_line(f"进度影响：{x.text}", f"Schedule slip: {x.text_en}")
           for x in Q.slips_of(snap, check, now, policy)]
    risks = sorted(Q.open_risks(snap), key=lambda r: -Q.risk_score(r))
    for r in risks:
        s = Q.risk_score(r)
        if s >= policy.yellow_risk_score:
            out.append(_line(f"风险（评分 {s}）：{r.risk}；应对：{r.mitigation or '未填写'}",
                             f"Risk (score {s}): {r.risk}; mitigation: {r.mitigation or 'none'}"))
    for i in sorted(Q.open_issues(snap), key=lambda i: -Q.issue_age(i, now, policy)):
        lvl = Q.issue_level(i, now, policy, check)
        if lvl >= 1:
            lab = V.LEVEL_LABEL[lvl]
            age = Q.issue_age(i, now, policy)
            span = (working_days_phrase if policy.escalation_day_count == "working" else days_phrase)(age)
            out.append(_line(f"问题已升级至{lab.zh}（已 {span.zh}）：{i.issue}",
                             f"Issue escalated to {lab.en} (open {span.en}): {i.issue}"))
    for d in snap.dependencies:
        if Q.dependency_at_risk(d, day, policy):
            need = f"，需要日期 {V.iso(d.needed_by)}" if d.needed_by else ""
            need_en = f", needed by {V.iso(d.needed_by)}" if d.needed_by else ""
            out.append(_line(f"依赖{d.status or ''}：{d.item}（{d.party}{need}）",
                             f"Dependency {V.status_label(d.status).en.lower()}: {d.item} ({d.party}{need_en})"))
    return out


def _support(snap: PlanSnapshot, check: CheckResult | None, now: datetime, policy: Policy,
             undelivered: list | None, system_problems: list | None) -> list[V.ReportLine]:
    out = []
    for t in snap.tasks:
        if t.status == TaskStatus.BLOCKED.value:
            why, why_en = (f"：{t.risk_note}", f": {t.risk_note}") if t.risk_note else ("", "")
            out.append(_line(f"阻塞：{t.label}（{_owner(t)}）{why}", f"Blocked: {t.label} ({_owner(t)}){why_en}"))
    for i in Q.open_issues(snap):
        if Q.issue_level(i, now, policy, check) >= 2:
            out.append(_line(f"需管理层决策：{i.issue}", f"Needs management: {i.issue}"))
    zh, en = V.budget_lines(snap, policy)
    p = snap.project
    if p.budget and (p.spent or 0) > p.budget * (1 + policy.budget_overrun_ratio):
        out.append(_line(f"预算超支需变更申请：{zh}", f"Budget change request needed: {en}"))
    for u in undelivered or []:
        text = _describe(u)
        out.append(_line(f"未送达：{text}", f"Undelivered: {text}"))
    for s in system_problems or []:
        text = _describe(s)
        out.append(_line(f"系统问题：{text}", f"System problem: {text}"))
    return out


def _describe(item: Any) -> str:
    """A failed delivery or system problem given as text or a dict (title/recipient/error…)."""
    if isinstance(item, dict):
        parts = [str(item[k]) for k in ("title", "kind", "recipient", "error", "text", "message")
                 if item.get(k)]
        return " · ".join(parts) or str(item)
    return str(item)


def _chart(progress: list[V.MilestoneProgress], locale_title: str = "") -> dict[str, Any]:
    values = [{"milestone": plain(m.code or m.name, 16), "pct": m.pct} for m in progress[:CHART_CAP]]
    return {
        "type": "bar",
        "data": {"values": values},
        "xField": "milestone",
        "yField": "pct",
        "label": {"visible": True},  # the % on every bar
        "axes": [{"orient": "left", "type": "linear", "min": 0, "max": 100, "label": {"visible": True},
                  "tick": {"tickCount": 5}},
                 {"orient": "bottom", "type": "band", "label": {"visible": True}}],
    }


def _changes(facts: dict[str, Any], previous: dict | None) -> list[V.ReportLine]:
    if not previous:
        return [_line("没有上周的周报快照，暂无对比", "No previous weekly snapshot to compare with")]
    out = []
    rag_zh = {"green": "绿色", "yellow": "黄色", "red": "红色"}
    if previous.get("rag") and previous["rag"] != facts["rag"]:
        out.append(_line(f"整体状态：{rag_zh.get(previous['rag'], previous['rag'])} → {rag_zh[facts['rag']]}",
                         f"Overall status: {previous['rag']} → {facts['rag']}"))
    prev_ms = previous.get("milestones") or {}
    for code, pct in facts["milestones"].items():
        if code in prev_ms and prev_ms[code] != pct:
            out.append(_line(f"{code} 进度 {prev_ms[code]}% → {pct}%", f"{code} progress {prev_ms[code]}% → {pct}%"))
    prev_over = set(previous.get("overdue") or [])
    now_over = set(facts["overdue"])
    new, gone = sorted(now_over - prev_over), sorted(prev_over - now_over)
    if new:
        out.append(_line(f"新增逾期 {len(new)} 项：" + "、".join(new[:5]), f"{len(new)} newly overdue: " + ", ".join(new[:5])))
    if gone:
        out.append(_line(f"不再逾期 {len(gone)} 项：" + "、".join(gone[:5]), f"{len(gone)} no longer overdue: " + ", ".join(gone[:5])))
    for key, zh, en in (("open_issues", "未解决问题", "Open issues"), ("high_risks", "高风险", "High risks"),
                        ("blocked", "阻塞任务", "Blocked tasks")):
        if key in previous and previous[key] != facts[key]:
            out.append(_line(f"{zh}：{previous[key]} → {facts[key]}", f"{en}: {previous[key]} → {facts[key]}"))
    prev_metrics = previous.get("metrics") or {}
    for name, cur in facts["metrics"].items():
        if name in prev_metrics and prev_metrics[name] != cur:
            out.append(_line(f"指标 {name}：{prev_metrics[name]} → {cur}", f"Metric {name}: {prev_metrics[name]} → {cur}"))
    return out or [_line("与上周相比无明显变化", "No notable change since last week")]


def build_weekly_report(snapshot: PlanSnapshot, check: CheckResult | None, now: datetime,
                        tz: str | ZoneInfo | None = None, previous: dict | None = None,
                        undelivered: list | None = None, system_problems: list | None = None, *,
                        project_name: str = "", policy: Policy | None = None) -> V.WeeklyReportView:
    """The weekly report as of `now` (aware). `previous` is last week's `report_summary`."""
    if now.tzinfo is None:
        raise ValueError("now must be an aware datetime")
    policy = policy or Policy()
    if tz is not None:
        name = tz if isinstance(tz, str) else tz.key
        if name != policy.timezone:
            policy = policy.model_copy(update={"timezone": name})
    local = now.astimezone(policy.tz)
    day = local.date()
    start, end = day - timedelta(days=6), day
    n_start, n_end = day + timedelta(days=1), day + timedelta(days=7)
    color = _rag_color(snapshot, check)
    progress = V.milestone_progress(snapshot, now, policy)
    reasons = V.reasons_of(check.rag) if check else (
        [V.ReasonView(color=color, text=snapshot.project.rag_reason, text_en=snapshot.project.rag_reason)]
        if snapshot.project.rag_reason else [])
    done = _done_this_week(snapshot, start, end)
    nxt = _next_week(snapshot, n_start, n_end)
    risks = _risks(snapshot, check, now, policy, day)
    support = _support(snapshot, check, now, policy, undelivered, system_problems)
    metrics = [V.MetricRow(metric=m.metric, target="" if V.is_blank(m.target) else m.target,
                           current="" if V.is_blank(m.current) else m.current,
                           updated=V.iso(m.updated_on) if not V.is_blank(m.current) else "")
               for m in snapshot.metrics]
    overdue = [f"{r.code} {r.name}".strip() for r in V.open_items(snapshot) if r.due and r.due < day.isoformat()]
    facts = {
        "rag": color,
        "milestones": {(m.code or m.name): m.pct for m in progress},
        "overdue": sorted(overdue)[:200],
        "open_issues": len(Q.open_issues(snapshot)),
        "high_risks": sum(1 for r in Q.open_risks(snapshot) if Q.risk_score(r) >= policy.red_risk_score),
        "blocked": sum(1 for t in snapshot.tasks if t.status == TaskStatus.BLOCKED.value),
        "metrics": {m.metric: m.current for m in snapshot.metrics},
    }
    counts = {"done": len(done), "next": len(nxt), "overdue": len(overdue), "risks": len(risks),
              "support": len(support)}
    rag = V.RAG_LABEL[color]
    top = reasons[0] if reasons else None
    summary = (f"{rag.zh}：{top.text if top else '一切按计划进行'}；本周完成 {len(done)} 项，下周计划 {len(nxt)} 项，"
               f"逾期 {len(overdue)} 项")
    summary_en = (f"{rag.en}: {top.text_en if top else 'on track'}; done {len(done)}, next week {len(nxt)}, "
                  f"overdue {len(overdue)}")
    week = V.week_label(day)
    words = get_template(policy.template)
    return V.WeeklyReportView(
        title=words.report_title, title_en=words.report_title_en,
        project_name=project_name or snapshot.project.name or snapshot.project_slug,
        project_slug=snapshot.project_slug, week=week, period=f"{start.isoformat()} – {end.isoformat()}",
        generated_at=local.strftime("%Y-%m-%d %H:%M"), generated=now, rag=rag, header_color=color,
        reasons=Clip.of(reasons, 8), done=Clip.of(done, SECTION_CAP), next_week=Clip.of(nxt, SECTION_CAP),
        risks=Clip.of(risks, SECTION_CAP), metrics=Clip.of(metrics, 20), support=Clip.of(support, SECTION_CAP),
        changes=Clip.of(_changes(facts, previous), 12), milestones=Clip.of(progress, 30),
        chart=_chart(progress), summary=clip_text(summary, 500), summary_en=clip_text(summary_en, 500),
        counts=counts, facts=facts)


def report_summary(view: V.WeeklyReportView) -> dict[str, Any]:
    """What to keep as this week's snapshot (JSON-safe) for next week's "what changed"."""
    return {"week": view.week, "project": view.project_slug, **view.facts, "counts": dict(view.counts)}


def report_archive_row(view: V.WeeklyReportView, sent_at: datetime | None = None) -> dict[str, Any]:
    """The 周报 table row by attr (week, rag as the option name, summary, sent_at)."""
    return {"week": view.week, "rag": view.rag.zh, "summary": view.summary,
            "sent_at": sent_at or view.generated}


def report_card(view: V.WeeklyReportView, locale: str = "zh") -> dict:
    return render("report", view, locale)

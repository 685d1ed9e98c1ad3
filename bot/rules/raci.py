"""RACI with meaning: one 负责人 (R), at most one 审批人 (A), milestone sign-off, 知会人 told. Pure.

- Data problems: an open task or milestone that has started or is due within `RACI_HORIZON_DAYS`
  and has no 负责人; more than one 审批人 on a task or milestone.
- Sign-off: when every exit criterion (退出标准) of an open milestone is ticked and it is not
  signed off, its 审批人 (the PM when it has none, plus a data problem) gets a card to 通过 / 退回
  with a note. The key carries the criteria and when they were last ticked, so a milestone sent
  back is asked again only after someone changes its criteria. A milestone with a 审批人 counts
  as 达成 only with 验收 = 已通过 (`reached`).
- 知会人: told once when a task is done or a milestone reached (within `INFORM_DAYS` of it, so
  the first run on an old plan does not replay history); slips reach them through the schedule rule.
"""
from __future__ import annotations

import hashlib
from datetime import datetime, timedelta

from gtm.bot.rules import RuleResult, local_date, make_notice, pm_ids, problem, ref, require_aware, utc_key
from gtm.bot.rules.calendar import WorkCalendar
from gtm.schemas.plan import Milestone, MilestoneStatus, PlanSnapshot, TaskStatus
from gtm.schemas.settings import Policy

RACI_HORIZON_DAYS = 14
INFORM_DAYS = 7
APPROVED = "已通过"
SENT_BACK = "已退回"
_TASK_DONE = TaskStatus.DONE.value
_MS_DONE = MilestoneStatus.DONE.value


def reached(m: Milestone) -> bool:
    """达成: done, and signed off when the milestone has a 审批人."""
    return m.status == _MS_DONE and (not m.approver or m.signoff == APPROVED)


def check_raci(snapshot: PlanSnapshot, now: datetime, policy: Policy,
               calendar: WorkCalendar | None = None) -> RuleResult:
    require_aware(now)
    out = RuleResult()
    today = local_date(now, policy)
    horizon = today + timedelta(days=RACI_HORIZON_DAYS)
    for table, rows, start_attr, end_attr, done in (
            ("task", snapshot.tasks, "planned_start", "planned_end", _TASK_DONE),
            ("milestone", snapshot.milestones, "target_date", "target_date", _MS_DONE)):
        for row in rows:
            if len(row.approver) > 1 and len({p.open_id for p in row.approver}) > 1:
                out.problems.append(problem(table, row.record_id, "approver",
                                            "、".join(p.label() for p in row.approver),
                                            "审批人(A)只能有一位", "at most one accountable person (A)"))
            if row.status == done or row.owner is not None:
                continue
            start = getattr(row, start_attr) or getattr(row, end_attr)
            if isinstance(start, type(today)) and start <= horizon:
                out.problems.append(problem(table, row.record_id, "owner", "",
                                            "负责人(R)为空：每项须有且只有一位负责人",
                                            "no responsible person (R): every item needs exactly one"))
    _signoffs(snapshot, now, out)
    _informed(snapshot, now, policy, out)
    return out


def _signoffs(snapshot: PlanSnapshot, now: datetime, out: RuleResult) -> None:
    by_ms: dict[str, list] = {}
    for c in snapshot.exit_criteria:
        for mid in c.milestone:
            by_ms.setdefault(mid, []).append(c)
    for m in snapshot.milestones:
        crits = by_ms.get(m.record_id, [])
        if not crits or m.status == _MS_DONE or m.signoff == APPROVED or not all(c.met for c in crits):
            continue
        ticked = max((c.modified_at for c in crits if c.modified_at), default=None)
        if m.signoff == SENT_BACK and (ticked is None or (m.modified_at and ticked <= m.modified_at)):
            continue  # sent back; ask again once the criteria change
        approvers = list(dict.fromkeys(p.open_id for p in m.approver if p.open_id))[:1]
        if not approvers:
            out.problems.append(problem("milestone", m.record_id, "approver", "",
                                        "退出标准已全部满足，但没有审批人(A)；验收请求转给项目负责人",
                                        "exit criteria met but no accountable person (A); the PM signs off"))
            approvers = pm_ids(snapshot)
        if not approvers:
            continue
        stamp = utc_key(ticked) if ticked else ""
        digest = hashlib.sha1((",".join(sorted(c.record_id for c in crits)) + stamp).encode()).hexdigest()[:10]
        mref = ref("milestone", m)
        out.notices.append(make_notice(
            kind="signoff", key=f"signoff:milestone:{m.record_id}:{digest}", recipients=approvers, record=mref,
            title=f"里程碑待验收：{mref.label}",
            text=f"里程碑「{mref.label}」的 {len(crits)} 条退出标准已全部满足，请验收：通过后里程碑记为达成，"
                 f"退回请写明原因。",
            text_en=f"All {len(crits)} exit criteria of milestone “{mref.label}” are met. Please sign off: "
                    f"approving marks it reached; sending it back needs a note.",
            data={"criteria": [c.criterion for c in crits][:20]}))


def _informed(snapshot: PlanSnapshot, now: datetime, policy: Policy, out: RuleResult) -> None:
    since = local_date(now, policy) - timedelta(days=INFORM_DAYS)
    for t in snapshot.tasks:
        ids = [p.open_id for p in t.informed if p.open_id]
        if not ids or t.status != _TASK_DONE or not isinstance(t.actual_end, type(since)) or t.actual_end < since:
            continue
        who = t.owner.label() if t.owner else ""
        r = ref("task", t)
        out.notices.append(make_notice(
            kind="informed", key=f"informed:task:{t.record_id}:done:{t.actual_end.isoformat()}",
            recipients=list(dict.fromkeys(ids)), record=r, title=f"已完成：{r.label}",
            text=f"「{r.label}」已于 {t.actual_end.isoformat()} 完成" + (f"（负责人 {who}）" if who else "") + "。",
            text_en=f"“{r.label}” was completed on {t.actual_end.isoformat()}" + (f" (owner {who})" if who else "") + "."))
    for m in snapshot.milestones:
        ids = [p.open_id for p in m.informed if p.open_id]
        day = m.actual_date
        if not ids or not reached(m) or not isinstance(day, type(since)) or day < since:
            continue
        r = ref("milestone", m)
        out.notices.append(make_notice(
            kind="informed", key=f"informed:milestone:{m.record_id}:done:{day.isoformat()}",
            recipients=list(dict.fromkeys(ids)), record=r, title=f"里程碑达成：{r.label}",
            text=f"里程碑「{r.label}」已于 {day.isoformat()} 达成。",
            text_en=f"Milestone “{r.label}” was reached on {day.isoformat()}."))

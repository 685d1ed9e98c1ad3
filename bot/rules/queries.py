"""Domain queries the cards, the chat answers, the weekly report and the portfolio share.

Pure functions of (plan, now, policy) like the rest of `gtm.bot.rules`; they decide numbers and
states, never words or colours (that is `gtm.bot.cards.views`). One definition of each:
- `risk_score`: 风险评分 = 可能性 × 影响, else the stored score, else the typed 风险等级;
- `issue_level` / `issue_age`: through the escalation ladder's thresholds and work calendar;
- `milestone_states`: a milestone's % done, variance and effective status;
- `ItemIndex`: the open items of one snapshot, sorted by due date, per owner (the @mention hot path).
"""
from __future__ import annotations

import heapq
import itertools
import operator
from bisect import bisect_left, bisect_right, insort
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime

from gtm.bot.rules import local_date
from gtm.bot.rules.baseline import baseline_variance
from gtm.bot.rules.calendar import WorkCalendar
from gtm.bot.rules.escalation import due_level, open_days
from gtm.bot.rules.raci import reached
from gtm.bot.rules.risk import cell_score, level_score
from gtm.bot.rules.schedule import check_schedule
from gtm.schemas.decisions import CheckResult, Slip
from gtm.schemas.plan import (
    Deliverable,
    Dependency,
    DependencyStatus,
    EscalationLevel,
    Issue,
    IssueStatus,
    Level3,
    Milestone,
    MilestoneStatus,
    Person,
    PlanSnapshot,
    Risk,
    RiskStatus,
    Task,
    TaskStatus,
)
from gtm.schemas.settings import Policy

DONE = {TaskStatus.DONE.value, MilestoneStatus.DONE.value}
UNSIGNED = "待验收"  # a milestone marked done that its 审批人 has not signed off
# 升级级别 cell → ladder level shown on cards (0 团队, 1 项目经理, 2 管理层)
LEVEL_BY_NAME = {EscalationLevel.TEAM.value: 0, EscalationLevel.PM.value: 1,
                 EscalationLevel.MANAGEMENT.value: 2}


def iso(d: date | datetime | None) -> str:
    return d.isoformat()[:10] if d else ""


def is_done(status: str | None) -> bool:
    return status in DONE


# ---- risks, issues, dependencies -----------------------------------------------------------
def risk_score(risk: Risk) -> int:
    """风险评分 = 可能性 × 影响 (docs/seeds/000 §9.2), 1–9; else the stored 风险评分 (a row whose
    levels are still blank); else the typed 风险等级; else 0. The one score every card, the report
    and the RAG use (`gtm.bot.rules.risk.check_risks` writes likelihood × impact back to the Base)."""
    score = cell_score(risk.likelihood, risk.impact)
    if score is not None:
        return score
    try:
        stored = int(risk.score or 0)
    except (TypeError, ValueError):
        stored = 0
    return stored or level_score(risk) or 0


def open_risks(snapshot: PlanSnapshot) -> list[Risk]:
    return [r for r in snapshot.risks if r.status != RiskStatus.CLOSED.value]


def open_issues(snapshot: PlanSnapshot) -> list[Issue]:
    return [i for i in snapshot.issues if i.status != IssueStatus.RESOLVED.value]


def issue_age(issue: Issue, now: datetime, policy: Policy | None = None) -> int:
    """Days an issue has been open, counted as the escalation ladder counts them (working days
    when `Policy.escalation_day_count` says so)."""
    if not issue.raised_at:
        return 0
    policy = policy or Policy()
    return open_days(issue.raised_at, now, policy, WorkCalendar(policy))


def issue_level(issue: Issue, now: datetime, policy: Policy, check: CheckResult | None) -> int:
    """0 team, 1 PM, 2 management: the Base's 升级级别, else the ladder state, else by the same
    thresholds and work calendar the escalation rule uses."""
    if issue.level in LEVEL_BY_NAME:
        return LEVEL_BY_NAME[issue.level]
    if check is not None:
        for st in check.escalations:
            if st.table == "issue" and st.record_id == issue.record_id:
                return min(2, st.level)
    if issue.status == IssueStatus.RESOLVED.value or not issue.raised_at:
        return 0
    return min(2, due_level(issue.raised_at, now, policy, WorkCalendar(policy)))


def dependency_at_risk(dep: Dependency, day: date, policy: Policy) -> bool:
    if dep.status == DependencyStatus.CONFIRMED.value:
        return False
    if dep.risk_level == Level3.HIGH.value:
        return True
    return bool(dep.needed_by and (dep.needed_by - day).days <= policy.dependency_warning_days)


def slips_of(snapshot: PlanSnapshot, check: CheckResult | None, now: datetime,
             policy: Policy) -> list[Slip]:
    """The schedule slips: from the check when it ran, else computed now (pure)."""
    if check is not None:
        return list(check.slips)
    return check_schedule(snapshot, now, policy)[1]


# ---- milestones ----------------------------------------------------------------------------
def milestone_counts(snapshot: PlanSnapshot) -> dict[str, tuple[int, int]]:
    """Milestone record id → (done, total) of its deliverables, else of its tasks (time-free, so
    the answer cache keeps it per snapshot)."""
    return _milestone_counts(snapshot.milestones, _done_counts(snapshot.deliverables), _done_counts(snapshot.tasks))


def _milestone_counts(milestones: Iterable[Milestone], d_by_m: dict[str, list[int]], t_by_m: dict[str, list[int]]
                      ) -> dict[str, tuple[int, int]]:
    out: dict[str, tuple[int, int]] = {}
    for m in milestones:
        c = d_by_m.get(m.record_id) or t_by_m.get(m.record_id) or (0, 0)
        out[m.record_id] = (c[0], c[1])
    return out


def _done_counts(rows: Iterable[Deliverable | Task]) -> dict[str, list[int]]:
    """Milestone record id → [done, total] of the rows linked to it."""
    counts: dict[str, list[int]] = {}
    _count_into(counts, rows, 1)
    return counts


def _count_into(counts: dict[str, list[int]], rows: Iterable[Deliverable | Task], sign: int) -> None:
    """Add (`sign` 1) or take away (-1) the rows' part of `_done_counts`; a milestone no row
    links to any more is dropped, as a count made afresh would not have it."""
    for row in rows:
        for mid in row.milestone:
            c = counts.setdefault(mid, [0, 0])
            c[0] += sign * (row.status in DONE)
            c[1] += sign
            if not c[1]:
                del counts[mid]


@dataclass(frozen=True, slots=True)
class MilestoneState:
    """One milestone's progress as decided by the rules: % done, variance, effective status
    (逾期 past its target, 待验收 done but not signed off)."""

    record_id: str
    code: str
    name: str
    owner_name: str
    target: str
    actual: str
    status: str | None
    variance_days: int | None
    done: int
    total: int
    pct: int
    baseline: str
    baseline_variance: int | None


def milestone_states(snapshot: PlanSnapshot, now: datetime, policy: Policy,
                     counts: dict[str, tuple[int, int]] | None = None) -> list[MilestoneState]:
    """Each milestone with % deliverables done (falls back to tasks, then to its own status).
    `counts` = `milestone_counts(snapshot)` when the caller already has it."""
    if counts is None:
        counts = milestone_counts(snapshot)
    day = local_date(now, policy)
    out = []
    for m in snapshot.milestones:
        done, total = counts.get(m.record_id, (0, 0))
        if total:
            pct = round(100 * done / total)
        else:
            pct = 100 if is_done(m.status) else 0
        variance = m.variance_days
        if variance is None and m.target_date:
            if m.actual_date:
                variance = (m.actual_date - m.target_date).days
            elif not is_done(m.status) and day > m.target_date:
                variance = (day - m.target_date).days
        status = m.status
        if not is_done(status) and m.target_date and day > m.target_date:
            status = MilestoneStatus.OVERDUE.value
        if is_done(status) and not reached(m):
            status = UNSIGNED  # done but not signed off by its 审批人: not reached yet
        out.append(MilestoneState(
            record_id=m.record_id, code=m.code, name=m.name,
            owner_name=m.owner.label() if m.owner else "", target=iso(m.target_date),
            actual=iso(m.actual_date), status=status, variance_days=variance,
            done=done, total=total, pct=pct, baseline=iso(m.baseline_end),
            baseline_variance=baseline_variance("milestone", m, policy)))
    return out


def overdue_milestones(snapshot: PlanSnapshot, now: datetime, policy: Policy) -> list[str]:
    day = local_date(now, policy)
    return [m.label for m in snapshot.milestones
            if m.target_date and day > m.target_date and not is_done(m.status)]


# ---- open items, indexed once per snapshot (the @mention hot path) --------------------------
@dataclass(frozen=True, slots=True)
class OpenItem:
    """An open task/deliverable/milestone as plain data: cheap to hold 10^4 of them per plan;
    only the rows a card shows become view rows (`gtm.bot.cards.views.item_row`)."""

    table: str
    record_id: str
    code: str
    name: str
    owner_id: str
    owner_name: str
    due: str
    status: str | None
    progress_pct: int | None

    def days(self, day: date) -> tuple[int | None, int | None]:
        """(days overdue, days left) on `day`: one of them set when the item has a due date."""
        if not self.due:
            return None, None
        delta = (day - date.fromisoformat(self.due)).days
        return (delta if delta > 0 else None), (-delta if delta <= 0 else None)


NO_DUE = "9999-99-99"  # undated items sort last


def due_order(due: str, table: str, code: str, name: str, record_id: str = "") -> tuple[str, bool, str, str, str]:
    """The one order of item lists: due date (undated last), milestones first, code, name, and
    the record id last (a total order: two rows alike in all else keep one place)."""
    return (due or NO_DUE, table != "milestone", code, name, record_id)


def _item_order(r: OpenItem) -> tuple[str, bool, str, str, str]:
    return due_order(r.due, r.table, r.code, r.name, r.record_id)


REUSE_SHARE = 0.2  # at most this share of the rows of the open-item tables changed: the index is updated, not rebuilt
_OPEN_TABLES = (("task", "tasks"), ("deliverable", "deliverables"), ("milestone", "milestones"))


class DueList:
    """Items in due order with their sort dates, so due-date windows are bisections."""

    __slots__ = ("items", "dues")

    def __init__(self, items: list[OpenItem]) -> None:
        self.items = items
        self.dues = [i.due or NO_DUE for i in items]

    def before(self, day_iso: str) -> list[OpenItem]:
        """Items due strictly before `day_iso` (undated items sort last, so this is a prefix)."""
        return self.items[:bisect_left(self.dues, day_iso)]

    def between(self, start_iso: str, end_iso: str) -> list[OpenItem]:
        """Items due in [start_iso, end_iso]."""
        return self.items[bisect_left(self.dues, start_iso):bisect_right(self.dues, end_iso)]


_NO_ITEMS = DueList([])


class ItemIndex:
    """Every open item of one snapshot, in due order, plus the same per owner.

    A stable sort restricted to a subset keeps the subset's order, so filtering this list gives
    exactly the due-ordered open items of that subset; overdue and due-this-week are contiguous
    runs of it. Built once per snapshot (the answer cache keeps it); read-only afterwards
    (thread-safe). `previous` (the snapshot and index of the answers before a change): the items
    of rows the change left alone are taken over, only the changed rows' are made and sorted in,
    the owners the change did not touch keep their lists, and the counts are corrected by the
    changed rows (the mirror shares unchanged row objects between snapshots, `Mirror._patched`)."""

    def __init__(self, snapshot: PlanSnapshot, previous: tuple[PlanSnapshot, ItemIndex] | None = None) -> None:
        change = _Change.between(previous[0], snapshot) if previous is not None else None
        if change is not None and previous is not None:
            self._update(snapshot, previous[1], change)
        else:
            self._build(snapshot)
        self.milestone_counts = _milestone_counts(snapshot.milestones, self._d_by_m, self._t_by_m)

    def _build(self, snapshot: PlanSnapshot) -> None:
        items = open_item_data(snapshot)
        items.sort(key=_item_order)
        self.all = DueList(items)
        owned: dict[str, list[OpenItem]] = {}
        for it in items:
            owned.setdefault(it.owner_id, []).append(it)
        self._by_owner = {k: DueList(v) for k, v in owned.items()}
        blocked = TaskStatus.BLOCKED.value  # once: an enum's `.value` is a descriptor call
        self.blocked = sum(t.status == blocked for t in snapshot.tasks)
        self._d_by_m = _done_counts(snapshot.deliverables)
        self._t_by_m = _done_counts(snapshot.tasks)

    def _update(self, snapshot: PlanSnapshot, old: ItemIndex, change: _Change) -> None:
        dropped = change.dropped
        ids = {rid for _, rid in dropped}  # a cheap first test; the table decides

        def kept(items: list[OpenItem]) -> list[OpenItem]:
            return [it for it in items if it.record_id not in ids or (it.table, it.record_id) not in dropped]

        made = open_item_rows(change.new["tasks"], change.new["deliverables"], change.new["milestones"])
        made.sort(key=_item_order)
        self.all = DueList(_sorted_in(kept(old.all.items), made))
        by_owner = dict(old._by_owner)
        # whose lists change: the owners of the rows as they were (their old items go) and of the new items
        was = {r.owner.open_id if r.owner else "" for rows in change.old.values() for r in rows}
        for owner in was | {it.owner_id for it in made}:
            mine = _sorted_in(kept(old.owned_by(owner).items), [it for it in made if it.owner_id == owner])
            if mine:
                by_owner[owner] = DueList(mine)
            else:
                by_owner.pop(owner, None)
        self._by_owner = by_owner
        blocked = TaskStatus.BLOCKED.value
        self.blocked = (old.blocked - sum(t.status == blocked for t in change.old["tasks"])
                        + sum(t.status == blocked for t in change.new["tasks"]))
        self._d_by_m = {k: list(v) for k, v in old._d_by_m.items()}
        self._t_by_m = {k: list(v) for k, v in old._t_by_m.items()}
        for counts, attr in ((self._d_by_m, "deliverables"), (self._t_by_m, "tasks")):
            _count_into(counts, change.old[attr], -1)
            _count_into(counts, change.new[attr], 1)

    def owned_by(self, open_id: str) -> DueList:
        return self._by_owner.get(open_id, _NO_ITEMS)


FEW_CHANGES = 64  # at most this many rows changed in place: found by position, not by sets


class _Change:
    """The rows of the open-item tables that differ between two snapshots, by identity: `old`
    (the previous snapshot's rows that are gone or replaced) and `new` (rows that are new or
    replacements), per snapshot attribute, and the (table, record id) pairs whose items are redone."""

    __slots__ = ("old", "new", "dropped")

    def __init__(self, old: dict[str, list[Task | Deliverable | Milestone]],
                 new: dict[str, list[Task | Deliverable | Milestone]]) -> None:
        self.old, self.new = old, new
        self.dropped = {(table, r.record_id) for table, attr in _OPEN_TABLES for rows in (old[attr], new[attr])
                        for r in rows}

    @classmethod
    def between(cls, before: PlanSnapshot, after: PlanSnapshot) -> _Change | None:
        """None when much changed (a full build is as quick). `before` holds its rows, so no new
        row can have an old one's id."""
        old: dict[str, list[Task | Deliverable | Milestone]] = {}
        new: dict[str, list[Task | Deliverable | Milestone]] = {}
        total = 0
        for _, attr in _OPEN_TABLES:
            a, b = getattr(before, attr), getattr(after, attr)
            total += len(a)
            old[attr], new[attr] = _row_changes(a, b)
        change = cls(old, new)
        return None if len(change.dropped) > REUSE_SHARE * max(1, total) else change


def _row_changes(a: list, b: list) -> tuple[list, list]:
    """(rows of `a` not in `b`, rows of `b` not in `a`), by identity. An edit in place (the same
    length, a few positions replaced) is found position by position at C speed; anything else
    (rows came, went or moved) by two sets of ids."""
    if len(a) == len(b):
        at = list(itertools.islice(itertools.compress(range(len(b)), map(operator.is_not, a, b)), FEW_CHANGES + 1))
        if len(at) <= FEW_CHANGES:
            return [a[i] for i in at], [b[i] for i in at]
    in_a, in_b = set(map(id, a)), set(map(id, b))
    return [r for r in a if id(r) not in in_b], [r for r in b if id(r) not in in_a]


def _sorted_in(items: list[OpenItem], made: list[OpenItem]) -> list[OpenItem]:
    """`items` (in due order) with `made` (in due order) in their places."""
    if len(made) > FEW_CHANGES:
        return list(heapq.merge(items, made, key=_item_order))
    for it in made:  # a few: each into its place (the order is total, so the place is unique)
        insort(items, it, key=_item_order)
    return items


def open_item_data(snapshot: PlanSnapshot) -> list[OpenItem]:
    """Every not-done task, deliverable and milestone with its due date, in that order."""
    return open_item_rows(snapshot.tasks, snapshot.deliverables, snapshot.milestones)


def open_item_rows(tasks: Iterable[Task], deliverables: Iterable[Deliverable],
                   milestones: Iterable[Milestone]) -> list[OpenItem]:
    """`open_item_data` of these rows. A plan has few owners and few dates: each owner's label and each date's text is made once
    and shared by the items (10^5 items would otherwise hold 10^5 copies of each)."""
    out: list[OpenItem] = []
    add = out.append
    days: dict[object, str] = {}
    labels: dict[int, str] = {}  # by the Person object (the codec shares one per person)

    def day(d: date | datetime | None) -> str:
        text = days.get(d)
        if text is None:
            text = days[d] = iso(d)
        return text

    def label(o: Person) -> str:
        text = labels.get(id(o))
        if text is None:
            text = labels[id(o)] = o.label()
        return text

    for t in tasks:
        if t.status not in DONE:
            o = t.owner
            add(OpenItem("task", t.record_id, t.task_id, t.name, o.open_id if o else "", label(o) if o else "",
                         day(t.planned_end), t.status,
                         round(t.progress * 100) if t.progress is not None else None))
    for d in deliverables:
        if d.status not in DONE:
            o = d.owner
            add(OpenItem("deliverable", d.record_id, "", d.name, o.open_id if o else "",
                         label(o) if o else "", day(d.due_date), d.status, None))
    for m in milestones:
        if m.status not in DONE:
            o = m.owner
            add(OpenItem("milestone", m.record_id, m.code, m.name, o.open_id if o else "",
                         label(o) if o else "", day(m.target_date), m.status, None))
    return out

"""Item lists (my tasks, overdue, this week, lookup): rows of open tasks, deliverables and
milestones; the open items themselves are `gtm.bot.rules.queries.ItemIndex`."""
from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import BaseModel, Field

from gtm.bot.cards.render import Clip
from gtm.bot.cards.views.common import HelpChoice, Label, status_label
from gtm.bot.rules.queries import OpenItem, due_order, is_done, iso
from gtm.schemas.plan import MilestoneStatus, PlanSnapshot, TaskStatus

_OVERDUE = frozenset({TaskStatus.OVERDUE.value, MilestoneStatus.OVERDUE.value})


class ItemRow(BaseModel):
    """One open item (task, deliverable, milestone, issue) in a list."""

    project: str = ""
    table: str
    record_id: str
    code: str = ""  # task id / milestone code
    name: str
    owner_id: str = ""
    owner_name: str = ""
    due: str = ""  # YYYY-MM-DD
    status: Label | None = None
    progress_pct: int | None = None
    days_overdue: int | None = None  # > 0 when late
    days_left: int | None = None

    @property
    def status_repeats_overdue(self) -> bool:
        """The status 延期 (Overdue) beside "逾期 3 天" (3 d overdue) says it twice; the card leaves it out."""
        return bool(self.days_overdue) and self.status is not None and self.status.zh in _OVERDUE


class ItemGroup(BaseModel):
    project: str = ""
    rows: Clip[ItemRow] = Field(default_factory=Clip)


class ItemListView(BaseModel):
    """My tasks / overdue / this week: items grouped by project (one group for one project)."""

    kind: Literal["my_tasks", "overdue", "this_week", "next_week", "lookup"]
    title: str
    title_en: str
    project_name: str = ""
    as_of: str = ""
    groups: list[ItemGroup] = Field(default_factory=list)
    total: int = 0
    later: int = 0  # my tasks: items due after the shown window ("还有 N 项")
    more_button: "HelpChoice | None" = None  # shows them all
    # what cannot be judged (schema drift: a date/status field deleted or retyped), zh / en
    blind: list[str] = Field(default_factory=list)
    blind_en: list[str] = Field(default_factory=list)


def item_row(item: OpenItem, day: date, project: str = "") -> ItemRow:
    """The `ItemRow` of `open_items` + `with_days` for one indexed item (same fields, same values)."""
    days_overdue, days_left = item.days(day)
    return ItemRow.model_construct(
        project=project, table=item.table, record_id=item.record_id, code=item.code, name=item.name,
        owner_id=item.owner_id, owner_name=item.owner_name, due=item.due,
        status=status_label(item.status), progress_pct=item.progress_pct,
        days_overdue=days_overdue, days_left=days_left)


def open_items(snapshot: PlanSnapshot, project: str = "") -> list[ItemRow]:
    """Every not-done task, deliverable and milestone with its due date."""
    rows: list[ItemRow] = []
    for t in snapshot.tasks:
        if not is_done(t.status):
            rows.append(ItemRow.model_construct(project=project, table="task", record_id=t.record_id, code=t.task_id,
                                name=t.name, owner_id=t.owner.open_id if t.owner else "",
                                owner_name=t.owner.label() if t.owner else "",
                                due=iso(t.planned_end), status=status_label(t.status),
                                progress_pct=round(t.progress * 100) if t.progress is not None else None,
                                days_overdue=None, days_left=None))
    for d in snapshot.deliverables:
        if not is_done(d.status):
            rows.append(ItemRow.model_construct(project=project, table="deliverable", record_id=d.record_id, name=d.name,
                                owner_id=d.owner.open_id if d.owner else "",
                                owner_name=d.owner.label() if d.owner else "", due=iso(d.due_date),
                                status=status_label(d.status), code="", progress_pct=None,
                                days_overdue=None, days_left=None))
    for m in snapshot.milestones:
        if not is_done(m.status):
            rows.append(ItemRow.model_construct(project=project, table="milestone", record_id=m.record_id, code=m.code,
                                name=m.name, owner_id=m.owner.open_id if m.owner else "",
                                owner_name=m.owner.label() if m.owner else "", due=iso(m.target_date),
                                status=status_label(m.status), progress_pct=None,
                                days_overdue=None, days_left=None))
    return rows


def with_days(row: ItemRow, day: date) -> ItemRow:
    if row.due:
        delta = (day - date.fromisoformat(row.due)).days
        row.days_overdue = delta if delta > 0 else None
        row.days_left = -delta if delta <= 0 else None
    return row


def by_due(rows: list[ItemRow]) -> list[ItemRow]:
    return sorted(rows, key=lambda r: due_order(r.due, r.table, r.code, r.name, r.record_id))

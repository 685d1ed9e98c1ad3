"""Cells the service wrote into a person's column, so it can tell its own value from theirs.

A status is the person's, with one exception from docs/seeds/003 §2.4: the service sets 延期 on an overdue,
unfinished item. It may lift a 延期 only if it set that 延期 itself; this table remembers which
ones (one row per project + table + record + field, with the value written). A row whose cell no
longer holds that value (someone changed it) is forgotten at the next check.
"""
from __future__ import annotations

from datetime import datetime
from typing import Iterable

from sqlalchemy import String, delete, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from gtm.sync.store.base import Base, UTCDateTime, utcnow

CellKey = tuple[str, str, str]  # (table key, record id, field attr)


class ServiceCellRow(Base):
    __tablename__ = "service_cells"

    project: Mapped[str] = mapped_column(String(64), primary_key=True)
    table: Mapped[str] = mapped_column("table_key", String(64), primary_key=True)
    record_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    field: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(String(255), default="")
    written_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


def service_cells(s: Session, project: str) -> dict[CellKey, str]:
    """What the service wrote (and still remembers) in people's columns of this project."""
    rows = s.scalars(select(ServiceCellRow).where(ServiceCellRow.project == project))
    return {(r.table, r.record_id, r.field): r.value for r in rows}


def remember(s: Session, project: str, cells: Iterable[tuple[CellKey, str]], now: datetime) -> None:
    for (table, record_id, field), value in cells:
        row = s.get(ServiceCellRow, (project, table, record_id, field))
        if row is None:
            s.add(ServiceCellRow(project=project, table=table, record_id=record_id, field=field,
                                 value=value, written_at=now))
        else:
            row.value, row.written_at = value, now


def forget(s: Session, project: str, keys: Iterable[CellKey]) -> None:
    for table, record_id, field in keys:
        s.execute(delete(ServiceCellRow).where(
            ServiceCellRow.project == project, ServiceCellRow.table == table,
            ServiceCellRow.record_id == record_id, ServiceCellRow.field == field))


class ReportedProblemRow(Base):
    """A data problem already told to the PM (its notice key): each goes out once while it lasts."""

    __tablename__ = "reported_problems"

    project: Mapped[str] = mapped_column(String(64), primary_key=True)
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    reported_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


def reported_problems(s: Session, project: str) -> set[str]:
    return set(s.scalars(select(ReportedProblemRow.key).where(ReportedProblemRow.project == project)))


def set_reported(s: Session, project: str, current: set[str], sent: set[str], now: datetime) -> None:
    """Keep the reported keys that are still problems, add the ones just sent (a fixed problem
    that comes back is reported again)."""
    known = reported_problems(s, project)
    gone = known - current
    if gone:
        s.execute(delete(ReportedProblemRow).where(ReportedProblemRow.project == project,
                                                   ReportedProblemRow.key.in_(sorted(gone))))
    for key in sorted(sent - known):
        s.add(ReportedProblemRow(project=project, key=key, reported_at=now))

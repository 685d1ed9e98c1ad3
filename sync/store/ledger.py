"""Durable state the bot needs between runs, keyed by project slug.

- `notifications`: the exactly-once ledger (one row per project+key+recipient; see gtm.bot.checks.send_once),
- `escalation_states`: the per-record escalation ladder (acks and snoozes from card buttons),
- `processed_events`: Feishu event ids already handled (Feishu re-delivers events),
- `weekly_snapshots`: the summary of each weekly report, so the next report can show the change,
- `job_runs` and `system_problems`: what the scheduler ran and what went wrong ("系统问题").

Functions take a SQLAlchemy `Session`; the caller owns the transaction (`with store.session()`).
"""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Iterable

from sqlalchemy import (
    JSON,
    Boolean,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    select,
    delete,
    update,
)
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Mapped, Session, mapped_column

from gtm.schemas.decisions import EscalationState
from gtm.sync.store.base import Base, UTCDateTime, utcnow
from gtm.sync.store.holder import holder_dead, holder_id, wall_now

NOTIFICATION_STATUSES = ("pending", "sent", "failed", "queued")


class NotificationRow(Base):
    """One message to one recipient. UNIQUE(project, key, recipient) is the exactly-once guard."""

    __tablename__ = "notifications"
    __table_args__ = (
        UniqueConstraint("project", "key", "recipient", name="uq_notifications_project_key_recipient"),
        Index("ix_notifications_project_status", "project", "status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    project: Mapped[str] = mapped_column(String(64))
    key: Mapped[str] = mapped_column(String(255))
    recipient: Mapped[str] = mapped_column(String(128))
    kind: Mapped[str] = mapped_column(String(32), default="")
    status: Mapped[str] = mapped_column(String(16), default="pending")
    uuid: Mapped[str] = mapped_column(String(50))
    message_id: Mapped[str] = mapped_column(String(128), default="")
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # the card (JSON 2.0)
    # what the CLI table shows: the rule and the record(s) behind this message
    rule: Mapped[str] = mapped_column(String(64), default="")
    record: Mapped[str] = mapped_column(String(255), default="")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    error_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    error_reason: Mapped[str] = mapped_column(String(1000), default="")
    permanent: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    not_before: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)  # quiet hours
    # a sender working on a pending row holds it until then (wall clock); a crashed sender's lease
    # runs out, or is taken over at once when its holder (`host:pid:token`) is provably dead
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    lease_holder: Mapped[str] = mapped_column(String(128), default="", server_default="")


class EscalationStateRow(Base):
    __tablename__ = "escalation_states"

    project: Mapped[str] = mapped_column(String(64), primary_key=True)
    table: Mapped[str] = mapped_column("table_key", String(64), primary_key=True)
    record_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    level: Mapped[int] = mapped_column(Integer, default=0)
    acked_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    snoozed_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    resolved: Mapped[bool] = mapped_column(Boolean, default=False)
    since: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)  # when the ladder started
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # on-call semantics: the level that was acknowledged (0: none), when the current level was last
    # (re)notified and how many repeats went out at it
    acked_level: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    notified_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    repeats: Mapped[int] = mapped_column(Integer, default=0, server_default="0")

    def to_model(self) -> EscalationState:
        return EscalationState(table=self.table, record_id=self.record_id, level=self.level,
                               acked_until=self.acked_until, snoozed_until=self.snoozed_until,
                               resolved=self.resolved, since=self.since, acked_level=self.acked_level or 0,
                               notified_at=self.notified_at, repeats=self.repeats or 0)


class ProcessedEventRow(Base):
    """An event id seen. `claimed` while its answer is being made (leased to `holder` until
    `lease_until`, wall clock), `done` once answered; a dead holder's claim is taken over."""

    __tablename__ = "processed_events"

    event_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    project: Mapped[str] = mapped_column(String(64), default="")
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    status: Mapped[str] = mapped_column(String(16), default="done", server_default="done")
    holder: Mapped[str] = mapped_column(String(128), default="", server_default="")
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class LeaseRow(Base):
    """A named lease (the scheduler's leadership): held by `holder` until `expires_at` (wall clock),
    renewed by the holder's heartbeat; anyone may take it once it has expired."""

    __tablename__ = "leases"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    holder: Mapped[str] = mapped_column(String(128), default="")
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    renewed_at: Mapped[datetime] = mapped_column(UTCDateTime)


class WeeklySnapshotRow(Base):
    __tablename__ = "weekly_snapshots"
    __table_args__ = (UniqueConstraint("project", "week", name="uq_weekly_snapshots_project_week"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    project: Mapped[str] = mapped_column(String(64))
    week: Mapped[str] = mapped_column(String(10))  # ISO week label, "2026-W48"
    taken_at: Mapped[datetime] = mapped_column(UTCDateTime)
    summary: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class JobRunRow(Base):
    __tablename__ = "job_runs"
    __table_args__ = (Index("ix_job_runs_project_job", "project", "job"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    project: Mapped[str] = mapped_column(String(64))
    job: Mapped[str] = mapped_column(String(32))
    started: Mapped[datetime] = mapped_column(UTCDateTime)
    finished: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    ok: Mapped[bool] = mapped_column(Boolean, default=False)
    error: Mapped[str] = mapped_column(Text, default="")


class SystemProblemRow(Base):
    """Something the service could not do by itself ("系统问题"), shown to the PM and in `gtm status`."""

    __tablename__ = "system_problems"
    __table_args__ = (Index("ix_system_problems_project", "project"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    project: Mapped[str] = mapped_column(String(64))
    source: Mapped[str] = mapped_column(String(64))  # e.g. "job:check", "sync"
    message: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    resolved: Mapped[bool] = mapped_column(Boolean, default=False)


# -- portable "insert unless it exists" --------------------------------------------------------
def insert_ignore(session: Session, model: type[Base], values: dict[str, Any], conflict: list[str]) -> bool:
    """INSERT … ON CONFLICT DO NOTHING; True when this call inserted the row.

    A unique insert is the only guard that holds across processes and replicas: the database
    decides who was first (PostgreSQL waits for a concurrent uncommitted insert, then skips).
    """
    name = session.get_bind().dialect.name
    if name == "postgresql":
        insert = postgresql_insert
    elif name == "sqlite":
        insert = sqlite_insert
    else:  # pragma: no cover - only SQLite and PostgreSQL are supported
        raise RuntimeError(f"unsupported database {name!r}: use SQLite or PostgreSQL")
    mapper = model.__mapper__
    table = model.__table__
    cols = {mapper.attrs[k].columns[0].name if k in mapper.attrs else k: v for k, v in values.items()}
    pk = list(table.primary_key.columns)[0]
    stmt = insert(table).values(**cols).on_conflict_do_nothing(index_elements=conflict).returning(pk)
    return session.execute(stmt).first() is not None


# -- processed events --------------------------------------------------------------------------
def claim_event(session: Session, event_id: str, project: str = "", *, now: datetime | None = None,
                lease_seconds: float | None = None) -> bool:
    """True only the first time `event_id` is seen (Feishu retries and duplicates events).

    With `lease_seconds` the claim is provisional (at-least-once answers, exactly-once effects):
    the event is `claimed` by this process until `mark_event_done`; a redelivery finds a claim
    whose holder died (provably, or whose wall-clock lease ran out) and takes it over, so an
    answer interrupted by a crash is still given. Without it the event is done at once.
    """
    if not event_id:
        raise ValueError("claim_event needs a non-empty event_id")
    wall = wall_now()
    values: dict[str, Any] = {"event_id": event_id, "project": project, "received_at": now or wall}
    if lease_seconds is not None:
        values.update(status="claimed", holder=holder_id(), lease_until=wall + timedelta(seconds=lease_seconds))
    if insert_ignore(session, ProcessedEventRow, values, ["event_id"]):
        return True
    if lease_seconds is None:
        return False
    row = session.get(ProcessedEventRow, event_id, populate_existing=True)
    if row is None or row.status != "claimed":
        return False
    if not (row.lease_until is None or row.lease_until <= wall or holder_dead(row.holder)):
        return False
    stmt = (update(ProcessedEventRow)
            .where(ProcessedEventRow.event_id == event_id, ProcessedEventRow.status == "claimed",
                   ProcessedEventRow.holder == row.holder)
            .values(holder=holder_id(), lease_until=wall + timedelta(seconds=lease_seconds))
            .execution_options(synchronize_session=False))
    return session.execute(stmt).rowcount == 1


def mark_event_done(session: Session, event_id: str) -> None:
    """The claimed event was answered: redeliveries are duplicates from now on."""
    session.execute(update(ProcessedEventRow).where(ProcessedEventRow.event_id == event_id)
                    .values(status="done", lease_until=None).execution_options(synchronize_session=False))


def release_event(session: Session, event_id: str) -> None:
    """Answering failed in this (live) process: let the next redelivery try again at once."""
    session.execute(update(ProcessedEventRow)
                    .where(ProcessedEventRow.event_id == event_id, ProcessedEventRow.status == "claimed",
                           ProcessedEventRow.holder == holder_id())
                    .values(lease_until=wall_now()).execution_options(synchronize_session=False))


def prune_events(session: Session, before: datetime) -> int:
    """Forget event ids older than `before` (Feishu stops retrying after a few hours)."""
    return session.execute(delete(ProcessedEventRow).where(ProcessedEventRow.received_at < before)).rowcount


# -- escalation states -------------------------------------------------------------------------
def get_states(session: Session, project: str) -> dict[tuple[str, str], EscalationState]:
    rows = session.scalars(select(EscalationStateRow).where(EscalationStateRow.project == project))
    return {(r.table, r.record_id): r.to_model() for r in rows}


def _state_row(session: Session, project: str, table: str, record_id: str) -> EscalationStateRow:
    """The row for one record, created if missing (race-safe: insert-ignore, then read)."""
    insert_ignore(session, EscalationStateRow,
                  {"project": project, "table": table, "record_id": record_id, "level": 0,
                   "resolved": False, "updated_at": utcnow()},
                  ["project", "table_key", "record_id"])
    row = session.get(EscalationStateRow, (project, table, record_id), populate_existing=True)
    assert row is not None
    return row


def save_states(session: Session, project: str, states: Iterable[EscalationState]) -> int:
    """Store the ladder states a check decided (`CheckResult.escalations`). Returns how many."""
    n = 0
    for st in states:
        row = _state_row(session, project, st.table, st.record_id)
        row.level = st.level
        row.acked_until = st.acked_until
        row.snoozed_until = st.snoozed_until
        row.resolved = st.resolved
        row.since = st.since
        row.acked_level = st.acked_level
        row.notified_at = st.notified_at
        row.repeats = st.repeats
        row.updated_at = utcnow()
        n += 1
    session.flush()
    return n


def ack(session: Session, project: str, table: str, record_id: str, until: datetime | None,
        level: int | None = None) -> EscalationState:
    """Somebody acknowledged (card button): the current level (or `level`) is silenced — no more
    repeats — until the next level falls due at `until` (None: the last level, until resolved)."""
    row = _state_row(session, project, table, record_id)
    row.acked_level = row.level if level is None else level
    row.acked_until = until
    row.updated_at = utcnow()
    session.flush()
    return row.to_model()


def snooze(session: Session, project: str, table: str, record_id: str, until: datetime) -> EscalationState:
    row = _state_row(session, project, table, record_id)
    row.snoozed_until = until
    row.updated_at = utcnow()
    session.flush()
    return row.to_model()


def resolve(session: Session, project: str, table: str, record_id: str, resolved: bool = True) -> EscalationState:
    """Marks the record's ladder finished (or re-opens it with resolved=False, level back to 0)."""
    row = _state_row(session, project, table, record_id)
    row.resolved = resolved
    if not resolved:
        row.level = 0
    row.updated_at = utcnow()
    session.flush()
    return row.to_model()


# -- weekly snapshots --------------------------------------------------------------------------
def week_label(when: datetime) -> str:
    """ISO week label of a (local) datetime: "2026-W48". Labels sort in time order."""
    year, week, _ = when.isocalendar()
    return f"{year}-W{week:02d}"


def save_snapshot(session: Session, project: str, week: str, summary: dict[str, Any],
                  taken_at: datetime) -> WeeklySnapshotRow:
    """Store (or replace, for a re-run report) the summary for `week`."""
    insert_ignore(session, WeeklySnapshotRow,
                  {"project": project, "week": week, "summary": summary, "taken_at": taken_at},
                  ["project", "week"])
    row = session.scalars(select(WeeklySnapshotRow).where(
        WeeklySnapshotRow.project == project, WeeklySnapshotRow.week == week)
        .execution_options(populate_existing=True)).one()
    row.summary = summary
    row.taken_at = taken_at
    session.flush()
    return row


def get_previous(session: Session, project: str, week: str) -> WeeklySnapshotRow | None:
    """The latest snapshot strictly before `week` (the comparison base for this week's report)."""
    return session.scalars(
        select(WeeklySnapshotRow)
        .where(WeeklySnapshotRow.project == project, WeeklySnapshotRow.week < week)
        .order_by(WeeklySnapshotRow.week.desc()).limit(1)).first()


# -- job runs and system problems --------------------------------------------------------------
def record_job_run(session: Session, project: str, job: str, started: datetime, finished: datetime,
                   ok: bool, error: str = "") -> JobRunRow:
    row = JobRunRow(project=project, job=job, started=started, finished=finished, ok=ok, error=error[:8000])
    session.add(row)
    session.flush()
    return row


def last_ok(session: Session, project: str, job: str) -> datetime | None:
    """When `job` last finished successfully for `project` (None: never)."""
    return session.scalars(
        select(JobRunRow.finished)
        .where(JobRunRow.project == project, JobRunRow.job == job, JobRunRow.ok.is_(True))
        .order_by(JobRunRow.finished.desc()).limit(1)).first()


def job_runs(session: Session, project: str, job: str | None = None, limit: int = 50) -> list[JobRunRow]:
    q = select(JobRunRow).where(JobRunRow.project == project)
    if job:
        q = q.where(JobRunRow.job == job)
    return list(session.scalars(q.order_by(JobRunRow.id.desc()).limit(limit)))


def add_system_problem(session: Session, project: str, source: str, message: str,
                       now: datetime | None = None) -> SystemProblemRow:
    row = SystemProblemRow(project=project, source=source, message=message[:8000], created_at=now or utcnow())
    session.add(row)
    session.flush()
    return row


def system_problems(session: Session, project: str, *, since: datetime | None = None,
                    unresolved_only: bool = True) -> list[SystemProblemRow]:
    q = select(SystemProblemRow).where(SystemProblemRow.project == project)
    if since is not None:
        q = q.where(SystemProblemRow.created_at >= since)
    if unresolved_only:
        q = q.where(SystemProblemRow.resolved.is_(False))
    return list(session.scalars(q.order_by(SystemProblemRow.id)))

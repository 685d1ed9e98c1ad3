"""The exactly-once notification ledger: reserve → send with a stable uuid → mark sent.

Why each step:
- `reserve` inserts a row under UNIQUE(project, key, recipient). Two runs (threads, processes or
  replicas) racing for the same message cannot both win; the loser skips.
- The Feishu `uuid` is derived from (project, key, recipient), so a retry of a row whose send went
  out but whose "sent" mark was lost (crash) is dropped by Feishu (uuid dedup, one hour) instead of
  delivered twice.
- A sender holds a short lease on a pending row while it works on it, on the wall clock (never the
  check's `--as-of`) and under its identity (`host:pid:token`); a crashed sender's lease runs out,
  or — when its holder is provably dead (same host, pid gone) — is taken over at once by the next
  run (`take_over`), same uuid. A crashed send older than Feishu's one-hour uuid window is not
  re-sent blindly: it is failed as "uncertain" and reported to the PM.
- Transient failures keep the row pending (attempts+1) until `max_attempts`; a `SendRejected`
  (user left, bot not in chat …) fails it for good and `undelivered` lists it for the PM ("未送达").

Every function runs in the caller's session; the Sender commits after each step so other runs
see the row at once.
"""
from __future__ import annotations

import uuid as _uuid
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session

from gtm.sync.store.holder import holder_dead, holder_id, wall_now
from gtm.sync.store.holder import lease_until as lease_until_wall
from gtm.sync.store.ledger import NotificationRow, insert_ignore

# A fixed namespace so the same (project, key, recipient) always yields the same message uuid.
UUID_NAMESPACE = _uuid.UUID("5d7c3a52-8f1e-4d0b-9a3e-6b2f1c9e7a10")
DEFAULT_MAX_ATTEMPTS = 5
# Feishu drops a repeated send with the same uuid for one hour; past that a re-send may duplicate
UUID_WINDOW = timedelta(hours=1)
UUID_MARGIN = timedelta(minutes=5)
UNCERTAIN_REASON = ("不确定是否已送达：发送中断已超过 1 小时，为免重复不再重发 / uncertain: the send was "
                    "interrupted more than an hour ago; not re-sent to avoid a duplicate")


def message_uuid(project: str, key: str, recipient: str) -> str:
    """Deterministic Feishu message uuid (36 chars ≤ 50) for one ledger row."""
    return str(_uuid.uuid5(UUID_NAMESPACE, f"{project}\x1f{key}\x1f{recipient}"))


def get(session: Session, project: str, key: str, recipient: str) -> NotificationRow | None:
    return session.scalars(select(NotificationRow).where(
        NotificationRow.project == project, NotificationRow.key == key, NotificationRow.recipient == recipient)
        .execution_options(populate_existing=True)).first()


def reserve(session: Session, project: str, key: str, recipient: str, *, kind: str, payload: dict[str, Any],
            now: datetime, lease_until: datetime | None = None, queued_until: datetime | None = None,
            rule: str = "", record: str = "", holder: str | None = None) -> NotificationRow | None:
    """Insert the row; returns it when this call won the reservation, None when it already existed.

    `queued_until` set: the row is `queued` (quiet hours) and may be sent at/after that instant.
    Otherwise it is `pending` and leased to the caller until `lease_until`.
    """
    values = {
        "project": project, "key": key, "recipient": recipient, "kind": kind,
        "status": "queued" if queued_until is not None else "pending",
        "uuid": message_uuid(project, key, recipient), "payload": payload, "rule": rule[:64],
        "record": record[:255], "attempts": 0, "error_reason": "", "message_id": "", "permanent": False,
        "created_at": now, "updated_at": now, "not_before": queued_until,
        "lease_until": None if queued_until is not None else lease_until,
        "lease_holder": "" if queued_until is not None or lease_until is None else (holder or holder_id()),
    }
    if not insert_ignore(session, NotificationRow, values, ["project", "key", "recipient"]):
        return None
    return get(session, project, key, recipient)


TakeOver = Literal["won", "busy", "uncertain"]


def lease_is_free(row: NotificationRow, wall: datetime) -> bool:
    """Nobody works on the row: no lease, a lease run out on the wall clock, or a dead holder."""
    return (row.lease_until is None or row.lease_until <= wall
            or (bool(row.lease_holder) and holder_dead(row.lease_holder)))


def take_over(session: Session, row_id: int, *, now: datetime, lease_until: datetime) -> TakeOver:
    """Lease a pending row nobody is working on, or a queued row whose window has come.

    Leases are on the wall clock (`lease_until` comes from `holder.lease_until`), independent of
    the check's `now` (which only decides whether a quiet-hours row is due). A conditional UPDATE
    on the previous holder: only one concurrent caller wins. "uncertain": a crashed send older
    than Feishu's one-hour uuid window — re-sending could deliver it twice, so the row is failed
    as uncertain (the delivery watchdog tells the PM) instead.
    """
    wall = wall_now()
    row = session.get(NotificationRow, row_id, populate_existing=True)
    if row is None or not lease_is_free(row, wall):
        return "busy"
    if row.status == "pending" and row.lease_until is not None and row.lease_holder and \
            wall - row.lease_until > UUID_WINDOW - UUID_MARGIN:
        row.status, row.permanent, row.lease_until, row.updated_at = "failed", True, None, now
        row.error_code = None
        row.error_reason = UNCERTAIN_REASON
        session.flush()
        return "uncertain"
    due = or_(NotificationRow.not_before.is_(None), NotificationRow.not_before <= now)
    stmt = (update(NotificationRow)
            .where(NotificationRow.id == row_id, NotificationRow.lease_holder == (row.lease_holder or ""),
                   or_(NotificationRow.status == "pending", (NotificationRow.status == "queued") & due))
            .values(status="pending", lease_until=lease_until, lease_holder=holder_id(), updated_at=now)
            .execution_options(synchronize_session=False))
    if row.lease_until is not None and not (row.lease_holder and holder_dead(row.lease_holder)):
        stmt = stmt.where(NotificationRow.lease_until <= wall)
    return "won" if session.execute(stmt).rowcount == 1 else "busy"


def mark_sent(session: Session, row_id: int, message_id: str, *, now: datetime) -> None:
    session.execute(update(NotificationRow).where(NotificationRow.id == row_id).values(
        status="sent", message_id=message_id, sent_at=now, updated_at=now, lease_until=None, lease_holder="",
        attempts=NotificationRow.attempts + 1, error_code=None, error_reason="")
        .execution_options(synchronize_session=False))


def mark_failed(session: Session, row_id: int, *, code: int | None, reason: str, now: datetime,
                permanent: bool, max_attempts: int = DEFAULT_MAX_ATTEMPTS) -> str:
    """Record a failed attempt; returns the new status (`failed`, or `pending` to retry next run)."""
    row = session.get(NotificationRow, row_id, populate_existing=True)
    if row is None:
        raise LookupError(f"notification {row_id} vanished from the ledger")
    row.attempts += 1
    row.error_code = code
    row.error_reason = reason[:1000]
    row.updated_at = now
    row.lease_until = None
    row.lease_holder = ""
    if permanent or row.attempts >= max_attempts:
        row.status = "failed"
        row.permanent = permanent
    else:
        row.status = "pending"
    session.flush()
    return row.status


def retryable(session: Session, now: datetime, project: str | None = None) -> list[NotificationRow]:
    """Rows a run should (re)send now: pending without a live lease (wall clock) or whose holder is
    provably dead, and queued rows that are due (quiet hours: business time, `now`)."""
    wall = wall_now()
    due = or_(NotificationRow.not_before.is_(None), NotificationRow.not_before <= now)
    q = select(NotificationRow).where(
        or_(NotificationRow.status == "pending", (NotificationRow.status == "queued") & due))
    if project is not None:
        q = q.where(NotificationRow.project == project)
    return [r for r in session.scalars(q.order_by(NotificationRow.id))
            if r.status == "queued" or lease_is_free(r, wall)]


def undelivered(session: Session, project: str, since: datetime) -> list[NotificationRow]:
    """Messages that will not arrive ("未送达"), failed since `since`: for the PM's next report."""
    return list(session.scalars(select(NotificationRow).where(
        NotificationRow.project == project, NotificationRow.status == "failed",
        NotificationRow.updated_at >= since).order_by(NotificationRow.id)))


def counts(session: Session, project: str) -> dict[str, int]:
    """Rows per status, for `gtm status` and /metrics."""
    rows = session.execute(select(NotificationRow.status, func.count()).where(
        NotificationRow.project == project).group_by(NotificationRow.status))
    return {status: n for status, n in rows}


def lease_for(now: datetime, seconds: float) -> datetime:
    """A lease on the wall clock (`now`, the business instant, is ignored: `--as-of` must not move it)."""
    return lease_until_wall(seconds)

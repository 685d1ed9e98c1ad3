"""The exactly-once notification ledger: reserve → send with a stable uuid → mark sent.

Why each step:
- `reserve` inserts a row under UNIQUE(project, key, recipient). Two runs (threads, processes or
  replicas) racing for the same message cannot both win; the loser skips.
- The Feishu `uuid` is derived from (project, key, recipient), so a retry of a row whose send went
  out but whose "sent" mark was lost (crash) is dropped by Feishu (uuid dedup, one hour) instead of
  delivered twice.
- A sender holds a short lease on a pending row while it works on it; a crashed sender's lease
  runs out and the next run takes the row over (`take_over`), same uuid.
- Transient failures keep the row pending (attempts+1) until `max_attempts`; a `SendRejected`
  (user left, bot not in chat …) fails it for good and `undelivered` lists it for the PM ("未送达").

Every function runs in the caller's session; the Sender commits after each step so other runs
see the row at once.
"""
from __future__ import annotations

import uuid as _uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from gtm.sync.store.ledger import NotificationRow, insert_ignore

# A fixed namespace so the same (project, key, recipient) always yields the same message uuid.
UUID_NAMESPACE = _uuid.UUID("5d7c3a52-8f1e-4d0b-9a3e-6b2f1c9e7a10")
DEFAULT_MAX_ATTEMPTS = 5


def message_uuid(project: str, key: str, recipient: str) -> str:
    """Deterministic Feishu message uuid (36 chars ≤ 50) for one ledger row."""
    return str(_uuid.uuid5(UUID_NAMESPACE, f"{project}\x1f{key}\x1f{recipient}"))


def get(session: Session, project: str, key: str, recipient: str) -> NotificationRow | None:
    return session.scalars(select(NotificationRow).where(
        NotificationRow.project == project, NotificationRow.key == key, NotificationRow.recipient == recipient)
        .execution_options(populate_existing=True)).first()


def reserve(session: Session, project: str, key: str, recipient: str, *, kind: str, payload: dict[str, Any],
            now: datetime, lease_until: datetime | None = None, queued_until: datetime | None = None,
            rule: str = "", record: str = "") -> NotificationRow | None:
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
    }
    if not insert_ignore(session, NotificationRow, values, ["project", "key", "recipient"]):
        return None
    return get(session, project, key, recipient)


def take_over(session: Session, row_id: int, *, now: datetime, lease_until: datetime) -> bool:
    """Lease a pending row nobody is working on, or a queued row whose window has come.

    A conditional UPDATE: only one concurrent caller sees rowcount 1.
    """
    free = or_(NotificationRow.lease_until.is_(None), NotificationRow.lease_until <= now)
    due = or_(NotificationRow.not_before.is_(None), NotificationRow.not_before <= now)
    stmt = (update(NotificationRow)
            .where(NotificationRow.id == row_id, free,
                   or_(NotificationRow.status == "pending",
                       (NotificationRow.status == "queued") & due))
            .values(status="pending", lease_until=lease_until, updated_at=now)
            .execution_options(synchronize_session=False))
    return session.execute(stmt).rowcount == 1


def mark_sent(session: Session, row_id: int, message_id: str, *, now: datetime) -> None:
    session.execute(update(NotificationRow).where(NotificationRow.id == row_id).values(
        status="sent", message_id=message_id, sent_at=now, updated_at=now, lease_until=None,
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
    if permanent or row.attempts >= max_attempts:
        row.status = "failed"
        row.permanent = permanent
    else:
        row.status = "pending"
    session.flush()
    return row.status


def retryable(session: Session, now: datetime, project: str | None = None) -> list[NotificationRow]:
    """Rows a run should (re)send now: pending without a live lease, and queued rows that are due."""
    free = or_(NotificationRow.lease_until.is_(None), NotificationRow.lease_until <= now)
    due = or_(NotificationRow.not_before.is_(None), NotificationRow.not_before <= now)
    q = select(NotificationRow).where(
        or_((NotificationRow.status == "pending") & free, (NotificationRow.status == "queued") & due))
    if project is not None:
        q = q.where(NotificationRow.project == project)
    return list(session.scalars(q.order_by(NotificationRow.id)))


def undelivered(session: Session, project: str, since: datetime) -> list[NotificationRow]:
    """Messages that will not arrive ("未送达"), failed since `since`: for the PM's next report."""
    return list(session.scalars(select(NotificationRow).where(
        NotificationRow.project == project, NotificationRow.status == "failed",
        NotificationRow.updated_at >= since).order_by(NotificationRow.id)))


def counts(session: Session, project: str) -> dict[str, int]:
    """Rows per status, for `gtm status` and /metrics."""
    from sqlalchemy import func

    rows = session.execute(select(NotificationRow.status, func.count()).where(
        NotificationRow.project == project).group_by(NotificationRow.status))
    return {status: n for status, n in rows}


def lease_for(now: datetime, seconds: float) -> datetime:
    return now + timedelta(seconds=seconds)

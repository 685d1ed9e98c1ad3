"""The sender: turns the notices of a check run into Feishu cards, each delivered exactly once.

`Sender.dispatch` groups digest notices into one card per recipient per run (keyed by a hash of
the member keys, so the same set is not re-sent), sends the others one card per notice, holds
everything decided in quiet hours until the next send window, and reports one `SendOutcome` per
(message, recipient) for the CLI table. The exactly-once bookkeeping is `gtm.bot.checks.send_once`.
"""
from __future__ import annotations

import hashlib
import logging
import os
import signal
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Callable, Literal, Protocol

from gtm.bot.checks import send_once as ledger
from gtm.bot.rules.calendar import WorkCalendar
from gtm.bot.rules.quiet import is_quiet, next_send_window
from gtm.schemas.decisions import Notice
from gtm.schemas.settings import Policy
from gtm.sync.feishu.errors import (
    AuthError,
    FeishuError,
    PermissionDenied,
    RateLimited,
    ScopeError,
    SendRejected,
    TransientError,
)
from gtm.sync.feishu.gateway import Gateway
from gtm.sync.store.base import Store
from gtm.sync.store.ledger import NotificationRow

log = logging.getLogger(__name__)

OutcomeStatus = Literal["sent", "skipped", "queued", "failed", "pending", "dry_run"]


class CardFactory(Protocol):
    """Builds Feishu card JSON 2.0 dicts (implemented by `gtm.bot.cards.factory.NoticeCards`)."""

    def digest(self, project_name: str, recipient: str, notices: list[Notice], locale: str) -> dict: ...

    def single(self, project_name: str, notice: Notice, locale: str) -> dict: ...


@dataclass
class SendOutcome:
    """One row of the CLI's dispatch table."""

    rule: str  # notice kind, or "digest"
    record: str  # record label/id, or "3 条" for a digest
    recipient: str
    action: Literal["digest", "single"]
    status: OutcomeStatus
    why: str = ""
    key: str = ""
    message_id: str = ""


def digest_key(keys: list[str]) -> str:
    """The ledger key of a digest: the same member set always gives the same key."""
    h = hashlib.sha256("\n".join(sorted(set(keys))).encode("utf-8")).hexdigest()[:32]
    return f"digest:{h}"


def _quiet_fns() -> tuple[Callable[..., bool], Callable[..., datetime]]:
    return is_quiet, next_send_window


FAULT_CRASH_ENV = "GTM_FAULT_CRASH_AFTER"  # "reserve" or "send"; unset in production
FAULT_MATCH_ENV = "GTM_FAULT_CRASH_MATCH"  # optional: only for ledger keys containing this text


def fault_point(stage: Literal["reserve", "send"], key: str) -> None:
    """Fault injection for the exactly-once tests (tests/e2e/test_check_cli.py); a no-op unless set.

    With GTM_FAULT_CRASH_AFTER=reserve the process kills itself (SIGKILL: no cleanup, no commit,
    like a power cut) after the ledger row is reserved and before the send; with =send after
    Feishu accepted the message and before the row is marked sent. GTM_FAULT_CRASH_MATCH narrows
    it to ledger keys containing that text (e.g. "escalation:").
    """
    if os.environ.get(FAULT_CRASH_ENV) != stage:
        return
    if os.environ.get(FAULT_MATCH_ENV, "") not in key:
        return
    log.critical("fault injection: crashing after %s of %s", stage, key)
    if hasattr(signal, "SIGKILL"):
        os.kill(os.getpid(), signal.SIGKILL)
    os._exit(137)  # pragma: no cover - platforms without SIGKILL


def _label(n: Notice) -> str:
    if n.record is not None:
        return n.record.label or n.record.record_id
    return n.title


_EXISTING_WHY = {
    "sent": "已发送过 / already sent",
    "queued": "已排队，等待发送窗口 / queued for the send window",
    "failed": "此前已失败，不再重试 / failed before, not retried",
    "pending": "待发送或重试中 / pending (being sent or retried)",
}


@dataclass
class _Item:
    """One message to one recipient, before it is in the ledger."""

    key: str
    recipient: str
    kind: str
    action: Literal["digest", "single"]
    rule: str
    record: str
    card: dict[str, Any]


class Sender:
    """Delivers notices through the gateway with the ledger's exactly-once guarantee. Thread-safe."""

    def __init__(self, gateway: Gateway, store: Store, cards: CardFactory, *,
                 max_attempts: int = ledger.DEFAULT_MAX_ATTEMPTS, lease_seconds: float = 120.0,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.gateway = gateway
        self.store = store
        self.cards = cards
        self.max_attempts = max_attempts
        self.lease_seconds = lease_seconds
        # how to wait for a recipient's send slot (Feishu: 5 per second per user and per group; the
        # gateway's rate limiter keeps the slots, policy "im.recipient")
        self.sleep = sleep

    # -- planning --------------------------------------------------------------------------
    def _items(self, project_name: str, notices: list[Notice], locale: str) -> list[_Item]:
        items: list[_Item] = []
        by_recipient: dict[str, list[Notice]] = {}
        for n in notices:
            if n.digest:
                for r in dict.fromkeys(n.recipients):
                    by_recipient.setdefault(r, []).append(n)
                continue
            if not n.recipients:
                continue
            card = self.cards.single(project_name, n, locale)
            for r in dict.fromkeys(n.recipients):
                items.append(_Item(n.key, r, n.kind, "single", n.kind, _label(n), card))
        for r, members in by_recipient.items():
            members = sorted({m.key: m for m in members}.values(), key=lambda m: m.key)
            kinds = sorted({m.kind for m in members})
            card = self.cards.digest(project_name, r, members, locale)
            items.append(_Item(digest_key([m.key for m in members]), r, "digest", "digest",
                               "digest:" + "+".join(kinds), f"{len(members)} 条 / items", card))
        return items

    # -- the run ---------------------------------------------------------------------------
    def dispatch(self, project_slug: str, project_name: str, notices: list[Notice], now: datetime,
                 policy: Policy, calendar: WorkCalendar | None = None, dry_run: bool = False, *,
                 flush: bool = True) -> list[SendOutcome]:
        """Send (or queue) every notice once; then (`flush`) retry this project's leftovers that are due."""
        if now.tzinfo is None:
            raise ValueError("dispatch needs an aware `now`")
        is_quiet, next_window = _quiet_fns()
        quiet = is_quiet(now, policy, calendar)
        window = next_window(now, policy, calendar) if quiet else None
        outcomes: list[SendOutcome] = []
        for item in self._items(project_name, notices, policy.locale):
            outcomes.append(self._dispatch_item(project_slug, item, now, window, dry_run))
        if flush and not quiet and not dry_run:
            done = {(o.key, o.recipient) for o in outcomes}  # tried once already in this run
            outcomes += self.flush_queued(now, project=project_slug, exclude=done)
        return outcomes

    def _dispatch_item(self, project: str, item: _Item, now: datetime, window: datetime | None,
                       dry_run: bool) -> SendOutcome:
        out = SendOutcome(item.rule, item.record, item.recipient, item.action, "skipped", key=item.key)
        lease = ledger.lease_for(now, self.lease_seconds)
        if dry_run:
            with self.store.session() as s:
                row = ledger.get(s, project, item.key, item.recipient)
            if row is not None and not (row.status in ("pending", "queued") and window is None):
                out.why = _EXISTING_WHY.get(row.status, row.status)
            elif window is not None:
                out.status, out.why = "queued", f"静默时段，{_fmt(window)} 发送 / quiet hours, send at {_fmt(window)}"
            else:
                out.status, out.why = "dry_run", "将发送 / would send"
            return out
        with self.store.session() as s:
            row = ledger.reserve(s, project, item.key, item.recipient, kind=item.kind, payload=item.card,
                                 now=now, lease_until=lease, queued_until=window, rule=item.rule,
                                 record=item.record)
            row_id = row.id if row is not None else None
            if row is None:
                existing = ledger.get(s, project, item.key, item.recipient)
                assert existing is not None
                took = ledger.take_over(s, existing.id, now=now, lease_until=lease) if (
                    window is None and existing.status in ("pending", "queued")) else "busy"
                if took == "won":
                    row_id = existing.id
                elif took == "uncertain":
                    out.status, out.why = "failed", ledger.UNCERTAIN_REASON
                    return out
                else:
                    out.why = _EXISTING_WHY.get(existing.status, existing.status)
                    if existing.status == "queued":
                        out.status = "queued"
                    return out
        if window is not None:
            out.status, out.why = "queued", f"静默时段，{_fmt(window)} 发送 / quiet hours, send at {_fmt(window)}"
            return out
        return self._send_row(row_id, now, out)

    def dispatch_card(self, project_slug: str, key: str, recipient: str, card: dict[str, Any], now: datetime,
                      policy: Policy, *, rule: str = "report", record: str = "", dry_run: bool = False,
                      calendar: WorkCalendar | None = None) -> SendOutcome:
        """One ready-made card (weekly report, portfolio) to one recipient, exactly once per key.

        Same guarantees as `dispatch`: ledger reservation, uuid from the key, quiet hours.
        """
        is_quiet, next_window = _quiet_fns()
        window = next_window(now, policy, calendar) if is_quiet(now, policy, calendar) else None
        item = _Item(key, recipient, rule, "single", rule, record, card)
        return self._dispatch_item(project_slug, item, now, window, dry_run)

    def flush_queued(self, now: datetime, project: str | None = None, *,
                     exclude: set[tuple[str, str]] | None = None) -> list[SendOutcome]:
        """Send queued rows whose window has come, and pending rows left by a failed/crashed run.

        Each row is leased first (conditional update), so two flushing replicas never both send it.
        """
        with self.store.session() as s:
            rows = ledger.retryable(s, now, project)
        outcomes = []
        for row in rows:
            if exclude and (row.key, row.recipient) in exclude:
                continue
            out = SendOutcome(row.rule or row.kind, row.record, row.recipient,
                              "digest" if row.kind == "digest" else "single", "skipped", key=row.key)
            with self.store.session() as s:
                took = ledger.take_over(s, row.id, now=now, lease_until=ledger.lease_for(now, self.lease_seconds))
            if took == "uncertain":
                out.status, out.why = "failed", ledger.UNCERTAIN_REASON
                outcomes.append(out)
                continue
            if took != "won":
                out.why = "另一运行正在发送 / another run took it"
                outcomes.append(out)
                continue
            outcomes.append(self._send_row(row.id, now, out))
        return outcomes

    # -- one send --------------------------------------------------------------------------
    def _send_row(self, row_id: int, now: datetime, out: SendOutcome) -> SendOutcome:
        with self.store.session() as s:
            row = s.get(NotificationRow, row_id)
            assert row is not None
            recipient, uuid, payload, project, key = row.recipient, row.uuid, row.payload, row.project, row.key
        fault_point("reserve", key)  # fault injection for tests; no-op unless GTM_FAULT_CRASH_AFTER
        try:
            message_id = self.send_card(recipient, payload, uuid, context=f"{project}:{key}")
        except SendRejected as exc:
            return self._failed(row_id, now, out, exc, permanent=True)
        except (RateLimited, TransientError, AuthError, ScopeError, PermissionDenied) as exc:
            # worth another try next run: the network, Feishu, or our configuration may recover
            return self._failed(row_id, now, out, exc, permanent=False)
        except FeishuError as exc:
            # Feishu refused this content/recipient (bad card, too long, invalid id): retrying repeats it
            return self._failed(row_id, now, out, exc, permanent=True)
        except Exception as exc:  # a bug or an unexpected SDK error: keep the row, retry next run
            log.exception("send failed unexpectedly for %s → %s", key, recipient)
            return self._failed(row_id, now, out, exc, permanent=False)
        fault_point("send", key)  # fault injection for tests; no-op unless GTM_FAULT_CRASH_AFTER
        with self.store.session() as s:
            ledger.mark_sent(s, row_id, message_id, now=now)
        out.status, out.message_id, out.why = "sent", message_id, out.why or "已发送 / sent"
        return out

    def _failed(self, row_id: int, now: datetime, out: SendOutcome, exc: BaseException, *,
                permanent: bool) -> SendOutcome:
        code = exc.code if isinstance(exc, FeishuError) else None
        reason = (exc.msg if isinstance(exc, FeishuError) else str(exc)) or exc.__class__.__name__
        with self.store.session() as s:
            status = ledger.mark_failed(s, row_id, code=code, reason=reason, now=now, permanent=permanent,
                                        max_attempts=self.max_attempts)
        log.warning("notification %s → %s not delivered (%s): %s", out.key, out.recipient, status, exc)
        out.status = "failed" if status == "failed" else "pending"
        prefix = "未送达" if permanent else ("多次失败，放弃" if status == "failed" else "暂时失败，下次重试")
        out.why = f"{prefix}: {code if code is not None else ''} {reason}".strip()
        return out

    def send_card(self, recipient: str, card: dict[str, Any], uuid: str, *, context: str = "") -> str:
        """One interactive message, paced per recipient; returns the message id.

        retry_safe: the uuid makes a repeated request idempotent on Feishu's side.
        """
        return self.gateway.im.send_card(recipient, card, uuid, context=context, wait=self.sleep)


def _fmt(dt: datetime) -> str:
    return dt.strftime("%Y-%m-%d %H:%M")

"""Pure check rules: `(PlanSnapshot, now, Policy, state) -> decisions`. No I/O, no clock.

Every rule takes the current instant `now` (an aware datetime) as a parameter; the local date is
`now` seen in `Policy.timezone`. The engine (`gtm.bot.rules.engine.run_checks`) calls them all.
This module holds the small shared pieces (result container, routing, references).
"""
from __future__ import annotations

from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from typing import Any, Iterator

from gtm.schemas.decisions import CellWrite, EscalationState, Notice, Reason, RecordRef
from gtm.schemas.plan import DataProblem, Person, PlanSnapshot, clip_text
from gtm.schemas.settings import Policy
from gtm.schemas.trusted import from_mapping, from_sequence

__all__ = ["RuleResult", "digest_mode", "urgent_mode", "in_digest", "keeps_digest_notices", "DIGEST_RECORDS",
           "Kept", "local_date", "require_aware", "ref", "label_of", "owner_route", "make_notice", "make_write",
           "make_state", "make_ref", "problem", "utc_key"]


class _Dropped(list):
    """A list that keeps nothing: where a digest run's rules put their notices and cell writes."""

    __slots__ = ()

    def append(self, item: object) -> None:
        pass

    def extend(self, items: object) -> None:
        pass

    def __iadd__(self, items: object) -> "_Dropped":  # type: ignore[override]
        return self


class _IssueStates(list):
    """Keeps the issues' escalation states only (what answers show, `views.issue_level`)."""

    __slots__ = ()

    def append(self, item: EscalationState) -> None:
        if item.table == "issue":
            super().append(item)

    def extend(self, items: object) -> None:
        super().extend(st for st in items if st.table == "issue")  # type: ignore[attr-defined]

    def __iadd__(self, items: object) -> "_IssueStates":  # type: ignore[override]
        self.extend(items)
        return self


class _UrgentNotices(list):
    """Keeps the notices that go out at once (`digest=False`); the morning digest's are dropped."""

    __slots__ = ()

    def append(self, item: Notice) -> None:
        if not item.digest:
            super().append(item)

    def extend(self, items: object) -> None:
        super().extend(n for n in items if not n.digest)  # type: ignore[attr-defined]

    def __iadd__(self, items: object) -> "_UrgentNotices":  # type: ignore[override]
        self.extend(items)
        return self


# Set by `digest_mode()` for the running thread (or task): rules started under it keep no notices,
# no cell writes and only the issues' escalation states. Every decision is still made the same way
# (RAG, problems, warnings, slips come out identical); only what the answers never read is not kept.
_DIGEST: ContextVar[bool] = ContextVar("gtm_rules_digest", default=False)
# Set by `urgent_mode()`: the periodic check, which sends only what cannot wait for the morning
# digest, keeps no digest notice (on a 100,000-item plan ~19,000 of them, ~40 MB held at once for
# nothing: the check drops them before the sender); every other output is the full run's.
_URGENT: ContextVar[bool] = ContextVar("gtm_rules_urgent", default=False)


# Records a digest run keeps per RAG reason (answers list five; `answer_cache.answer_digest`).
DIGEST_RECORDS = 20


def in_digest() -> bool:
    """Whether the running rules are under `digest_mode()`."""
    return _DIGEST.get()


def keeps_digest_notices() -> bool:
    """Whether the running rules keep the notices marked `digest`: not under `digest_mode()` (no
    notice is kept) nor `urgent_mode()` (the morning digest's are dropped), where a rule need not
    build them at all (on a 100,000-item plan ~26,000 notices, each with three texts)."""
    return not (_DIGEST.get() or _URGENT.get())


class Kept(list):  # type: ignore[type-arg]
    """Items a rule found, counted per group (`totals`); under `digest_mode()` only the first
    `DIGEST_RECORDS` of each group are kept (on a 100,000-item plan the overdue rows alone held
    ~20 MB while the rules ran, for an answer that names five)."""

    __slots__ = ("totals", "_keep")

    def __init__(self) -> None:
        super().__init__()
        self.totals: dict[str, int] = {}
        self._keep = DIGEST_RECORDS if _DIGEST.get() else None

    def keeps(self, group: str) -> bool:
        """Count one more item of `group`; whether to keep it (append it): False once a digest
        run's group is full, so the caller need not even build the item."""
        n = self.totals.get(group, 0)
        self.totals[group] = n + 1
        return self._keep is None or n < self._keep


@contextmanager
def digest_mode() -> Iterator[None]:
    token = _DIGEST.set(True)
    try:
        yield
    finally:
        _DIGEST.reset(token)


@contextmanager
def urgent_mode() -> Iterator[None]:
    token = _URGENT.set(True)
    try:
        yield
    finally:
        _URGENT.reset(token)


def _notices() -> list[Notice]:
    if _DIGEST.get():
        return _Dropped()
    return _UrgentNotices() if _URGENT.get() else []


def _writes() -> list[CellWrite]:
    return _Dropped() if _DIGEST.get() else []


def _escalations() -> list[EscalationState]:
    return _IssueStates() if _DIGEST.get() else []


@dataclass
class RuleResult:
    """What one rule decided; the engine merges these into a CheckResult. Under `digest_mode()`
    its notices and writes keep nothing and its escalations keep the issues' states only."""

    notices: list[Notice] = field(default_factory=_notices)
    writes: list[CellWrite] = field(default_factory=_writes)
    problems: list[DataProblem] = field(default_factory=list)
    escalations: list[EscalationState] = field(default_factory=_escalations)
    reasons: list[Reason] = field(default_factory=list)  # RAG reasons this rule found
    warnings: list[str] = field(default_factory=list)

    def extend(self, other: "RuleResult") -> None:
        self.notices += other.notices
        self.writes += other.writes
        self.problems += other.problems
        self.escalations += other.escalations
        self.reasons += other.reasons
        self.warnings += other.warnings


def require_aware(now: datetime) -> datetime:
    """Rules refuse naive datetimes: a wall time without a zone is ambiguous (DST, offsets)."""
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError(f"`now` must be timezone-aware, got naive {now!r}")
    return now


def local_date(now: datetime, policy: Policy) -> date:
    """The calendar date at `now` in the policy timezone (what 'today' means to the team)."""
    return require_aware(now).astimezone(policy.tz).date()


def utc_key(moment: datetime) -> str:
    """A compact, zone-independent text for an instant, used inside notice keys."""
    return moment.astimezone(timezone.utc).strftime("%Y%m%dT%H%M%SZ")


def label_of(table: str, row: Any) -> str:
    """A short human label for a row of any plan table (shown on cards and in 状态说明)."""
    if table in ("task", "milestone"):
        text = row.label
    else:
        text = {"deliverable": "name", "risk": "risk", "issue": "issue", "dependency": "item",
                "exit_criterion": "criterion", "project": "name", "metric": "metric"}.get(table, "")
        text = getattr(row, text, "") if text else ""
    return clip_text(text) if text else row.record_id


def _trusted(cls: type, values: dict[str, Any]) -> Any:
    """An instance of a pydantic model from already-valid values (every field), skipping validation.

    The rules build up to ~10^5 decisions per run from values they produced themselves;
    `model_construct` costs ~8 µs each, this ~1 µs (same result: every field set). The instances
    share their class's key table and one fields-set instead of a dict and a set each (~0.4 KB less
    per cell write, ~0.7 KB per data problem): `schemas.trusted`."""
    return from_mapping(cls)(values)


_REF = from_sequence(RecordRef, set(RecordRef.model_fields))
_WRITE = from_sequence(CellWrite, set(CellWrite.model_fields))


def ref(table: str, row: Any) -> RecordRef:
    return make_ref(table, row.record_id, label_of(table, row))


def make_ref(table: str, record_id: str, label: str) -> RecordRef:
    """A reference from a label already made (`label_of`), e.g. one a finding carries."""
    return _REF((table, record_id, label))


def make_notice(*, kind: str, key: str, recipients: list[str], record: RecordRef | None = None,
                level: int | None = None, digest: bool = False, title: str = "",
                text: str = "", text_en: str = "", due: datetime | None = None,
                data: dict[str, Any] | None = None) -> Notice:
    """Build a Notice without re-validating fields the rules produce themselves (hot path)."""
    return _trusted(Notice, {"kind": kind, "key": key, "recipients": recipients,
                             "record": record, "level": level, "digest": digest,
                             "title": title, "text": text, "text_en": text_en, "due": due,
                             "data": data if data is not None else {}})


def make_write(table: str, record_id: str, attr: str, value: Any) -> CellWrite:
    return _WRITE((table, record_id, attr, value))


def make_state(*, table: str, record_id: str, level: int, acked_until: datetime | None,
               snoozed_until: datetime | None, resolved: bool, since: datetime | None, acked_level: int,
               notified_at: datetime | None, repeats: int) -> EscalationState:
    """An EscalationState from the ladder's own values (aware datetimes, ints), every field given.

    Built by `_trusted`: a validated instance holds a dict and a fields-set of its own (~1 KB);
    a large plan's run keeps one per blocked task (14,000 of 100,000 in the benchmark plan)."""
    return _trusted(EscalationState, {"table": table, "record_id": record_id, "level": level,
                                      "acked_until": acked_until, "snoozed_until": snoozed_until,
                                      "resolved": resolved, "since": since, "acked_level": acked_level,
                                      "notified_at": notified_at, "repeats": repeats})


def problem(table: str, record_id: str, attr: str, value: Any, reason: str,
            reason_en: str, *, fix: str = "", fix_en: str = "", label: str = "") -> DataProblem:
    """A rule's data problem. `label`: the row's own ID or name when the rule has the row at
    hand (otherwise the engine fills it in, `PlanSnapshot.labelled`, with a copy of the problem).

    Built by `_trusted` (every field is a str the rules made): a large plan's rules make 10^4 of
    them."""
    return _trusted(DataProblem, {"table": table, "record_id": record_id, "field": attr,
                                  "value": str(value)[:80] if value is not None else "", "reason": reason,
                                  "reason_en": reason_en, "label": label, "fix": fix, "fix_en": fix_en})


def _pid(p: Person | None) -> str | None:
    return p.open_id if p is not None and p.open_id else None


def owner_route(snapshot: PlanSnapshot, table: str, row: Any,
                out: RuleResult) -> tuple[list[str], bool]:
    """Recipients for an item's owner (R). No owner → the PM, flagged as a data problem.

    Returns (recipients, owner_missing). Adds the DataProblem(s) to `out` once per record.
    """
    owner = _pid(getattr(row, "owner", None))
    if owner:
        return [owner], False
    out.problems.append(problem(table, row.record_id, "owner", "", "负责人为空，提醒已转给项目负责人",
                                "no owner; the reminder goes to the project manager"))
    pm = _pid(snapshot.project.pm)
    return ([pm] if pm else []), True


def pm_ids(snapshot: PlanSnapshot) -> list[str]:
    pm = _pid(snapshot.project.pm)
    return [pm] if pm else []


def management_ids(snapshot: PlanSnapshot) -> list[str]:
    seen: list[str] = []
    for p in snapshot.project.management:
        if p.open_id and p.open_id not in seen:
            seen.append(p.open_id)
    return seen

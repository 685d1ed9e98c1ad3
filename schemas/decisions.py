"""What the rules decide: shared by the rules (producer), the ledger/sender, write-back and cards.

Rules are pure functions `(PlanSnapshot, now, Policy, state) -> CheckResult`; nothing here does I/O.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from gtm.schemas.plan import DataProblem, share_keys


class RecordRef(BaseModel):
    """Points at one row: table key + record id, with a human label for cards."""

    model_config = ConfigDict(frozen=True)
    table: str
    record_id: str
    label: str = ""


class Reason(BaseModel):
    """One reason behind a RAG colour, with the records that cause it."""

    color: Literal["red", "yellow"]
    code: str  # e.g. "milestone_overdue", "risk_high", "issue_management", "budget_overrun"
    text: str  # Chinese
    text_en: str = ""
    records: list[RecordRef] = Field(default_factory=list)


class RagStatus(BaseModel):
    color: Literal["green", "yellow", "red"]
    reasons: list[Reason] = Field(default_factory=list)

    def explanation(self, lang: str = "zh") -> str:
        if not self.reasons:
            return "一切按计划进行" if lang == "zh" else "Everything on track"
        if lang == "zh":
            return "；".join(r.text for r in self.reasons)
        return "; ".join(r.text_en or r.text for r in self.reasons)


NoticeKind = Literal["overdue", "due_soon", "escalation", "budget", "gate", "data_problem",
                     "delivery_failed", "system", "slip", "signoff", "informed"]


class Notice(BaseModel):
    """Somebody must be told something. `key` is stable across runs: the ledger's dedup key.

    `digest=True` notices are grouped into one card per recipient per run (overdue, due soon);
    others (escalation, budget, gate) are sent individually.
    """

    kind: NoticeKind
    key: str  # stable: f"{kind}:{table}:{record_id}:{episode-or-level}" (project is added by the ledger)
    recipients: list[str]  # open_ids
    record: RecordRef | None = None
    level: int | None = None  # escalation level (1 = PM, 2 = management, …)
    digest: bool = False
    title: str = ""
    text: str = ""  # Chinese
    text_en: str = ""
    due: datetime | None = None
    data: dict[str, Any] = Field(default_factory=dict)


class CellWrite(BaseModel):
    """A computed value the service wants in the Base (only service/shared fields)."""

    model_config = ConfigDict(frozen=True)
    table: str
    record_id: str
    attr: str
    value: Any


class EscalationState(BaseModel):
    """Per-record ladder state kept in the store (acks and snoozes come from card buttons)."""

    table: str
    record_id: str
    level: int = 0  # highest level already notified
    acked_until: datetime | None = None
    snoozed_until: datetime | None = None
    resolved: bool = False
    # When the ladder started measuring (issue: 提出日期; blocked task: first seen 阻塞). Added by
    # the rules: a blocked task's modified_at moves with every edit, so the start must be kept.
    since: datetime | None = None
    acked_level: int = 0  # the level that was acknowledged (silenced until the next level is due)
    notified_at: datetime | None = None  # when the current level was last (re)notified
    repeats: int = 0  # repeats sent at the current level


class Slip(BaseModel):
    """An item whose forecast finish threatens open milestones or successors (schedule rule)."""

    source: RecordRef  # the root of the slip (a task or a pending dependency)
    finish: str  # its forecast finish, ISO date
    milestones: list[RecordRef] = Field(default_factory=list)  # open milestones now late
    affected: list[RecordRef] = Field(default_factory=list)  # open successor tasks pushed
    late_days: int = 0  # the worst milestone delay, working days
    text: str = ""  # Chinese
    text_en: str = ""


class CheckResult(BaseModel):
    """Everything one check run decided for one project."""

    notices: list[Notice] = Field(default_factory=list)
    writes: list[CellWrite] = Field(default_factory=list)
    escalations: list[EscalationState] = Field(default_factory=list)  # new ladder states to store
    rag: RagStatus = Field(default_factory=lambda: RagStatus(color="green"))
    problems: list[DataProblem] = Field(default_factory=list)
    warnings: list[str] = Field(default_factory=list)  # e.g. holiday calendar missing next year
    slips: list[Slip] = Field(default_factory=list)  # schedule slips, worst first


# The rules make up to ~10^5 of these per run, attribute by attribute (`gtm.bot.rules._trusted`):
# with one key table per class they cost a third of a dict each.
for _cls in (RecordRef, Notice, CellWrite):
    share_keys(_cls)

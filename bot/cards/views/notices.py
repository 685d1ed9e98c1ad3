"""Cards the notification ledger sends: digests of overdue / due-soon items, escalations, alerts."""
from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from gtm.bot.cards.render import Clip
from gtm.bot.cards.views.common import ActionButton, Label, ReportLine


class DigestItem(BaseModel):
    """One overdue / due-soon item, with its buttons; `state` set once someone acted on it."""

    kind: str  # overdue | due_soon
    table: str
    record_id: str
    label: str
    text: str = ""
    text_en: str = ""
    due: str = ""
    idx: int = 0  # position: element ids and form names are built from it
    done_value: dict[str, Any] | None = None
    progress_value: dict[str, Any] | None = None
    postpone_value: dict[str, Any] | None = None
    state: str = ""  # e.g. "✅ 已完成" once acted on
    state_en: str = ""


class DigestView(BaseModel):
    project_name: str
    recipient: str
    overdue: Clip[DigestItem] = Field(default_factory=Clip)
    due_soon: Clip[DigestItem] = Field(default_factory=Clip)


class EscalationView(BaseModel):
    project_name: str
    title: str
    title_en: str = ""
    text: str
    text_en: str = ""
    record_label: str = ""
    level: int = 1
    level_label: Label
    owner_ids: list[str] = Field(default_factory=list)
    due: str = ""
    buttons: list[ActionButton] = Field(default_factory=list)
    snooze_value: dict[str, Any] | None = None
    state: str = ""
    state_en: str = ""


class AlertView(BaseModel):
    """Budget change request, milestone gate, delivery failure, system / data problems."""

    kind: str
    project_name: str
    title: str
    title_en: str = ""
    header_color: str = "orange"
    text: str
    text_en: str = ""
    lines: Clip[ReportLine] = Field(default_factory=Clip)
    buttons: list[ActionButton] = Field(default_factory=list)
    state: str = ""
    state_en: str = ""

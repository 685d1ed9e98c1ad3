"""Cards of a conversation: help, short messages, "not linked", confirm-before-write, sign-off."""
from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from gtm.bot.cards.views.common import HelpChoice, ReportLine


class HelpCommand(BaseModel):
    zh: str
    en: str
    what: str
    what_en: str


class HelpView(BaseModel):
    project_name: str = ""
    unknown: str = ""  # the text we did not understand, as typed (empty for a plain help)
    suggestions: list[str] = Field(default_factory=list)
    choices: list[HelpChoice] = Field(default_factory=list)  # the nearest intents, as buttons
    commands: list[HelpCommand] = Field(default_factory=list)


class NotLinkedView(BaseModel):
    chat_id: str = ""


class SignoffView(BaseModel):
    """The 审批人's card: a milestone whose exit criteria are all met, 通过 / 退回 with a note."""

    project_name: str
    title: str
    title_en: str
    text: str
    text_en: str = ""
    criteria: list[str] = Field(default_factory=list)
    approve_value: dict[str, Any]
    reject_value: dict[str, Any]
    state: str = ""
    state_en: str = ""


class ConfirmView(BaseModel):
    """确认 / 取消 before a change typed in chat is written (buttons carry card-action values)."""

    project_name: str
    question: str  # "把 T-301 渠道培训 的进度改为 80%？"
    question_en: str
    lines: list[ReportLine] = Field(default_factory=list)  # what is there now, who may confirm
    confirm_value: dict[str, Any]
    cancel_value: dict[str, Any]


class MessageView(BaseModel):
    """A short answer (e.g. no such milestone / several projects match)."""

    title: str
    title_en: str = ""
    text: str
    text_en: str = ""
    color: str = "grey"
    choices: list[str] = Field(default_factory=list)

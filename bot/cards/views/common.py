"""The pieces every card family shares: coloured labels, reasons, report lines, buttons, and the
words and colours of statuses, RAG and escalation levels (words from `gtm.bot.catalogue`)."""
from __future__ import annotations

from datetime import date
from functools import lru_cache
from typing import Any, Literal

from pydantic import BaseModel, Field

from gtm.bot import catalogue
from gtm.bot.rules.queries import LEVEL_BY_NAME as LEVEL_BY_NAME  # 升级级别 cell → level
from gtm.bot.rules.queries import UNSIGNED
from gtm.bot.rules.queries import iso as iso  # the one date format of cards (YYYY-MM-DD)
from gtm.schemas.decisions import RagStatus
from gtm.schemas.plan import DependencyStatus, IssueStatus, MilestoneStatus, TaskStatus
from gtm.schemas.settings import Policy

Color = Literal["green", "yellow", "red", "blue", "grey", "orange", "turquoise", "wathet", "purple",
                "carmine", "indigo", "violet"]


class Label(BaseModel):
    """A status shown as a coloured tag: Chinese text, English text, colour."""

    zh: str
    en: str = ""
    color: str = "neutral"


class ReasonView(BaseModel):
    color: str
    text: str
    text_en: str = ""
    records: list[str] = Field(default_factory=list)


class ReportLine(BaseModel):
    text: str
    text_en: str = ""


class HelpChoice(BaseModel):
    """A button that asks the bot a question for the clicker (callback value {"a": "ask", "q": …})."""

    zh: str
    en: str
    value: dict[str, Any]


class ActionButton(BaseModel):
    text: str
    text_en: str
    value: dict[str, Any]
    kind: Literal["primary", "default", "danger"] = "default"


STATUS_COLOR = {
    TaskStatus.NOT_STARTED.value: "neutral", TaskStatus.IN_PROGRESS.value: "blue",
    TaskStatus.DONE.value: "green", MilestoneStatus.DONE.value: "green",
    TaskStatus.OVERDUE.value: "red", TaskStatus.BLOCKED.value: "orange",
    IssueStatus.OPEN.value: "orange", IssueStatus.IN_PROGRESS.value: "blue",
    IssueStatus.RESOLVED.value: "green", DependencyStatus.CONFIRMED.value: "green",
    DependencyStatus.PENDING.value: "orange",
}
STATUS_COLOR[UNSIGNED] = "orange"  # a milestone marked done that its 审批人 has not signed off

RAG_LABEL = {c: Label(zh=w.zh, en=w.en, color=c) for c, w in catalogue.RAG.items()}
LEVEL_LABEL = {n: Label(zh=w.zh, en=w.en, color=("neutral", "orange", "red")[n]) for n, w in catalogue.LEVELS.items()}


@lru_cache(maxsize=256)
def status_label(value: str | None) -> Label:
    """A status option as a coloured label (unknown options kept as typed, grey)."""
    if not value:
        return Label(zh="—", en="—", color="neutral")
    word = catalogue.status_word(value)
    return Label(zh=word.zh, en=word.en, color=STATUS_COLOR.get(value, "neutral"))


def week_label(day: date) -> str:
    y, w, _ = day.isocalendar()
    return f"{y}-W{w:02d}"


def risk_color(score: int, policy: Policy) -> str:
    if score >= policy.red_risk_score:
        return "red"
    if score >= policy.yellow_risk_score:
        return "orange"
    return "green" if score else "neutral"


def reasons_of(rag: RagStatus) -> list[ReasonView]:
    """The RAG reasons, red first. A reason's text already names its records, so only records
    the text does not name are listed after it (never the project itself, never twice)."""
    out = []
    for r in sorted(rag.reasons, key=lambda r: r.color != "red"):
        extra = []
        for x in r.records[:5]:
            name = x.label or x.record_id
            if x.table != "project" and name not in r.text and name not in extra:
                extra.append(name)
        out.append(ReasonView(color=r.color, text=r.text, text_en=r.text_en or r.text, records=extra))
    return out

"""The weekly report and the portfolio cards."""
from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from gtm.bot.cards.render import Clip
from gtm.bot.cards.views.common import Label, ReasonView, ReportLine
from gtm.bot.cards.views.plan import MilestoneProgress


class MetricRow(BaseModel):
    metric: str
    target: str = ""
    current: str = ""
    updated: str = ""


class WeeklyReportView(BaseModel):
    project_name: str
    project_slug: str = ""
    title: str = "GTM 项目周报"  # the template's own report name (销售项目周报, 营销活动周报 …)
    title_en: str = "GTM weekly report"
    week: str  # "2026-W48"
    period: str  # "2026-11-16 – 2026-11-22"
    generated_at: str
    rag: Label
    header_color: str
    reasons: Clip[ReasonView] = Field(default_factory=Clip)
    done: Clip[ReportLine] = Field(default_factory=Clip)
    next_week: Clip[ReportLine] = Field(default_factory=Clip)
    risks: Clip[ReportLine] = Field(default_factory=Clip)
    metrics: Clip[MetricRow] = Field(default_factory=Clip)
    support: Clip[ReportLine] = Field(default_factory=Clip)
    changes: Clip[ReportLine] = Field(default_factory=Clip)
    milestones: Clip[MilestoneProgress] = Field(default_factory=Clip)
    chart: dict[str, Any] = Field(default_factory=dict)  # VChart spec
    summary: str = ""  # one line for the 周报 table
    summary_en: str = ""
    counts: dict[str, int] = Field(default_factory=dict)
    facts: dict[str, Any] = Field(default_factory=dict)  # what `report_summary` stores for next week
    generated: datetime | None = None


class PortfolioRow(BaseModel):
    name: str
    slug: str = ""
    rag: Label
    top_reason: str = ""
    top_reason_en: str = ""
    overdue_milestones: list[str] = Field(default_factory=list)
    management_issues: int = 0
    next_milestone: str = ""
    next_milestone_en: str = ""


class PortfolioView(BaseModel):
    as_of: str
    rows: Clip[PortfolioRow] = Field(default_factory=Clip)
    counts: dict[str, int] = Field(default_factory=dict)  # green/yellow/red


_BLANK = re.compile(r"_{2,}|^\s*(例|例如|e\.g\.)\s*[:：]", re.IGNORECASE)


def is_blank(text: str | None) -> bool:
    """A template placeholder the team has not filled in yet ("＞ ___", "$_____", "例：500万元")."""
    return not text or not text.strip() or bool(_BLANK.search(text)) or text.strip() in ("—", "-")

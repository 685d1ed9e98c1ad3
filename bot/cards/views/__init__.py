"""View-models: what one card shows, already decided (texts, colours, counts), no Feishu JSON.

Handlers, the weekly report, the portfolio and the notice factory build these; one jinja2
template renders each (`gtm.bot.cards.render.render(name, view, locale)`). Lists that may be
long are `Clip`s so the renderer can cut them to fit the 30 KB card limit. The numbers they show
are decided by `gtm.bot.rules.queries` (risk score, issue level, milestone progress, open items).

One module per card family; this package lists them all, so `from gtm.bot.cards import views as V`
reaches every view-model and the helpers that turn rule results into them.
"""
from gtm.bot.cards.views.common import (
    LEVEL_BY_NAME,
    LEVEL_LABEL,
    RAG_LABEL,
    STATUS_COLOR,
    ActionButton,
    Color,
    HelpChoice,
    Label,
    ReasonView,
    ReportLine,
    iso,
    reasons_of,
    risk_color,
    status_label,
    week_label,
)
from gtm.bot.cards.views.dialog import (
    ConfirmView,
    HelpCommand,
    HelpView,
    MessageView,
    NotLinkedView,
    SignoffView,
)
from gtm.bot.cards.views.items import ItemGroup, ItemListView, ItemRow, by_due, item_row, open_items, with_days
from gtm.bot.cards.views.notices import AlertView, DigestItem, DigestView, EscalationView
from gtm.bot.cards.views.plan import (
    CriterionRow,
    CriticalPathView,
    DataProblemView,
    DeliverableRow,
    DependencyRow,
    DependencyView,
    HeatRow,
    IssueRow,
    IssueView,
    MilestoneProgress,
    MilestoneView,
    PathMilestone,
    ProblemRow,
    RiskRow,
    RiskView,
    StatusView,
    WorkloadRow,
    WORKLOAD_LISTED,
    WorkloadView,
    budget_lines,
    milestone_progress,
    next_milestone,
)
from gtm.bot.cards.views.reports import MetricRow, PortfolioRow, PortfolioView, WeeklyReportView, is_blank

__all__ = [
    # shared pieces
    "Color", "Label", "ReasonView", "ReportLine", "HelpChoice", "ActionButton",
    "STATUS_COLOR", "RAG_LABEL", "LEVEL_LABEL", "LEVEL_BY_NAME",
    "status_label", "iso", "week_label", "risk_color", "reasons_of",
    # item lists
    "ItemRow", "ItemGroup", "ItemListView", "item_row", "open_items", "with_days", "by_due",
    # plan cards
    "MilestoneProgress", "StatusView", "DeliverableRow", "CriterionRow", "MilestoneView",
    "RiskRow", "HeatRow", "RiskView", "DependencyRow", "DependencyView", "IssueRow", "IssueView",
    "ProblemRow", "DataProblemView", "PathMilestone", "CriticalPathView", "WorkloadRow",
    "WorkloadView", "WORKLOAD_LISTED", "milestone_progress", "next_milestone", "budget_lines",
    # conversation
    "HelpCommand", "HelpView", "NotLinkedView", "SignoffView", "ConfirmView", "MessageView",
    # reports
    "MetricRow", "WeeklyReportView", "PortfolioRow", "PortfolioView", "is_blank",
    # notices
    "DigestItem", "DigestView", "EscalationView", "AlertView",
]

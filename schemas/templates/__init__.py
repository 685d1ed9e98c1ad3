"""Plan templates as data (the seeds in docs/seeds/: 000, 002, 003) and their layout on a calendar."""
from __future__ import annotations

from gtm.schemas.templates.campaign import CAMPAIGN
from gtm.schemas.templates.gtm import GTM
from gtm.schemas.templates.model import (
    CommunicationT,
    DeliverableT,
    ExampleT,
    OutputT,
    PaymentT,
    DependencyT,
    MetricT,
    MilestoneT,
    Phase,
    PlanTemplate,
    RiskT,
    TaskT,
    layout,
)
from gtm.schemas.templates.sales import SALES

TEMPLATES: dict[str, PlanTemplate] = {t.key: t for t in (GTM, SALES, CAMPAIGN)}
for _t in TEMPLATES.values():
    _t.check()


def get_template(key: str) -> PlanTemplate:
    """A template by key (`gtm`, `sales`, `campaign`); a clear error names the known keys."""
    try:
        return TEMPLATES[key]
    except KeyError:
        raise KeyError(f"未知模板 {key!r}（可用：{', '.join(TEMPLATES)}） / unknown template {key!r} "
                       f"(known: {', '.join(TEMPLATES)})") from None


__all__ = ["TEMPLATES", "get_template", "layout", "PlanTemplate", "Phase", "MilestoneT", "DeliverableT",
           "TaskT", "RiskT", "DependencyT", "MetricT", "CommunicationT", "ExampleT", "OutputT", "PaymentT", "GTM", "SALES", "CAMPAIGN"]

"""What people see follows the project's template: the report's name, the key date, phase names and
one money format in the project's currency (the template's unless the project sets its own)."""
from __future__ import annotations

import json
from types import SimpleNamespace

import pytest

from gtm.bot.chat.answers import AskContext, answer
from gtm.bot.chat.parse import parse
from gtm.bot.checks.weekly_report import build_weekly_report, report_card
from gtm.bot.rules.engine import run_checks
from gtm.bot.runtime import effective_policy
from gtm.schemas.money import format_money
from gtm.schemas.settings import Policy, Settings
from tests.support.snapshots import ALICE, NOW, build_snapshot


WORDS = {  # template -> (report title zh, en, key date zh, en, money as shown)
    "gtm": ("GTM 项目周报", "GTM weekly report", "目标发布日期", "Target launch", "$100,000"),
    "sales": ("销售项目周报", "Sales project weekly report", "验收日期", "Acceptance date", "¥100,000"),
    "campaign": ("营销活动周报", "Campaign weekly report", "活动日期", "Campaign date", "¥100,000"),
}


def _text(card: dict) -> str:
    return json.dumps(card, ensure_ascii=False)


def test_one_money_format():
    assert format_money(560000, "USD") == "$560,000"
    assert format_money(560000.0, "CNY") == "¥560,000"
    assert format_money(1234.5, "CNY") == "¥1,234.50"
    assert format_money(-12, "EUR") == "-€12"
    assert format_money(99.999, "CHF") == "CHF 100"


@pytest.mark.parametrize("template", sorted(WORDS))
def test_report_and_status_use_the_templates_words(template):
    title, title_en, key, key_en, money = WORDS[template]
    policy = Policy(template=template)
    snap = build_snapshot()
    check = run_checks(snap, NOW, policy)
    view = build_weekly_report(snap, check, NOW, policy=policy)
    zh, en = _text(report_card(view, "zh")), _text(report_card(view, "en"))
    assert f"{title} - " in zh and f"{title_en} - " in en
    if template != "gtm":
        assert "GTM 项目周报" not in zh and "GTM weekly report" not in en
    assert money in zh  # the 需要支持 line: 预算 …，实际花费 …
    ctx = AskContext(project_name="p", project_slug="p", snapshot=snap, check=check, now=NOW, policy=policy,
                     asker=ALICE.open_id, chat_id="oc_group0001")
    status = _text(answer(parse("状态"), ctx))
    assert f"{key}：" in status and money in status
    if template != "gtm":
        assert "目标发布日期" not in status
    ctx.locale = "en"
    assert f"{key_en}: " in _text(answer(parse("status"), ctx))


def test_budget_notice_and_rag_reason_use_the_project_currency():
    snap = build_snapshot()
    for template, sign in (("gtm", "$"), ("sales", "¥")):
        check = run_checks(snap, NOW, Policy(template=template))
        notice = next(n for n in check.notices if n.kind == "budget")
        assert f"{sign}112,000" in notice.text and f"{sign}100,000" in notice.text_en
        assert notice.data["currency"] == ("USD" if template == "gtm" else "CNY")
        reasons = [r.text for r in check.rag.reasons if r.code == "budget_overrun"]
        assert reasons and f"{sign}112,000" in reasons[0]
    check = run_checks(snap, NOW, Policy(template="sales", currency="eur"))  # the project's own setting
    assert "€112,000" in next(n for n in check.notices if n.kind == "budget").text


def test_currency_defaults_from_the_template_and_a_project_may_override_it():
    row = SimpleNamespace(timezone="Asia/Shanghai", template="campaign", policy_overrides={})
    assert effective_policy(Settings(), row).money_unit == "CNY"
    row = SimpleNamespace(timezone="Asia/Shanghai", template="gtm", policy_overrides={})
    assert effective_policy(Settings(), row).money_unit == "USD"
    row = SimpleNamespace(timezone="Asia/Shanghai", template="sales", policy_overrides={"currency": "HKD"})
    assert effective_policy(Settings(), row).money_unit == "HKD"
    with pytest.raises(ValueError, match="ISO 4217 code such as CNY"):
        Policy(currency="dollars")


def test_milestone_card_shows_phase_in_chinese_and_english():
    snap = build_snapshot()
    policy = Policy(template="gtm")
    ctx = AskContext(project_name="p", project_slug="p", snapshot=snap, check=run_checks(snap, NOW, policy),
                     now=NOW, policy=policy, asker=ALICE.open_id, chat_id="oc_group0001")
    assert "阶段：发布前准备（Pre-Launch）" in _text(answer(parse("M1"), ctx))


def test_p2p_status_of_a_sales_project_uses_that_projects_words():
    from gtm.bot.chat.context import ProjectData

    gtm_snap, sales_snap = build_snapshot(name="星河"), build_snapshot(name="某客户系统部署")
    gtm_p, sales_p = Policy(template="gtm"), Policy(template="sales")
    ctx = AskContext(now=NOW, policy=gtm_p, asker=ALICE.open_id, chat_type="p2p", projects=[
        ProjectData("星河", gtm_snap, run_checks(gtm_snap, NOW, gtm_p), "xinghe", policy=gtm_p),
        ProjectData("某客户系统部署", sales_snap, run_checks(sales_snap, NOW, sales_p), "deal", policy=sales_p)])
    card = _text(answer(parse("状态 某客户系统部署"), ctx))
    assert "验收日期：" in card and "¥100,000" in card and "目标发布日期" not in card
    report = _text(answer(parse("周报 某客户系统部署"), ctx))
    assert "销售项目周报" in report and "GTM 项目周报" not in report

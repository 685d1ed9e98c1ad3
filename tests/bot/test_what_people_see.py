"""What a PM reads in the cards is right (issue: weekly report metrics, duplicates, colours,
working-day wording, one escalation level and risk score, milestone contradictions, my tasks)."""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

from gtm.bot import views as V
from gtm.bot.commands import parse
from gtm.bot.handlers import AskContext, answer
from gtm.bot.report import build_weekly_report, report_card
from gtm.schemas.plan import Metric
from gtm.schemas.templates import get_template

_KIT = sys.modules.get("gtm_bot_test_kit")
if _KIT is None:
    _spec = importlib.util.spec_from_file_location("gtm_bot_test_kit", Path(__file__).with_name("conftest.py"))
    _KIT = importlib.util.module_from_spec(_spec)
    sys.modules["gtm_bot_test_kit"] = _KIT
    _spec.loader.exec_module(_KIT)
ALICE, BOB, PM, NOW, build_snapshot = _KIT.ALICE, _KIT.BOB, _KIT.PM, _KIT.NOW, _KIT.build_snapshot


def strings(obj) -> list[str]:
    if isinstance(obj, dict):
        return [s for v in obj.values() for s in strings(v)]
    if isinstance(obj, list):
        return [s for v in obj for s in strings(v)]
    return [obj] if isinstance(obj, str) else []


def text_of(card: dict) -> str:
    return "\n".join(strings(card))


def ctx_for(snapshot, check, policy, **kw) -> AskContext:
    return AskContext(project_name="星河 GTM 发布", project_slug="xinghe", snapshot=snapshot, check=check,
                      now=NOW, policy=policy, asker=kw.pop("asker", ALICE.open_id), chat_id="oc_group0001", **kw)


# ---- 1. weekly report metrics ---------------------------------------------------------------
def test_report_never_prints_template_blanks_and_no_date_without_a_value(check, policy):
    snap = build_snapshot()
    tpl = get_template("gtm")
    snap.metrics = [Metric(record_id=f"recK{i}", metric=m.metric, target=m.target,
                           current="46%" if i == 0 else "", updated_on=NOW.date())
                    for i, m in enumerate(tpl.metrics)]
    assert any("___" in m.target for m in snap.metrics)  # the seed really has blanks
    view = build_weekly_report(snap, check, NOW, policy.timezone, policy=policy)
    for locale in ("zh", "en"):
        body = text_of(report_card(view, locale))
        assert "___" not in body and "例：" not in body and "$_" not in body
    rows = {r.metric: r for r in view.metrics}
    assert rows["PMF 调研“非常失望”比例"].current == "46%" and rows["PMF 调研“非常失望”比例"].target == ">40%"
    assert rows["NRR"].current == "" and rows["NRR"].updated == ""  # no value, so no update date
    assert rows["NPS"].target == ""  # "> ___" is a blank, shown as 未设定
    assert "未设定" in text_of(report_card(view, "zh")) and "not set" in text_of(report_card(view, "en"))


def test_demo_metric_values_are_chosen_by_metric_not_by_row_order():
    from gtm.bot.demo_data import DEMO_METRICS

    for key in ("gtm", "sales", "campaign"):
        for m in get_template(key).metrics:
            assert m.metric in DEMO_METRICS, f"{key}: {m.metric} has no demo value"
    assert DEMO_METRICS["PMF 调研“非常失望”比例"][0].endswith("%")
    assert not DEMO_METRICS["NPS"][0].endswith("%")
    assert DEMO_METRICS["付费客户数"][0].endswith("个")
    for current, target in DEMO_METRICS.values():
        assert not V.is_blank(target) or target == ""


# ---- 2. the status card does not repeat its items -------------------------------------------
def test_status_reasons_do_not_repeat_the_items_they_name(snapshot, check, policy):
    card = answer(parse("状态"), ctx_for(snapshot, check, policy))
    body = text_of(card)
    assert "产品延期（9）" in body
    assert "（产品延期）" not in body and "(产品延期)" not in body
    assert "（星河 GTM 发布）" not in body  # the budget reason never names the project itself


# ---- 3. a green project shows a green dot --------------------------------------------------
def test_green_project_shows_a_green_dot(policy):
    snap = build_snapshot()
    snap.project.rag = "绿色"
    snap.project.rag_reason = "按计划推进"
    card = answer(parse("状态"), AskContext(project_name="x", snapshot=snap, check=None, now=NOW, policy=policy,
                                            asker=ALICE.open_id, chat_id="oc_group0001"))
    body = text_of(card)
    assert card["header"]["template"] == "green"
    assert "🟢 按计划推进" in body and "🟡" not in body


# ---- 11. natural questions reach the right answer ---------------------------------------------
def test_natural_questions_get_the_right_card(snapshot, check, policy):
    ctx = ctx_for(snapshot, check, policy)
    labels = [m.label for m in snapshot.milestones]
    card = answer(parse("M3进度怎么样", labels), ctx)
    assert "M3" in card["header"]["title"]["content"]
    card = answer(parse("本周周报", labels), ctx)
    assert "周报" in card["header"]["title"]["content"] and "本周到期" not in text_of(card)
    card = answer(parse("我有哪些任务", labels), ctx)
    assert "我的任务" in card["header"]["title"]["content"]
    card = answer(parse("what's overdue?", labels), ctx)
    assert "逾期" in card["header"]["title"]["content"]
    card = answer(parse("下周有什么到期", labels), ctx)
    assert "下周到期" in card["header"]["title"]["content"]
    assert "T-008" not in text_of(card)  # due Sunday 11-29: this week, not next
    card = answer(parse("本周有什么到期", labels), ctx)
    assert "本周到期" in card["header"]["title"]["content"] and "T-008" in text_of(card)


def test_not_understood_echoes_the_text_as_typed(snapshot, check, policy):
    card = answer(parse("@_user_1 Show me the FOO Dashboard"), ctx_for(snapshot, check, policy))
    assert "没听懂「Show me the FOO Dashboard」" in text_of(card)

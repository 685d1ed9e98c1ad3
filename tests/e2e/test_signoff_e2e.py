"""Milestone sign-off by its 审批人 from a card (real SDK ↔ sandbox): asked once all exit criteria
are ticked; strangers refused; 退回 needs a note; 通过 makes the milestone 完成 (达成)."""
from __future__ import annotations

from datetime import datetime, time

import pytest

from gtm.bot.cards.button_values import Signoff
from gtm.bot.checks.check import run_check
from gtm.bot.chat.dispatcher import Dispatcher
from gtm.schemas.plan import Person
from tests.support import plans
from tests.support.inbox import card_text
from tests.support.plans import NOW, TZ, add_rows, create_plan, record_fields, task
from tests.support.runtime import running_bot

SLUG = "sign"


@pytest.fixture
def signplan(runtime, seed, monkeypatch):
    monkeypatch.setattr(plans, "BOT_TABLES", (*plans.BOT_TABLES, "exit_criterion"))
    u = seed.users
    p = create_plan(runtime, slug=SLUG, name="验收测试", chat_ids=[seed.chat_id], pm=u["pm"],
                    management=[u["management"]], tasks=[task("T-1", "物料", u["王芳"], NOW.date())])
    b = p["binding"]
    [ms] = p["milestones"]
    edit(runtime, "milestone", ms, approver=[Person(open_id=u["陈静"])], owner=Person(open_id=u["刘洋"]))
    p["criteria"] = add_rows(runtime.gateway, b, "exit_criterion", [
        {"criterion": "物料全部到位", "milestone": [ms], "met": True},
        {"criterion": "销售培训完成", "milestone": [ms], "met": False}])
    return p


@pytest.fixture
def bot(sandbox, seed, runtime, signplan):
    with running_bot(sandbox, seed, Dispatcher(runtime, clock=lambda: NOW)) as d:
        yield d


def edit(runtime, key: str, record_id: str, **values) -> None:
    """Change cells through the Open API (the test Base is not shared with the people)."""
    from gtm.sync.writeback import write_user_action

    write_user_action(runtime.mirror(runtime.project(SLUG)), key, record_id, values, "test")


def signoff_cards(sandbox, open_id: str) -> list[dict]:
    return [m for m in sandbox.control.p2p_messages(open_id, bots_only=True) if "待验收" in card_text(m)]


def test_approver_signs_off_from_the_card(sandbox, seed, gateway, runtime, signplan, bot):
    u = seed.users
    project = runtime.project(SLUG)
    b, [ms] = signplan["binding"], signplan["milestones"]
    run_check(runtime, project, NOW)
    assert signoff_cards(sandbox, u["陈静"]) == []  # one criterion still open: nothing to sign

    edit(runtime, "exit_criterion", signplan["criteria"][1], met=True)
    run_check(runtime, project, NOW)
    run_check(runtime, project, NOW)
    [card] = signoff_cards(sandbox, u["陈静"])
    assert "物料全部到位" in card_text(card) and "销售培训完成" in card_text(card)
    mid = card["message_id"]
    approve = Signoff(p=SLUG, t="milestone", r=ms, ok=1, f="0").value()
    back = Signoff(p=SLUG, t="milestone", r=ms, ok=0, f="0").value()

    assert sandbox.control.click(mid, u["杨帆"], approve)["toast"]["type"] == "error"
    assert sandbox.control.click(mid, u["pm"], approve)["toast"]["type"] == "error"  # A is 陈静, not the PM
    assert sandbox.control.click(mid, u["陈静"], back, form_value={"note0": ""})["toast"]["type"] == "error"
    ans = sandbox.control.click(mid, u["陈静"], back, form_value={"note0": "培训记录缺签到表"})
    assert ans["toast"]["type"] == "success", ans
    fields = record_fields(gateway, b, "milestone", ms)
    assert fields["验收"] == "已退回" and "培训记录缺签到表" in str(fields["验收意见"])
    assert fields["状态"] != "完成"
    run_check(runtime, project, NOW)
    assert len(signoff_cards(sandbox, u["陈静"])) == 1  # not asked again until a criterion changes

    # the criterion is fixed and ticked again: a new request, approved this time
    edit(runtime, "exit_criterion", signplan["criteria"][1], criterion="销售培训完成（含签到表）")
    run_check(runtime, project, NOW)
    cards = signoff_cards(sandbox, u["陈静"])
    assert len(cards) == 2
    ans = sandbox.control.click(cards[-1]["message_id"], u["陈静"], approve, form_value={"note0": "同意"})
    assert ans["toast"]["type"] == "success", ans
    fields = record_fields(gateway, b, "milestone", ms)
    assert fields["验收"] == "已通过" and fields["状态"] == "完成"
    assert fields["实际日期"] == int(datetime.combine(NOW.date(), time(), TZ).timestamp() * 1000)

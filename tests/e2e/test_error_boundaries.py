"""Case 7 of issue 17: no raw exception text reaches a chat. The asker sees a short message and a
log id, the PM gets the 系统问题 card, the log gets the rest; a deleted Base is not blamed on a scope."""
from __future__ import annotations

import logging
from datetime import timedelta

import pytest

from gtm.bot.chat.dispatcher import Dispatcher
from gtm.sync.subscribe import ensure_subscribed
from tests.support.inbox import card_text
from tests.support.plans import NOW
from tests.support.runtime import running_bot
from tests.support.waiting import wait_until

RAW = ("1254040", "BaseTokenNotFound", "Traceback", "code ")


@pytest.fixture
def bot(sandbox, seed, runtime, plan):
    with running_bot(sandbox, seed, Dispatcher(runtime, clock=lambda: NOW)) as d:
        yield d


def test_deleted_base_gives_a_short_answer_with_log_id_and_tells_the_pm(sandbox, seed, runtime, plan, bot, caplog):
    runtime.mirror(runtime.project("alpha")).refresh(NOW - timedelta(hours=2))  # read earlier: the PM is known
    sandbox.bitable.delete_base(plan["binding"].app_token)
    with caplog.at_level(logging.ERROR):
        sandbox.control.post_message(seed.chat_id, seed.users["王芳"], "状态")
        [reply] = sandbox.control.wait_for_messages(seed.chat_id, 1, timeout=10)
        assert bot.drain(5)
    text = card_text(reply)
    assert not any(r in text for r in RAW), text
    assert "日志编号 E" in text
    log_id = text.split("日志编号 ")[1][:9]
    # the log has the operator message, the log id and the traceback
    rec = next(r for r in caplog.records if log_id in r.getMessage())
    assert rec.exc_info is not None and "1254040" in rec.getMessage()
    # the PM gets the 系统问题 card (in p2p), with the same log id and no raw error either
    pm_cards = wait_until(lambda: sandbox.control.p2p_messages(seed.users["pm"], bots_only=True), timeout=10,
                          message="系统问题 card")
    pm_text = card_text(pm_cards[-1])
    assert "系统问题" in pm_text and log_id in pm_text
    assert "BaseTokenNotFound" not in pm_text


def test_card_click_on_a_deleted_base_toasts_a_log_id_only(sandbox, seed, plan, bot, runtime):
    from gtm.bot.cards.button_values import TaskDone
    from gtm.bot.chat.transports import Incoming

    sandbox.bitable.delete_base(plan["binding"].app_token)
    inc = Incoming(kind="card_action", event_id="ev-deleted-1", open_id=seed.users["pm"], chat_id=seed.chat_id,
                   action_value=TaskDone(p="alpha", t="task", r=plan["tasks"][0]).value())
    answer = bot.dispatch(inc)
    toast = answer["toast"]["content"]
    assert not any(r in toast for r in RAW), toast
    assert toast.startswith(("处理失败", "这条记录", "项目的多维表格")) and ("日志编号" in toast or "不存在" in toast)


def test_subscribing_a_deleted_base_does_not_advise_a_scope(sandbox, gateway, plan):
    sandbox.bitable.delete_base(plan["binding"].app_token)
    ok, why = ensure_subscribed(gateway, plan["binding"].app_token)
    assert not ok and "drive:drive" not in why and "no longer exists" in why

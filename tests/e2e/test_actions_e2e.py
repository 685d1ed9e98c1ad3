"""Card buttons end to end (real SDK long connection ↔ sandbox): write-back, card update,
idempotent double clicks, permission refusals, escalation ack/resolve."""
from __future__ import annotations

import json
from datetime import datetime, time, timedelta

import pytest

from gtm.bot.cards.button_values import Ack, Postpone, Resolve, TaskDone
from gtm.bot.cards.factory import NoticeCards
from gtm.bot.chat.dispatcher import Dispatcher
from gtm.schemas.decisions import Notice, RecordRef
from tests.support.actors import record_writes, send_card
from tests.support.plans import NOW, TZ, record_fields
from tests.support.runtime import running_bot


@pytest.fixture
def bot(sandbox, seed, runtime, plan):
    with running_bot(sandbox, seed, Dispatcher(runtime, clock=lambda: NOW)) as d:
        yield d


def digest(plan, seed) -> dict:
    notices = [Notice(kind="overdue", key=f"overdue:task:{rid}:1", recipients=[seed.chat_id],
                      record=RecordRef(table="task", record_id=rid, label=label), digest=True,
                      data={"planned": "2026-11-17"})
               for rid, label in zip(plan["tasks"], ["T1 准备发布会物料", "T2 渠道培训"])]
    return NoticeCards().digest("Alpha 发布", seed.chat_id, notices, project_slug="alpha")


def test_done_click_writes_base_updates_card_once_and_refuses_strangers(sandbox, seed, gateway, plan, bot):
    t1, t2 = plan["tasks"]
    mid = send_card(gateway, seed.chat_id, digest(plan, seed))
    owner, stranger = seed.users["王芳"], seed.users["杨帆"]

    # a stranger may not close somebody else's task: toast error, nothing written
    ans = sandbox.control.click(mid, stranger, TaskDone(p="alpha", t="task", r=t2).value())
    assert ans["toast"]["type"] == "error"
    assert record_writes(sandbox, t2) == 0

    ans = sandbox.control.click(mid, owner, TaskDone(p="alpha", t="task", r=t1).value())
    assert ans["toast"]["type"] == "success", ans
    fields = record_fields(gateway, plan["binding"], "task", t1)
    assert fields["状态"] == "已完成"
    assert fields["实际结束"] == int(NOW.astimezone(TZ).replace(hour=0, minute=0).timestamp() * 1000)
    card = sandbox.control.message(mid)["card"]
    text = json.dumps(card, ensure_ascii=False)
    assert "已完成" in text
    assert t1 not in text and t2 in text  # T1's buttons are gone, T2 keeps its own
    assert record_writes(sandbox, t1) == 1

    # a double click changes nothing twice
    ans = sandbox.control.click(mid, owner, TaskDone(p="alpha", t="task", r=t1).value())
    assert ans["toast"]["type"] == "info"
    assert record_writes(sandbox, t1) == 1


def test_postpone_sets_new_end_and_appends_reason(sandbox, seed, gateway, plan, bot):
    t1 = plan["tasks"][0]
    mid = send_card(gateway, seed.chat_id, digest(plan, seed))
    new = (NOW + timedelta(days=7)).date()
    value = Postpone(p="alpha", t="task", r=t1, f="0").value()
    ans = sandbox.control.click(mid, seed.users["pm"], value,
                                form_value={"d0": f"{new.isoformat()} +0800", "why0": "供应商延迟"})
    assert ans["toast"]["type"] == "success", ans
    fields = record_fields(gateway, plan["binding"], "task", t1)
    assert fields["计划结束"] == int(datetime.combine(new, time(), TZ).timestamp() * 1000)
    note = fields["备注"] if isinstance(fields["备注"], str) else "".join(x["text"] for x in fields["备注"])
    assert "供应商延迟" in note and new.isoformat() in note


def test_escalation_ack_then_resolve(sandbox, seed, gateway, runtime, plan, bot):
    from gtm.sync.store.ledger import get_states

    issue = plan["issues"][0]
    notice = Notice(kind="escalation", key=f"escalation:issue:{issue}:1", recipients=[seed.users["pm"]],
                    record=RecordRef(table="issue", record_id=issue, label="物料供应商延迟"), level=1,
                    title="问题已超过 3 天未解决")
    mid = send_card(gateway, seed.chat_id, NoticeCards().single("Alpha 发布", notice, project_slug="alpha"))

    ans = sandbox.control.click(mid, seed.users["pm"], Ack(p="alpha", t="issue", r=issue, l=1).value())
    assert ans["toast"]["type"] == "success", ans
    with runtime.store.session() as s:
        st = get_states(s, "alpha")[("issue", issue)]
    assert st.acked_level == 1  # on-call ack: level 1 stops repeating (no ladder yet: no next deadline)
    ans = sandbox.control.click(mid, seed.users["pm"], Ack(p="alpha", t="issue", r=issue, l=1).value())
    assert ans["toast"]["type"] == "info"

    ans = sandbox.control.click(mid, seed.users["陈静"], Resolve(p="alpha", t="issue", r=issue).value())
    assert ans["toast"]["type"] == "success", ans
    fields = record_fields(gateway, plan["binding"], "issue", issue)
    assert fields["状态"] == "已解决"
    assert fields["解决日期"] == int(NOW.timestamp() * 1000)
    with runtime.store.session() as s:
        assert get_states(s, "alpha")[("issue", issue)].resolved
    assert "已解决" in json.dumps(sandbox.control.message(mid)["card"], ensure_ascii=False)


def test_not_understood_offers_three_buttons_and_a_click_answers_for_the_clicker(sandbox, seed, plan, bot):
    """@bot with a sentence it cannot read: the reply echoes it as typed with 3 buttons; clicking
    one answers that question in place (the card is replaced by the answer)."""
    from gtm.bot.cards.render import walk_elements

    chat, who = seed.chat_id, seed.users["王芳"]
    before = len(sandbox.control.messages(chat, bots_only=True))
    sandbox.control.post_message(chat, who, "Show me the FOO Dashboard", mention_bot=True)
    sandbox.control.wait_for_messages(chat, before + 1, timeout=10)
    msg = sandbox.control.messages(chat, bots_only=True)[-1]
    card = msg["card"]
    body = json.dumps(card, ensure_ascii=False)
    assert "没听懂「Show me the FOO Dashboard」" in body  # as typed, not lower-cased
    buttons = [el for el, _, _ in walk_elements(card["body"]["elements"]) if el.get("tag") == "button"]
    assert len(buttons) == 3
    value = buttons[0]["behaviors"][0]["value"]
    assert value["a"] == "ask"
    sandbox.control.click(msg["message_id"], who, value)
    now_card = next(m for m in sandbox.control.messages(chat, bots_only=True)
                    if m["message_id"] == msg["message_id"])["card"]
    title = now_card["header"]["title"]["content"]
    assert "没听懂" not in title and "我能做什么" not in title  # the answer to the button's question

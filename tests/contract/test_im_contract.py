"""Contract: IM messages, cards, replies, uuid idempotency, mentions; contact users (docs/feishu-api.md §6, §7).

Messages cannot be deleted by design: every text starts with "[gtm contract test]" and every card
title too, so a person can tell them apart in the test chat.
"""
from __future__ import annotations

import json
import uuid

import pytest
from lark_oapi.api.contact.v3 import GetUserRequest
from lark_oapi.api.im.v1 import (
    CreateMessageRequest, CreateMessageRequestBody, PatchMessageRequest, PatchMessageRequestBody, ReplyMessageRequest,
    ReplyMessageRequestBody)

from gtm.sync.feishu.errors import FeishuError


def send(target, msg_type: str, content: dict, msg_uuid: str | None = None):
    """Send to the target chat through the gateway; a uuid makes the send safe to retry (230020)."""
    body = (CreateMessageRequestBody.builder().receive_id(target.chat_id).msg_type(msg_type)
            .content(json.dumps(content, ensure_ascii=False)).uuid(msg_uuid or str(uuid.uuid4())).build())
    req = CreateMessageRequest.builder().receive_id_type("chat_id").request_body(body).build()
    return target.call("im.message.create", lambda: target.client.im.v1.message.create(req), family="im.send")


def card(target, title: str, template: str = "blue", extra: str = "") -> dict:
    return {"schema": "2.0", "config": {"update_multi": True, "width_mode": "fill"},
            "header": {"title": {"tag": "plain_text", "content": target.text(title)}, "template": template},
            "body": {"elements": [{"tag": "markdown", "content": f"**状态** 进行中 {extra}".strip()},
                                  {"tag": "hr"},
                                  {"tag": "markdown", "content": "自动化合约测试，可忽略 · automated contract test"}]}}


def test_send_text_then_reply(target):
    sent = send(target, "text", {"text": target.text("发送与回复")})
    assert sent.message_id.startswith("om_") and sent.chat_id == target.chat_id and sent.msg_type == "text"
    assert json.loads(sent.body.content) == {"text": target.text("发送与回复")}
    assert sent.sender.sender_type == "app" and sent.create_time.isdigit()  # ms as a string
    body = (ReplyMessageRequestBody.builder().msg_type("text").uuid(str(uuid.uuid4()))
            .content(json.dumps({"text": target.text("回复")}, ensure_ascii=False)).build())
    req = ReplyMessageRequest.builder().message_id(sent.message_id).request_body(body).build()
    rep = target.call("im.message.reply", lambda: target.client.im.v1.message.reply(req), family="im.send")
    assert rep.message_id != sent.message_id and rep.chat_id == target.chat_id
    assert rep.parent_id == sent.message_id and rep.root_id == sent.message_id


def test_same_uuid_sends_once(target):
    key = str(uuid.uuid4())
    a = send(target, "text", {"text": target.text("幂等")}, key)
    b = send(target, "text", {"text": target.text("幂等")}, key)
    c = send(target, "text", {"text": target.text("幂等")})
    assert a.message_id == b.message_id != c.message_id
    assert target.gateway.stats.calls["im.message.create"] == 3  # both requests really went out
    if target.sandbox is not None:
        stored = target.sandbox.control.messages(target.chat_id)
        assert [m["message_id"] for m in stored].count(a.message_id) == 1


def test_card_2_0_send_and_patch(target):
    sent = send(target, "interactive", card(target, "卡片"))
    assert sent.msg_type == "interactive" and sent.message_id.startswith("om_")
    mid = sent.message_id

    def patch(content: dict):
        req = PatchMessageRequest.builder().message_id(mid).request_body(
            PatchMessageRequestBody.builder().content(json.dumps(content, ensure_ascii=False)).build()).build()
        return target.call("im.message.patch", lambda: target.client.im.v1.message.patch(req), family="im.patch")

    patch(card(target, "卡片（已更新）", template="green"))
    assert target.gateway.stats.calls["im.message.patch"] == 1 and not target.gateway.stats.failures
    if target.sandbox is not None:
        assert target.sandbox.control.message(mid)["card"]["header"]["template"] == "green"
    # only cards can be patched
    text = send(target, "text", {"text": target.text("不是卡片")}).message_id
    req = PatchMessageRequest.builder().message_id(text).request_body(
        PatchMessageRequestBody.builder().content(json.dumps(card(target, "x"))).build()).build()
    with pytest.raises(FeishuError) as exc:
        target.call("im.message.patch", lambda: target.client.im.v1.message.patch(req), family="im.patch")
    assert exc.value.code == 230001


def test_mentions_are_rewritten_in_the_response(target):
    user = target.need_user()
    sent = send(target, "text", {"text": target.text(f'提及 <at user_id="{user}"></at>')})
    assert json.loads(sent.body.content)["text"] == target.text("提及 @_user_1")
    assert [(m.key, m.id) for m in sent.mentions] == [("@_user_1", user)]
    assert sent.mentions[0].name and sent.mentions[0].id_type == "open_id"
    # a card may @ the same person
    c = send(target, "interactive", card(target, "卡片提及", extra=f"<at id={user}></at>"))
    assert c.message_id.startswith("om_")


def test_contact_get_user(target):
    user = target.need_user()
    req = GetUserRequest.builder().user_id(user).user_id_type("open_id").build()
    got = target.call("contact.user.get", lambda: target.client.contact.v3.user.get(req), family="contact").user
    assert got.open_id == user and got.name
    with pytest.raises(FeishuError):
        bad = GetUserRequest.builder().user_id("ou_" + uuid.uuid4().hex).user_id_type("open_id").build()
        target.call("contact.user.get", lambda: target.client.contact.v3.user.get(bad), family="contact")

"""IM v1 and contact v3 against the sandbox through the real lark-oapi client (docs/feishu-api.md §6)."""
from __future__ import annotations

import json

import lark_oapi as lark
import pytest
from lark_oapi.api.contact.v3 import BatchGetIdUserRequest, BatchGetIdUserRequestBody, BatchUserRequest, GetUserRequest
from lark_oapi.api.im.v1 import (
    CreateMessageRequest, CreateMessageRequestBody, GetChatMembersRequest, GetChatRequest, GetMessageRequest,
    PatchMessageRequest, PatchMessageRequestBody, ReplyMessageRequest, ReplyMessageRequestBody,
)

from gtm.sandbox import SandboxConfig


def card(**over) -> dict:
    c = {"schema": "2.0", "config": {"update_multi": True, "width_mode": "fill", "summary": {"content": "日报"}},
         "header": {"title": {"tag": "plain_text", "content": "项目状态"}, "template": "red",
                    "subtitle": {"tag": "plain_text", "content": "2026-11-22"},
                    "text_tag_list": [{"tag": "text_tag", "text": {"tag": "plain_text", "content": "红"}, "color": "red"}]},
         "body": {"elements": [{"tag": "markdown", "content": "**负责人** <at id=ou_sandbox_pm></at>"}]}}
    c.update(over)
    return c


def send(client, receive_id, msg_type, content, id_type="chat_id", uuid=None):
    body = CreateMessageRequestBody.builder().receive_id(receive_id).msg_type(msg_type).content(
        content if isinstance(content, str) else json.dumps(content, ensure_ascii=False))
    if uuid:
        body = body.uuid(uuid)
    return client.im.v1.message.create(CreateMessageRequest.builder().receive_id_type(id_type)
                                       .request_body(body.build()).build())


def test_send_text_with_mentions_to_group(lark_client, sandbox, seed):
    text = f'构建完成 <at user_id="{seed.users["pm"]}">张伟</at> <at user_id="all"></at>'
    resp = send(lark_client, seed.chat_id, "text", {"text": text})
    assert resp.code == 0, resp.msg
    d = resp.data
    assert d.message_id.startswith("om_") and d.chat_id == seed.chat_id and d.msg_type == "text"
    assert json.loads(d.body.content) == {"text": "构建完成 @_user_1 @_all"}
    assert [(m.key, m.id, m.name) for m in d.mentions] == [("@_user_1", seed.users["pm"], "张伟")]
    assert d.sender.sender_type == "app" and d.sender.id == seed.app_id
    assert isinstance(d.create_time, str) and d.create_time.isdigit()
    stored = sandbox.control.messages(seed.chat_id)
    assert stored[-1]["message_id"] == d.message_id and stored[-1]["text"].startswith("构建完成")


@pytest.mark.parametrize("id_type,key", [("open_id", "open_id"), ("user_id", "user_id"),
                                         ("union_id", "union_id"), ("email", "email")])
def test_send_p2p_by_every_id_type(lark_client, sandbox, seed, id_type, key):
    user = sandbox.world.users[seed.users["pm"]]
    resp = send(lark_client, getattr(user, key), "text", {"text": "你好"}, id_type=id_type)
    assert resp.code == 0, resp.msg
    msgs = sandbox.control.p2p_messages(user.open_id)
    assert [m["message_id"] for m in msgs] == [resp.data.message_id]
    assert msgs[0]["chat_type"] == "p2p"


def test_uuid_dedups_to_the_same_message(lark_client, sandbox, seed):
    a = send(lark_client, seed.chat_id, "text", {"text": "一次"}, uuid="u-123")
    b = send(lark_client, seed.chat_id, "text", {"text": "一次"}, uuid="u-123")
    c = send(lark_client, seed.chat_id, "text", {"text": "一次"}, uuid="u-456")
    assert a.data.message_id == b.data.message_id != c.data.message_id
    assert len(sandbox.control.messages(seed.chat_id)) == 2


def test_content_must_be_a_json_string(sandbox, seed, lark_client):
    req = lark.BaseRequest.builder().http_method(lark.HttpMethod.POST).uri(
        "/open-apis/im/v1/messages?receive_id_type=chat_id").token_types({lark.AccessTokenType.TENANT}).body(
        {"receive_id": seed.chat_id, "msg_type": "text", "content": {"text": "not a string"}}).build()
    resp = lark_client.request(req)
    assert resp.code == 230001
    assert send(lark_client, seed.chat_id, "text", "{not json").code == 230001
    assert send(lark_client, seed.chat_id, "text", {"no_text": 1}).code == 230001


def test_recipient_errors(lark_client, sandbox, seed):
    ctl = sandbox.control
    other = ctl.create_chat(seed.tenant_key, "无机器人群", [seed.users["pm"]], [])["chat_id"]
    assert send(lark_client, other, "text", {"text": "x"}).code == 230002
    ctl.dissolve_chat(other)
    assert send(lark_client, other, "text", {"text": "x"}).code == 232009
    assert send(lark_client, "oc_nope", "text", {"text": "x"}).code == 230001
    ctl.update_user(seed.users["pm"], stopped_bot=True)
    assert send(lark_client, seed.users["pm"], "text", {"text": "x"}, "open_id").code == 230053
    ctl.update_user(seed.users["management"], resigned=True)
    assert send(lark_client, seed.users["management"], "text", {"text": "x"}, "open_id").code == 230029
    ctl.update_user(seed.users["刘洋"], available=False)
    assert send(lark_client, seed.users["刘洋"], "text", {"text": "x"}, "open_id").code == 230013
    ctl.update_user(seed.users["刘洋"], available=True)
    assert send(lark_client, seed.users["刘洋"], "text", {"text": "x"}, "open_id").code == 0


def test_reply_get_and_post_mentions(lark_client, sandbox, seed):
    post = {"zh_cn": {"title": "周报", "content": [[{"tag": "text", "text": "请看 "},
                                                   {"tag": "at", "user_id": seed.users["pm"]}]]}}
    root = send(lark_client, seed.chat_id, "post", post)
    assert root.code == 0 and root.data.mentions[0].id == seed.users["pm"]
    assert json.loads(root.data.body.content)["zh_cn"]["content"][0][1]["user_id"] == "@_user_1"
    rep = lark_client.im.v1.message.reply(ReplyMessageRequest.builder().message_id(root.data.message_id).request_body(
        ReplyMessageRequestBody.builder().msg_type("text").content(json.dumps({"text": "收到"})).build()).build())
    assert rep.code == 0 and rep.data.parent_id == root.data.message_id == rep.data.root_id
    got = lark_client.im.v1.message.get(GetMessageRequest.builder().message_id(rep.data.message_id).build())
    assert got.code == 0 and got.data.items[0].message_id == rep.data.message_id


def test_card_send_and_patch_rules(lark_client, sandbox, seed):
    sent = send(lark_client, seed.chat_id, "interactive", card())
    assert sent.code == 0, sent.msg
    mid = sent.data.message_id

    def patch(content):
        return lark_client.im.v1.message.patch(PatchMessageRequest.builder().message_id(mid).request_body(
            PatchMessageRequestBody.builder().content(json.dumps(content)).build()).build())

    new = card(header={"title": {"tag": "plain_text", "content": "已更新"}, "template": "green"})
    assert patch(new).code == 0
    assert sandbox.control.message(mid)["card"]["header"]["template"] == "green"
    assert patch(card(config={"update_multi": False})).code == 230001  # must stay shared
    text = send(lark_client, seed.chat_id, "text", {"text": "t"}).data.message_id
    r = lark_client.im.v1.message.patch(PatchMessageRequest.builder().message_id(text).request_body(
        PatchMessageRequestBody.builder().content(json.dumps(card())).build()).build())
    assert r.code == 230001
    # another app may not patch this card
    other = sandbox.world.add_app(seed.tenant_key, name="other")
    from lark_oapi.core.cache import LocalCache
    oc = (lark.Client.builder().app_id(other.app_id).app_secret(other.app_secret).domain(sandbox.url)
          .cache(LocalCache()).log_level(lark.LogLevel.ERROR).build())
    r = oc.im.v1.message.patch(PatchMessageRequest.builder().message_id(mid).request_body(
        PatchMessageRequestBody.builder().content(json.dumps(card())).build()).build())
    assert r.code == 230027


def test_card_without_update_multi_cannot_be_patched(lark_client, sandbox, seed):
    mid = send(lark_client, seed.chat_id, "interactive", card(config={"width_mode": "fill"})).data.message_id
    r = lark_client.im.v1.message.patch(PatchMessageRequest.builder().message_id(mid).request_body(
        PatchMessageRequestBody.builder().content(json.dumps(card())).build()).build())
    assert r.code == 230001


def test_card_over_30kb_is_rejected(lark_client, sandbox, seed):
    big = card(body={"elements": [{"tag": "markdown", "content": "字" * 11000}]})
    r = send(lark_client, seed.chat_id, "interactive", big)
    assert r.code == 230025
    ok = card(body={"elements": [{"tag": "markdown", "content": "字" * 9000}]})
    assert send(lark_client, seed.chat_id, "interactive", ok).code == 0


def test_bad_cards_give_230099_with_subcodes(lark_client, sandbox, seed):
    def code_msg(c):
        r = send(lark_client, seed.chat_id, "interactive", c)
        return r.code, r.msg

    assert code_msg("{oops") [0] == 230099 and "200621" in code_msg("{oops")[1]
    c, m = code_msg(card(body={"elements": [{"tag": "markdown", "content": "x", "colour": "red"}]}))
    assert c == 230099 and "200621" in m and "colour" in m
    c, m = code_msg(card(body={"elements": [{"tag": "chart", "chart_spec": {"data": {"values": []}}}]}))
    assert c == 230099 and "200550" in m
    table = {"tag": "table", "columns": [{"name": "a", "display_name": "A", "data_type": "number"}],
             "rows": [{"a": "not a number"}]}
    c, m = code_msg(card(body={"elements": [table]}))
    assert c == 230099 and "200914" in m
    c, m = code_msg(card(body={"elements": [{"tag": "person", "user_id": "ou_ghost"}]}))
    assert c == 230099 and "100290" in m



def test_contact_users(lark_client, sandbox, seed):
    pm = sandbox.world.users[seed.users["pm"]]
    for id_type, value in (("open_id", pm.open_id), ("user_id", pm.user_id), ("union_id", pm.union_id)):
        r = lark_client.contact.v3.user.get(GetUserRequest.builder().user_id(value).user_id_type(id_type).build())
        assert r.code == 0 and r.data.user.name == "张伟" and r.data.user.open_id == pm.open_id
    r = lark_client.contact.v3.user.batch(BatchUserRequest.builder().user_ids(
        [seed.users["pm"], seed.users["management"]]).user_id_type("open_id").build())
    assert r.code == 0 and sorted(u.name for u in r.data.items) == ["张伟", "李娜"]
    r = lark_client.contact.v3.user.batch(BatchUserRequest.builder().user_ids([f"ou_{i}" for i in range(51)]).build())
    assert r.code != 0
    r = lark_client.contact.v3.user.batch_get_id(BatchGetIdUserRequest.builder().user_id_type("open_id").request_body(
        BatchGetIdUserRequestBody.builder().emails(["lina@example.com", "nobody@example.com"]).build()).build())
    assert r.code == 0
    assert [(u.email, u.user_id) for u in r.data.user_list] == [("lina@example.com", seed.users["management"]),
                                                               ("nobody@example.com", None)]


def test_chat_get_and_members_paging_without_bots(lark_client, sandbox, seed):
    r = lark_client.im.v1.chat.get(GetChatRequest.builder().chat_id(seed.chat_id).build())
    assert r.code == 0 and r.data.name == "GTM 新品发布项目群"
    ids, token = [], None
    while True:
        b = GetChatMembersRequest.builder().chat_id(seed.chat_id).member_id_type("open_id").page_size(4)
        if token:
            b = b.page_token(token)
        r = lark_client.im.v1.chat_members.get(b.build())
        assert r.code == 0
        ids += [i.member_id for i in r.data.items]
        if not r.data.has_more:
            break
        token = r.data.page_token
    assert len(ids) == 6 == r.data.member_total and seed.bot_open_id not in ids
    bad = lark_client.im.v1.chat_members.get(GetChatMembersRequest.builder().chat_id(seed.chat_id).page_size(500).build())
    assert bad.code != 0


class TestLimits:
    @pytest.fixture
    def sandbox_config(self):
        return SandboxConfig(rate_limits=True)

    def test_five_qps_per_chat(self, lark_client, sandbox, seed):
        codes = [send(lark_client, seed.chat_id, "text", {"text": str(i)}).code for i in range(8)]
        assert codes[:5] == [0] * 5 and 230020 in codes[5:]

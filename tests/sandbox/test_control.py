"""The /_sandbox control API over HTTP and its Python twin `sb.control`."""
from __future__ import annotations

import json

import pytest
import requests
from lark_oapi.api.im.v1 import CreateMessageRequest, CreateMessageRequestBody, GetChatMembersRequest


def call(sandbox, method, path, body=None):
    r = requests.request(method, sandbox.url + path, json=body, timeout=5)
    return r.status_code, r.json()


def test_info_lists_app_users_and_chats(sandbox, seed):
    status, info = call(sandbox, "GET", "/_sandbox/info")
    assert status == 200
    assert info["app_id"] == seed.app_id and info["app_secret"] == seed.app_secret
    assert info["console"].endswith("/console")
    assert {u["name"] for u in info["users"]} >= {"张伟", "李娜"}
    assert [c["chat_id"] for c in info["chats"]] == [seed.chat_id]


def test_build_a_world_over_http(sandbox, lark_client):
    _, t = call(sandbox, "POST", "/_sandbox/tenants", {"name": "第二家公司"})
    _, a = call(sandbox, "POST", "/_sandbox/apps", {"tenant_key": t["tenant_key"], "name": "另一个机器人"})
    _, u = call(sandbox, "POST", "/_sandbox/users", {"tenant_key": t["tenant_key"], "name": "赵六", "email": "z@x.com"})
    _, c = call(sandbox, "POST", "/_sandbox/chats", {"tenant_key": t["tenant_key"], "name": "群", "members": [u["open_id"]]})
    _, c = call(sandbox, "POST", f"/_sandbox/chats/{c['chat_id']}/bots", {"app_id": a["app_id"]})
    assert c["bots"] == [a["app_id"]] and c["members"] == [u["open_id"]]
    _, u2 = call(sandbox, "POST", "/_sandbox/users", {"tenant_key": t["tenant_key"], "name": "钱七"})
    _, c = call(sandbox, "POST", f"/_sandbox/chats/{c['chat_id']}/members", {"open_id": u2["open_id"]})
    assert c["members"] == [u["open_id"], u2["open_id"]]
    _, c = call(sandbox, "DELETE", f"/_sandbox/chats/{c['chat_id']}/members/{u['open_id']}")
    assert c["members"] == [u2["open_id"]]
    # the seed app cannot see the other tenant's chat
    r = lark_client.im.v1.chat_members.get(GetChatMembersRequest.builder().chat_id(c["chat_id"]).build())
    assert r.code != 0
    status, err = call(sandbox, "POST", "/_sandbox/chats/oc_missing/members", {"open_id": u["open_id"]})
    assert status == 404 and "oc_missing" in err["error"]


def test_post_message_and_read_chat(sandbox, seed):
    status, r = call(sandbox, "POST", f"/_sandbox/chats/{seed.chat_id}/messages",
                     {"open_id": seed.users["pm"], "text": "风险", "mention_bot": True})
    assert status == 200 and r["message_id"].startswith("om_")
    _, msgs = call(sandbox, "GET", f"/_sandbox/chats/{seed.chat_id}/messages")
    m = msgs["items"][0]
    assert m["text"] == "@_user_1 风险" and m["sender"]["id"] == seed.users["pm"]
    assert m["mentions"][0]["id"] == seed.bot_open_id
    status, err = call(sandbox, "POST", f"/_sandbox/chats/{seed.chat_id}/messages",
                       {"open_id": "ou_stranger", "text": "x"})
    assert status == 404


def test_non_member_cannot_post(sandbox, seed):
    ctl = sandbox.control
    ctl.remove_member(seed.chat_id, seed.users["pm"])
    status, err = call(sandbox, "POST", f"/_sandbox/chats/{seed.chat_id}/messages",
                       {"open_id": seed.users["pm"], "text": "x"})
    assert status == 400 and "not a member" in err["error"]


def test_bot_removed_from_chat_gets_230002(sandbox, seed, lark_client):
    call(sandbox, "DELETE", f"/_sandbox/chats/{seed.chat_id}/bots/{seed.app_id}")
    r = lark_client.im.v1.message.create(CreateMessageRequest.builder().receive_id_type("chat_id").request_body(
        CreateMessageRequestBody.builder().receive_id(seed.chat_id).msg_type("text")
        .content(json.dumps({"text": "x"})).build()).build())
    assert r.code == 230002


def test_wait_for_messages_and_journal(sandbox, seed, lark_client):
    mark = sandbox.journal.mark()
    lark_client.im.v1.message.create(CreateMessageRequest.builder().receive_id_type("open_id").request_body(
        CreateMessageRequestBody.builder().receive_id(seed.users["pm"]).msg_type("text")
        .content(json.dumps({"text": "私聊"})).build()).build())
    msgs = sandbox.control.p2p_messages(seed.users["pm"])
    assert [m["text"] for m in msgs] == ["私聊"]
    status, j = call(sandbox, "GET", f"/_sandbox/journal?since={mark}")
    assert [e["path"] for e in j["items"]][-1] == "/open-apis/im/v1/messages" and j["items"][-1]["code"] == 0
    with pytest.raises(TimeoutError):
        sandbox.control.wait_for_messages(seed.chat_id, 1, timeout=0.1)


def test_faults_and_token_expiry_over_http(sandbox, seed, lark_client):
    status, f = call(sandbox, "POST", "/_sandbox/faults", {"path_contains": "/im/v1/messages", "kind": "code",
                                                           "code": 230020, "count": 1})
    assert status == 200 and f["count"] == 1

    def send():
        return lark_client.im.v1.message.create(CreateMessageRequest.builder().receive_id_type("chat_id").request_body(
            CreateMessageRequestBody.builder().receive_id(seed.chat_id).msg_type("text")
            .content(json.dumps({"text": "x"})).build()).build()).code

    assert send() == 230020 and send() == 0
    call(sandbox, "POST", "/_sandbox/faults", {"path_contains": "/im/v1/messages", "kind": "5xx", "count": 5})
    call(sandbox, "DELETE", "/_sandbox/faults")
    assert send() == 0
    call(sandbox, "POST", "/_sandbox/tokens/expire")
    assert send() == 99991663  # the SDK keeps its cached token (docs/feishu-api.md §1.3)


def test_event_mode_validation(sandbox, seed):
    status, err = call(sandbox, "PUT", f"/_sandbox/apps/{seed.app_id}/events", {"mode": "carrier-pigeon"})
    assert status == 400
    status, app = call(sandbox, "PUT", f"/_sandbox/apps/{seed.app_id}/events",
                       {"mode": "webhook", "webhook_url": "http://127.0.0.1:9/x", "encrypt_key": "k"})
    assert status == 200 and app["event_mode"] == "webhook" and app["encrypt_key"] == "k"

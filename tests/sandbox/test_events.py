"""Webhook event delivery, verified by lark-oapi's own EventDispatcherHandler (docs/feishu-api.md §8).

Each test runs a tiny `http.server` receiver on port 0 that hands the raw request to
`handler.do(RawRequest)`, exactly what a product webhook endpoint does.
"""
from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import lark_oapi as lark
import pytest
from lark_oapi.event.callback.model.p2_card_action_trigger import P2CardActionTriggerResponse

from gtm.sandbox import SandboxConfig
from tests.support.waiting import wait_until

ENCRYPT_KEY = "test-encrypt-key"
TOKEN = "test-verification-token"


class Receiver:
    """A webhook endpoint backed by lark.EventDispatcherHandler; can fail or stall on demand."""

    def __init__(self, encrypt_key: str = ENCRYPT_KEY, token: str = TOKEN, answer: dict | None = None) -> None:
        self.messages: list = []
        self.custom: list = []
        self.actions: list = []
        self.requests: list[dict] = []
        self.fail_next = 0
        self.stall = 0.0
        self.answer = answer or {}
        handler = (lark.EventDispatcherHandler.builder(encrypt_key, token, lark.LogLevel.ERROR)
                   .register_p2_im_message_receive_v1(self.messages.append)
                   .register_p2_customized_event("drive.file.bitable_record_changed_v1", self.custom.append)
                   .register_p2_card_action_trigger(self._action)
                   .build())
        outer = self

        class H(BaseHTTPRequestHandler):
            def log_message(self, *a):  # quiet
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                outer.requests.append({"headers": dict(self.headers), "body": body})
                if outer.stall:
                    time.sleep(outer.stall)
                if outer.fail_next > 0:
                    outer.fail_next -= 1
                    status, content = 503, b'{"msg":"busy"}'
                else:
                    req = lark.RawRequest()
                    req.uri, req.body, req.headers = self.path, body, dict(self.headers)
                    resp = handler.do(req)
                    status, content = resp.status_code, resp.content or b""
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(content)))
                self.end_headers()
                try:
                    self.wfile.write(content)
                except BrokenPipeError:  # the sandbox gave up (deadline test)
                    pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/webhook/event"
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def _action(self, data):
        self.actions.append(data)
        return P2CardActionTriggerResponse(self.answer)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def sandbox_config():
    return SandboxConfig(event_retry_schedule=(0.05, 0.1, 0.1, 0.1), event_ack_deadline=1.0)


@pytest.fixture
def receiver(sandbox, seed):
    r = Receiver()
    sandbox.control.set_event_mode("webhook", webhook_url=r.url, encrypt_key=ENCRYPT_KEY,
                                   verification_token=TOKEN)
    yield r
    r.close()


def test_signed_encrypted_message_event_reaches_the_sdk_handler(sandbox, seed, receiver):
    mid = sandbox.control.post_message(seed.chat_id, seed.users["pm"], "风险", mention_bot=True)
    wait_until(lambda: receiver.messages)
    ev = receiver.messages[0]
    assert ev.header.event_type == "im.message.receive_v1" and ev.header.app_id == seed.app_id
    assert ev.header.token == TOKEN and ev.header.tenant_key == seed.tenant_key
    msg = ev.event.message
    assert msg.message_id == mid and msg.chat_id == seed.chat_id and msg.chat_type == "group"
    assert json.loads(msg.content) == {"text": "@_user_1 风险"}
    assert msg.mentions[0].key == "@_user_1" and msg.mentions[0].id.open_id == seed.bot_open_id
    assert ev.event.sender.sender_id.open_id == seed.users["pm"] and ev.event.sender.sender_type == "user"
    raw = receiver.requests[0]
    assert set(json.loads(raw["body"])) == {"encrypt"}
    assert {"X-Lark-Request-Timestamp", "X-Lark-Request-Nonce", "X-Lark-Signature"} <= set(raw["headers"])
    sandbox.events.wait_for(lambda ds: any(d["ok"] for d in ds))


def test_group_messages_need_a_mention_p2p_do_not(sandbox, seed, receiver):
    sandbox.control.post_message(seed.chat_id, seed.users["pm"], "闲聊", mention_bot=False)
    sandbox.control.post_message(None, seed.users["pm"], "私聊", mention_bot=False)
    wait_until(lambda: receiver.messages)
    # the group message without a mention was never turned into an event
    assert [e["header"]["event_type"] for e in sandbox.events.envelopes.values()] == ["im.message.receive_v1"]
    assert [json.loads(m.event.message.content)["text"] for m in receiver.messages] == ["私聊"]
    assert receiver.messages[0].event.message.chat_type == "p2p"


def test_url_verification(sandbox, seed, receiver):
    assert sandbox.control.verify_url() is True
    bad = Receiver(token="wrong-token")
    try:
        sandbox.control.set_event_mode("webhook", webhook_url=bad.url)
        assert sandbox.control.verify_url() is False
    finally:
        bad.close()


def test_plain_webhook_without_encrypt_key(sandbox, seed):
    r = Receiver(encrypt_key="", token=TOKEN)
    try:
        sandbox.control.set_event_mode("webhook", webhook_url=r.url, encrypt_key="", verification_token=TOKEN)
        sandbox.control.post_message(None, seed.users["pm"], "你好", mention_bot=False)
        wait_until(lambda: r.messages)
        assert "encrypt" not in json.loads(r.requests[0]["body"])
    finally:
        r.close()


def test_failed_deliveries_are_retried_on_the_schedule(sandbox, seed, receiver):
    receiver.fail_next = 2
    event_id = sandbox.emit_event(seed.app_id, "drive.file.bitable_record_changed_v1",
                                  {"file_token": "bascnX", "table_id": "tblX", "action_list": []})
    wait_until(lambda: receiver.custom)
    ds = sandbox.events.wait_for(lambda ds: any(d["ok"] for d in ds))
    mine = [d for d in ds if d["event_id"] == event_id]
    assert [(d["attempt"], d["ok"]) for d in mine] == [(0, False), (1, False), (2, True)]
    assert len(receiver.custom) == 1 and receiver.custom[0].header.event_id == event_id


def test_gives_up_after_the_last_retry(sandbox, seed, receiver):
    receiver.fail_next = 100
    event_id = sandbox.emit_event(seed.app_id, "drive.file.bitable_record_changed_v1", {})
    ds = sandbox.events.wait_for(lambda ds: len([d for d in ds if d["event_id"] == event_id]) == 5)
    assert not any(d["ok"] for d in ds if d["event_id"] == event_id)
    assert [d["attempt"] for d in ds if d["event_id"] == event_id] == [0, 1, 2, 3, 4]


class TestDeadline:
    @pytest.fixture
    def sandbox_config(self):
        return SandboxConfig(event_retry_schedule=(0.05,), event_ack_deadline=0.3)

    def test_a_slow_receiver_counts_as_failed(self, sandbox, seed, receiver):
        receiver.stall = 0.6
        event_id = sandbox.emit_event(seed.app_id, "drive.file.bitable_record_changed_v1", {})
        ds = sandbox.events.wait_for(lambda ds: len([d for d in ds if d["event_id"] == event_id]) == 2)
        assert all("Timeout" in d["error"] for d in ds if d["event_id"] == event_id)


class TestDuplicates:
    @pytest.fixture
    def sandbox_config(self):
        return SandboxConfig(duplicate_events=1)

    def test_duplicate_delivery_keeps_the_event_id(self, sandbox, seed, receiver):
        sandbox.control.post_message(None, seed.users["pm"], "重复", mention_bot=False)
        wait_until(lambda: len(receiver.messages) == 2)
        assert receiver.messages[0].header.event_id == receiver.messages[1].header.event_id


def test_card_action_over_webhook_returns_toast_and_updates_card(sandbox, seed, lark_client):
    new_card = {"schema": "2.0", "config": {"update_multi": True},
                "header": {"title": {"tag": "plain_text", "content": "已确认"}, "template": "green"},
                "body": {"elements": [{"tag": "markdown", "content": "已处理"}]}}
    r = Receiver(answer={"toast": {"type": "success", "content": "已确认"}, "card": {"type": "raw", "data": new_card}})
    try:
        sandbox.control.set_event_mode("webhook", webhook_url="http://127.0.0.1:9/unused", card_webhook_url=r.url,
                                       encrypt_key=ENCRYPT_KEY, verification_token=TOKEN)
        card = {"schema": "2.0", "config": {"update_multi": True},
                "header": {"title": {"tag": "plain_text", "content": "风险"}, "template": "red"},
                "body": {"elements": [{"tag": "button", "text": {"tag": "plain_text", "content": "确认"},
                                       "type": "primary", "behaviors": [{"type": "callback",
                                                                         "value": {"action": "ack", "id": 7}}]}]}}
        from lark_oapi.api.im.v1 import CreateMessageRequest, CreateMessageRequestBody
        sent = lark_client.im.v1.message.create(CreateMessageRequest.builder().receive_id_type("chat_id").request_body(
            CreateMessageRequestBody.builder().receive_id(seed.chat_id).msg_type("interactive")
            .content(json.dumps(card)).build()).build())
        assert sent.code == 0, sent.msg
        answer = sandbox.control.click(sent.data.message_id, seed.users["pm"], button_text="确认")
        assert answer["toast"] == {"type": "success", "content": "已确认"}
        act = r.actions[0]
        assert act.event.action.value == {"action": "ack", "id": 7}
        assert act.event.operator.open_id == seed.users["pm"]
        assert act.event.context.open_message_id == sent.data.message_id
        assert act.event.context.open_chat_id == seed.chat_id and act.event.token.startswith("c-")
        assert sandbox.control.message(sent.data.message_id)["card"]["header"]["template"] == "green"
    finally:
        r.close()

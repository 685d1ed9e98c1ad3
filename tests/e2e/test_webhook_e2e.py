"""Webhook transport end to end: signed + encrypted delivery, duplicates, restart, forgeries."""
from __future__ import annotations

import json
import time

import pytest
import requests

from gtm.bot.chat.dispatcher import Dispatcher
from gtm.bot.chat.transports.webhook import webhook_app
from gtm.sandbox import SandboxConfig
from gtm.sandbox.events import encrypt, signature
from gtm.sandbox.http_thread import HttpThread
from tests.support.inbox import card_text
from tests.support.plans import NOW
from tests.support.waiting import wait_until

KEY, TOKEN = "enc-key-for-tests", "vt-for-tests"


@pytest.fixture
def sandbox_config() -> SandboxConfig:
    return SandboxConfig(duplicate_events=2)


def serve(dispatcher: Dispatcher) -> HttpThread:
    from aiohttp import web

    app = web.Application()
    app.add_subapp("/webhook", webhook_app(dispatcher.dispatch, encrypt_key=KEY, verification_token=TOKEN,
                                           bot_open_id=dispatcher.bot_open_id))
    server = HttpThread(app, name="gtm-webhook")
    server.start()
    return server


def use_webhook(sandbox, server: HttpThread) -> None:
    sandbox.control.set_event_mode("webhook", webhook_url=server.url + "/webhook/event", encrypt_key=KEY,
                                   verification_token=TOKEN, card_webhook_url=server.url + "/webhook/card")


def test_signed_encrypted_mention_gets_one_reply_despite_duplicates_and_restart(sandbox, seed, runtime, plan):
    d1 = Dispatcher(runtime, clock=lambda: NOW)
    s1 = serve(d1)
    try:
        use_webhook(sandbox, s1)
        assert sandbox.control.verify_url()  # url_verification answered through the SDK
        sandbox.control.post_message(seed.chat_id, seed.users["王芳"], "我的任务")
        msgs = sandbox.control.wait_for_messages(seed.chat_id, 1, timeout=10)
        # three deliveries of one event (the original + duplicate_events=2) …
        wait_until(lambda: len([x for x in sandbox.control.deliveries() if x["event_type"] == "im.message.receive_v1"
                                and x["ok"]]) >= 3, message="3 deliveries")
        assert d1.drain(5)
        assert "准备发布会物料" in card_text(msgs[0])
        assert d1.stats["duplicates"] == 2
        event = next(x for x in sandbox.control.deliveries() if x["event_type"] == "im.message.receive_v1")
    finally:
        s1.stop()
        d1.close()
    # … and after a "restart" (a new dispatcher and server on the same store) a redelivery still gets none
    d2 = Dispatcher(runtime, clock=lambda: NOW)
    s2 = serve(d2)
    try:
        use_webhook(sandbox, s2)
        app = sandbox.world.apps[seed.app_id]
        env = sandbox.events.envelopes[event["event_id"]]
        status, _ = sandbox.run_coro(sandbox.events.post(app, s2.url + "/webhook/event", env))
        assert status == 200
        assert d2.drain(5)
        assert d2.stats["duplicates"] == 1
        assert len(sandbox.control.messages(seed.chat_id, bots_only=True)) == 1
    finally:
        s2.stop()
        d2.close()


def _signed(body: bytes, ts: str, nonce: str, key: str = KEY) -> dict:
    return {"Content-Type": "application/json", "X-Lark-Request-Timestamp": ts, "X-Lark-Request-Nonce": nonce,
            "X-Lark-Signature": signature(ts, nonce, key, body)}


def test_forged_unsigned_stale_and_replayed_requests_are_refused(sandbox, seed, runtime, plan):
    d = Dispatcher(runtime, clock=lambda: NOW)
    server = serve(d)
    try:
        env = {"schema": "2.0", "header": {"event_id": "forged-1", "event_type": "im.message.receive_v1",
                                           "create_time": str(int(time.time() * 1000)), "token": TOKEN, "app_id": seed.app_id,
                                           "tenant_key": seed.tenant_key},
               "event": {"sender": {"sender_id": {"open_id": seed.users["王芳"]}, "sender_type": "user",
                                    "tenant_key": seed.tenant_key},
                         "message": {"message_id": "om_x", "chat_id": seed.chat_id, "chat_type": "group",
                                     "message_type": "text", "content": json.dumps({"text": "状态"})}}}
        url = server.url + "/webhook/event"
        good = json.dumps({"encrypt": encrypt(KEY, json.dumps(env).encode())}).encode()
        now = str(int(time.time()))
        # 1. plain JSON, no encryption, no signature
        assert requests.post(url, data=json.dumps(env), timeout=5).status_code == 401
        # 2. encrypted with the right key but signed with a wrong one
        assert requests.post(url, data=good, headers=_signed(good, now, "n1", "wrong"), timeout=5).status_code == 401
        # 3. encrypted with a wrong key
        bad = json.dumps({"encrypt": encrypt("other-key", json.dumps(env).encode())}).encode()
        assert requests.post(url, data=bad, headers=_signed(bad, now, "n2"), timeout=5).status_code == 401
        # 4. correctly signed but 10 minutes old
        old = str(int(time.time()) - 600)
        assert requests.post(url, data=good, headers=_signed(good, old, "n3"), timeout=5).status_code == 401
        # 5. wrong verification token inside a correctly signed body → 403
        env_bad = json.loads(json.dumps(env))
        env_bad["header"]["token"] = "not-the-token"
        body = json.dumps({"encrypt": encrypt(KEY, json.dumps(env_bad).encode())}).encode()
        assert requests.post(url, data=body, headers=_signed(body, now, "n4"), timeout=5).status_code == 403
        assert d.stats["received"] == 0
        # 6. a valid request is accepted once; replaying it (same nonce) is refused
        ok_headers = _signed(good, now, "n5")
        assert requests.post(url, data=good, headers=ok_headers, timeout=5).status_code == 200
        assert requests.post(url, data=good, headers=ok_headers, timeout=5).status_code == 401
        assert d.stats["received"] == 1
        d.drain(5)
    finally:
        server.stop()
        d.close()
    # the forged ones produced no reply (the valid one replies to a message id the sandbox does not know)
    assert sandbox.control.messages(seed.chat_id, bots_only=True) == []


def _callback(seed, plan, operator: str, create_time: str, event_id: str, token: str) -> dict:
    from gtm.bot.cards.button_values import TaskDone

    return {"schema": "2.0",
            "header": {"event_id": event_id, "event_type": "card.action.trigger", "create_time": create_time,
                       "token": TOKEN, "app_id": seed.app_id, "tenant_key": seed.tenant_key},
            "event": {"operator": {"open_id": operator, "tenant_key": seed.tenant_key}, "token": token,
                      "action": {"tag": "button", "value": TaskDone(p="alpha", t="task", r=plan["tasks"][0]).value()},
                      "host": "im_message", "context": {"open_message_id": "om_forged", "open_chat_id": seed.chat_id}}}


def test_token_only_mode_is_refused_unless_insecure_and_then_stale_or_replayed_callbacks_are_refused(
        sandbox, seed, runtime, plan, gateway):
    from aiohttp import web

    from tests.support.plans import record_fields
    from gtm.bot.chat.transports.webhook import WebhookConfigError

    d = Dispatcher(runtime, clock=lambda: NOW)
    # safe by default: a verification token alone does not start the webhook transport
    with pytest.raises(WebhookConfigError, match="GTM_FEISHU_ENCRYPT_KEY"):
        webhook_app(d.dispatch, verification_token=TOKEN)
    app = web.Application()
    app.add_subapp("/webhook", webhook_app(d.dispatch, verification_token=TOKEN, insecure=True))
    server = HttpThread(app, name="gtm-webhook")
    server.start()
    try:
        url = server.url + "/webhook/card"
        pm = seed.users["pm"]
        # a hand-made callback claiming to be the PM, with create_time "1" (1970): refused
        stale = _callback(seed, plan, pm, "1", "ev-stale", "c-1")
        assert requests.post(url, json=stale, timeout=5).status_code == 401
        # far future: refused
        future = _callback(seed, plan, pm, str(int((time.time() + 3600) * 1000)), "ev-future", "c-2")
        assert requests.post(url, json=future, timeout=5).status_code == 401
        assert d.stats["received"] == 0
        assert record_fields(gateway, plan["binding"], "task", plan["tasks"][0])["状态"] != "已完成"
        # a fresh one passes the guard once (token-only mode is insecure by definition) …
        fresh_time = str(int(time.time() * 1000))
        fresh = _callback(seed, plan, pm, fresh_time, "ev-1", "c-3")
        assert requests.post(url, json=fresh, timeout=5).status_code == 200
        # … but its replay, under the same or a new event id, is refused
        assert requests.post(url, json=fresh, timeout=5).status_code == 401
        replay = _callback(seed, plan, pm, fresh_time, "ev-2", "c-3")
        assert requests.post(url, json=replay, timeout=5).status_code == 401
        assert d.stats["received"] == 1
    finally:
        server.stop()
        d.close()


def test_signed_callback_with_stale_create_time_is_refused(sandbox, seed, runtime, plan):
    d = Dispatcher(runtime, clock=lambda: NOW)
    server = serve(d)
    try:
        env = _callback(seed, plan, seed.users["pm"], "1", "ev-old", "c-9")
        body = json.dumps({"encrypt": encrypt(KEY, json.dumps(env).encode())}).encode()
        headers = _signed(body, str(int(time.time())), "n-fresh")
        assert requests.post(server.url + "/webhook/card", data=body, headers=headers, timeout=5).status_code == 401
        assert d.stats["received"] == 0
    finally:
        server.stop()
        d.close()

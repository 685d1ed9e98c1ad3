"""Long-connection delivery to real `lark_oapi.ws.Client`s (docs/feishu-api.md §9).

How the SDK client is run here (it grabs a module-level asyncio loop at import, and `start()`
blocks forever on that loop):
- one client with the public `start()`: give the module a fresh loop
  (`lark_oapi.ws.client.loop = asyncio.new_event_loop()`) and call `start()` in a daemon thread;
- several clients at once (cluster mode): they must share ONE loop, because the SDK creates its
  tasks on the module global. `WsLoop` runs a fresh loop in a daemon thread, points the module
  global at it and does what `start()` does — `await client._connect()` then schedules
  `client._ping_loop()` — for each client.
Teardown turns auto-reconnect off, drops the connections on the sandbox side and stops the loop.
Subprocesses would also work but cost ~4 s each (importing lark_oapi).
"""
from __future__ import annotations

import asyncio
import json
import threading

import lark_oapi as lark
import lark_oapi.ws.client as ws_client_mod
import pytest
from lark_oapi.api.im.v1 import CreateMessageRequest, CreateMessageRequestBody
from lark_oapi.event.callback.model.p2_card_action_trigger import P2CardActionTriggerResponse

from gtm.sandbox import SandboxConfig
from tests.support.waiting import wait_until


class Bot:
    """A real ws client plus what its handlers saw."""

    def __init__(self, sandbox, seed, answer: dict | None = None, fail: bool = False) -> None:
        self.messages: list = []
        self.actions: list = []
        self.custom: list = []
        self.answer, self.fail = answer or {}, fail
        handler = (lark.EventDispatcherHandler.builder("", "", lark.LogLevel.ERROR)
                   .register_p2_im_message_receive_v1(self._msg)
                   .register_p2_customized_event("drive.file.bitable_record_changed_v1", self._custom)
                   .register_p2_card_action_trigger(self._action).build())
        self.client = lark.ws.Client(seed.app_id, seed.app_secret, event_handler=handler, domain=sandbox.url,
                                     log_level=lark.LogLevel.ERROR)

    def _msg(self, data):
        if self.fail:
            raise RuntimeError("handler failed")
        self.messages.append(data)

    def _custom(self, data):
        if self.fail:
            raise RuntimeError("handler failed")
        self.custom.append(data)

    def _action(self, data):
        self.actions.append(data)
        return P2CardActionTriggerResponse(self.answer)


class WsLoop:
    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        ws_client_mod.loop = self.loop
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.bots: list[Bot] = []

    def connect(self, bot: Bot) -> Bot:
        asyncio.run_coroutine_threadsafe(bot.client._connect(), self.loop).result(10)
        self.loop.call_soon_threadsafe(lambda: self.loop.create_task(bot.client._ping_loop()))
        self.bots.append(bot)
        return bot

    def close(self, sandbox) -> None:
        for b in self.bots:
            b.client._auto_reconnect = False
        sandbox.control.disconnect()
        wait_until(lambda: all(b.client._conn is None for b in self.bots))
        stop_loop(self.loop)
        self.thread.join(5)


def stop_loop(loop) -> None:
    """Cancel the SDK's leftover tasks (ping loop…) and stop the loop, so nothing is GC'd half-run."""
    async def cancel_all():
        tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    fut = asyncio.run_coroutine_threadsafe(cancel_all(), loop)
    try:
        fut.result(5)
    except BaseException:  # noqa: BLE001 - start()'s own run_until_complete ends when its task is cancelled
        pass
    if loop.is_running():
        loop.call_soon_threadsafe(loop.stop)


@pytest.fixture
def sandbox_config():
    return SandboxConfig(event_retry_schedule=(0.1, 0.3, 0.5, 1.0), event_ack_deadline=2.0)


@pytest.fixture
def ws(sandbox):
    w = WsLoop()
    yield w
    w.close(sandbox)


def test_public_start_in_a_thread_receives_and_acks(sandbox, seed):
    loop = asyncio.new_event_loop()
    ws_client_mod.loop = loop  # restored after the test by tests/support/fixtures.py
    bot = Bot(sandbox, seed)

    def run():
        asyncio.set_event_loop(loop)
        try:
            bot.client.start()
        except (RuntimeError, asyncio.CancelledError):
            pass  # teardown cancelled start()'s forever-task
        finally:  # let the cancelled tasks (ping loop…) finish, then close the loop: nothing left running
            left = asyncio.all_tasks(loop)
            for task in left:
                task.cancel()
            loop.run_until_complete(asyncio.gather(*left, return_exceptions=True))
            loop.close()

    def cancel_everything():
        for task in asyncio.all_tasks(loop):
            task.cancel()

    t = threading.Thread(target=run, daemon=True)
    t.start()
    try:
        wait_until(lambda: sandbox.control.ws_connections())
        mid = sandbox.control.post_message(None, seed.users["pm"], "你好", mention_bot=False)
        wait_until(lambda: bot.messages)
        assert bot.messages[0].event.message.message_id == mid
        assert json.loads(bot.messages[0].event.message.content) == {"text": "你好"}
        ds = sandbox.events.wait_for(lambda ds: any(d["ok"] for d in ds))
        ok = [d for d in ds if d["ok"]][0]
        assert ok["mode"] == "ws" and ok["conn"] == sandbox.control.ws_connections()[0]
    finally:
        bot.client._auto_reconnect = False
        sandbox.control.disconnect()
        wait_until(lambda: bot.client._conn is None)
        loop.call_soon_threadsafe(cancel_everything)  # ends start(): its forever-task is cancelled
        t.join(5)
    assert not t.is_alive(), "the thread running start() did not stop"
    assert loop.is_closed()


def test_cluster_mode_one_client_gets_each_event(sandbox, seed, ws):
    a, b = ws.connect(Bot(sandbox, seed)), ws.connect(Bot(sandbox, seed))
    ids = [sandbox.emit_event(seed.app_id, "drive.file.bitable_record_changed_v1", {"n": i}) for i in range(20)]
    wait_until(lambda: len(a.custom) + len(b.custom) == 20)
    got_a = {e.header.event_id for e in a.custom}
    got_b = {e.header.event_id for e in b.custom}
    assert got_a | got_b == set(ids) and not got_a & got_b
    assert got_a and got_b  # random choice: both get some (fails with p = 2**-19)
    ds = sandbox.events.wait_for(lambda ds: len([d for d in ds if d["ok"]]) == 20)
    assert len({d["conn"] for d in ds}) == 2


def test_failed_handler_ack_is_retried_and_missing_client_waits(sandbox, seed, ws):
    event_id = sandbox.emit_event(seed.app_id, "drive.file.bitable_record_changed_v1", {})
    sandbox.events.wait_for(lambda ds: any(d["event_id"] == event_id and not d["ok"] for d in ds))
    assert "no long connection" in sandbox.events.find(ok=False)[0]["error"]
    bot = ws.connect(Bot(sandbox, seed))
    wait_until(lambda: bot.custom)
    assert bot.custom[0].header.event_id == event_id
    bot.fail = True
    second = sandbox.emit_event(seed.app_id, "drive.file.bitable_record_changed_v1", {})
    sandbox.events.wait_for(lambda ds: len([d for d in ds if d["event_id"] == second]) >= 2)
    assert all(d["error"] == "ACK code 500" for d in sandbox.events.deliveries if d["event_id"] == second)
    bot.fail = False
    wait_until(lambda: any(e.header.event_id == second for e in bot.custom))


def test_card_action_round_trip_over_ws(sandbox, seed, lark_client, ws):
    done = {"schema": "2.0", "config": {"update_multi": True},
            "header": {"title": {"tag": "plain_text", "content": "已延期"}, "template": "grey"},
            "body": {"elements": [{"tag": "markdown", "content": "延期到 2026-12-01"}]}}
    bot = ws.connect(Bot(sandbox, seed, answer={"toast": {"type": "info", "content": "已延期"},
                                                "card": {"type": "raw", "data": done}}))
    card = {"schema": "2.0", "config": {"update_multi": True},
            "header": {"title": {"tag": "plain_text", "content": "任务逾期"}, "template": "orange"},
            "body": {"elements": [{"tag": "form", "name": "postpone", "elements": [
                {"tag": "date_picker", "name": "new_date", "initial_date": "2026-11-30"},
                {"tag": "button", "name": "submit", "form_action_type": "submit",
                 "text": {"tag": "plain_text", "content": "延期"},
                 "behaviors": [{"type": "callback", "value": {"action": "postpone", "task": "rec1"}}]}]}]}}
    sent = lark_client.im.v1.message.create(CreateMessageRequest.builder().receive_id_type("chat_id").request_body(
        CreateMessageRequestBody.builder().receive_id(seed.chat_id).msg_type("interactive")
        .content(json.dumps(card)).build()).build())
    assert sent.code == 0, sent.msg
    answer = sandbox.control.click(sent.data.message_id, seed.users["pm"], button_text="延期",
                                   form_value={"new_date": "2026-12-01 +0800"})
    assert answer["toast"] == {"type": "info", "content": "已延期"}
    act = bot.actions[0].event
    assert act.action.value == {"action": "postpone", "task": "rec1"} and act.action.name == "submit"
    assert act.action.form_value == {"new_date": "2026-12-01 +0800"}
    assert sandbox.control.message(sent.data.message_id)["card"]["header"]["template"] == "grey"
    # the c- token from the callback drives the delayed-update API (3 uses)
    token = act.token
    for i in range(4):
        req = lark.BaseRequest.builder().http_method(lark.HttpMethod.POST).uri(
            "/open-apis/interactive/v1/card/update").token_types({lark.AccessTokenType.TENANT}).body(
            {"token": token, "card": dict(done, header={"title": {"tag": "plain_text", "content": f"v{i}"}})}).build()
        resp = lark_client.request(req)
        assert resp.code == (0 if i < 3 else 230001)
    assert sandbox.control.message(sent.data.message_id)["card"]["header"]["title"]["content"] == "v2"


def test_disconnect_makes_the_client_reconnect(sandbox, seed, ws):
    bot = ws.connect(Bot(sandbox, seed))
    before = sandbox.ws.connects
    assert sandbox.control.disconnect() == 1
    wait_until(lambda: sandbox.ws.connects > before and sandbox.control.ws_connections())
    sandbox.control.post_message(None, seed.users["pm"], "重连后", mention_bot=False)
    wait_until(lambda: bot.messages)


def test_endpoint_rejects_bad_credentials(sandbox, seed):
    import requests
    r = requests.post(sandbox.url + "/callback/ws/endpoint", json={"AppID": seed.app_id, "AppSecret": "wrong"})
    assert r.json()["code"] == 514
    r = requests.post(sandbox.url + "/callback/ws/endpoint", json={"AppID": seed.app_id, "AppSecret": seed.app_secret})
    body = r.json()
    assert body["code"] == 0 and body["data"]["URL"].startswith(sandbox.url.replace("http", "ws") + "/callback/ws?")
    assert body["data"]["ClientConfig"]["ReconnectNonce"] == 0

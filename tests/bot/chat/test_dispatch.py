"""Dispatcher unit tests (stub answerer; real sandbox replies, real SQLite store)."""
from __future__ import annotations

import sys
import threading

import pytest

from gtm.bot.cards.terminal import card_to_text
from gtm.bot.chat.dispatcher import Dispatcher, reply_uuid
from gtm.bot.chat.transports import Incoming
from tests.support.plans import NOW
from tests.support.runtime import make_runtime, open_test_store

CARD = {"schema": "2.0", "config": {"update_multi": True},
        "header": {"title": {"tag": "plain_text", "content": "答复"}, "template": "blue"},
        "body": {"elements": [{"tag": "markdown", "content": "**你好**"}]}}


@pytest.fixture
def runtime(sandbox, seed, gateway, sqlite_url):
    from gtm.sync.provision import register_project
    from gtm.sync.binding import BaseBinding

    store = open_test_store(sqlite_url)
    rt = make_runtime(sandbox, seed, gateway, store)
    with store.session() as s:
        register_project(s, "alpha", "Alpha", "gtm", BaseBinding(slug="alpha", app_token="basX"),
                         chat_ids=[seed.chat_id])
    yield rt
    store.dispose()


def incoming(sandbox, seed, text="状态", event_id="ev-1", **kw) -> Incoming:
    mid = sandbox.control.post_message(seed.chat_id, seed.users["王芳"], text, mention_bot=False)
    base = dict(kind="message", event_id=event_id, app_id=seed.app_id, tenant_key=seed.tenant_key,
                chat_id=seed.chat_id, chat_type="group", open_id=seed.users["王芳"],
                sender_tenant_key=seed.tenant_key, text=text, mentioned_bot=True, message_id=mid)
    base.update(kw)
    return Incoming(**base)


def test_acks_fast_and_replies_once_even_across_a_restart(sandbox, seed, runtime):
    gate = threading.Event()
    calls, finished = [], []

    def slow_answer(rt, inc, project, now):
        calls.append((inc.text, project.slug if project else None))
        finished.append(gate.wait(5))  # False if it had to give up waiting
        return CARD

    d = Dispatcher(runtime, clock=lambda: NOW, answer=slow_answer, bot_open_id=seed.bot_open_id)
    inc = incoming(sandbox, seed)
    assert d.dispatch(inc) is None
    # acked before the (slow) work is done: the answer is still waiting for the gate, nothing sent
    assert finished == [] and sandbox.control.messages(seed.chat_id, bots_only=True) == []
    assert d.dispatch(inc) is None  # a redelivery while the first is still working
    assert finished == []
    gate.set()
    assert d.drain(5)
    d.close()
    d2 = Dispatcher(runtime, clock=lambda: NOW, answer=slow_answer, bot_open_id=seed.bot_open_id)
    assert d2.dispatch(inc) is None  # after a restart: the store remembers the event id
    assert d2.drain(5)
    d2.close()
    assert calls == [("状态", "alpha")] and finished == [True]
    bot_msgs = sandbox.control.messages(seed.chat_id, bots_only=True)
    assert len(bot_msgs) == 1 and "你好" in str(bot_msgs[0])
    assert d.stats["duplicates"] == 1 and d2.stats["duplicates"] == 1


def test_ignores_unaddressed_foreign_and_other_app_messages(sandbox, seed, runtime):
    seen = []
    d = Dispatcher(runtime, clock=lambda: NOW, answer=lambda *a: seen.append(a) or CARD,
                   bot_open_id=seed.bot_open_id)
    d.dispatch(incoming(sandbox, seed, event_id="a", mentioned_bot=False))
    d.dispatch(incoming(sandbox, seed, event_id="b", sender_tenant_key="tk_other"))
    d.dispatch(incoming(sandbox, seed, event_id="c", app_id="cli_someone_else"))
    assert d.drain(5)
    d.close()
    assert seen == [] and sandbox.control.messages(seed.chat_id, bots_only=True) == []


def test_answer_failure_gives_an_error_card_not_silence(sandbox, seed, runtime):
    def boom(*a):
        raise RuntimeError("mirror unavailable")

    d = Dispatcher(runtime, clock=lambda: NOW, answer=boom, bot_open_id=seed.bot_open_id)
    d.dispatch(incoming(sandbox, seed))
    assert d.drain(5)
    d.close()
    msgs = sandbox.control.messages(seed.chat_id, bots_only=True)
    # a short message with a log id; the raw exception text stays in the log (issue 17, case 7)
    assert len(msgs) == 1 and "mirror unavailable" not in str(msgs[0]) and "日志编号 E" in str(msgs[0])


def test_reply_uuid_is_stable_and_short():
    assert reply_uuid("ev-1") == reply_uuid("ev-1") != reply_uuid("ev-2")
    assert len(reply_uuid("x" * 200)) <= 50


def test_card_to_text_renders_tables_charts_and_buttons():
    card = {"header": {"title": {"content": "项目状态"}, "template": "red"},
            "body": {"elements": [
                {"tag": "markdown", "content": "**负责人** <at id=ou_1></at>"},
                {"tag": "table", "columns": [{"name": "t", "display_name": "任务", "data_type": "text"},
                                             {"name": "s", "display_name": "状态", "data_type": "options"}],
                 "rows": [{"t": "准备物料", "s": [{"text": "延期", "color": "red"}]}, {"t": "培训", "s": []}]},
                {"tag": "chart", "chart_spec": {"type": "bar", "data": {"values": [{"m": "M1", "v": 2}, {"m": "M2", "v": 4}]},
                                                "xField": "m", "yField": "v"}},
                {"tag": "column_set", "columns": [{"tag": "column", "elements": [
                    {"tag": "button", "text": {"tag": "plain_text", "content": "完成"}}]}]},
            ]}}
    out = card_to_text(card)
    assert "■ 项目状态" in out and "负责人 @ou_1" in out
    lines = out.splitlines()
    head = next(i for i, line in enumerate(lines) if line.startswith("任务"))
    assert lines[head + 2].startswith("准备物料") and "延期" in lines[head + 2]
    from gtm.bot.cards.terminal import _width

    def col(line: str, word: str) -> int:
        return _width(line[:line.index(word)])

    assert col(lines[head], "状态") == col(lines[head + 2], "延期")  # aligned by display width
    assert any(line.startswith("M2") and line.count("█") == 20 for line in lines)
    assert "[完成]" in out


# -- issue #16.3: claim → answer → mark done -----------------------------------------------------
def _claim_in_a_process_that_dies(url: str, event_id: str) -> None:
    """Another process claims the event (lease 10 min) and exits before answering: a crash."""
    import subprocess

    code = ("import sys; from gtm.sync.store.open import open_store; from gtm.sync.store.ledger import claim_event; "
            "st = open_store(sys.argv[1], migrate=False)\n"
            "with st.session() as s: assert claim_event(s, sys.argv[2], lease_seconds=600)")
    subprocess.run([sys.executable, "-c", code, url, event_id], check=True, timeout=60)


def _event_row(runtime, event_id):
    from gtm.sync.store.ledger import ProcessedEventRow

    with runtime.store.session() as s:
        row = s.get(ProcessedEventRow, event_id)
        return (row.status, row.holder) if row is not None else None


def test_mention_whose_answerer_died_is_answered_on_redelivery(sandbox, seed, runtime):
    inc = incoming(sandbox, seed, event_id="ev-died")
    _claim_in_a_process_that_dies(str(runtime.store.engine.url), "ev-died")
    assert _event_row(runtime, "ev-died")[0] == "claimed"
    d = Dispatcher(runtime, clock=lambda: NOW, answer=lambda *a: CARD, bot_open_id=seed.bot_open_id)
    assert d.dispatch(inc) is None  # the redelivery: the dead holder's claim is taken over
    assert d.drain(5)
    assert d.dispatch(inc) is None  # answered now: a further redelivery is a duplicate
    assert d.drain(5)
    d.close()
    assert _event_row(runtime, "ev-died")[0] == "done"
    assert len(sandbox.control.messages(seed.chat_id, bots_only=True)) == 1
    assert d.stats["duplicates"] == 1 and d.stats["replied"] == 1


def test_live_claim_elsewhere_is_respected_and_an_expired_one_taken_over(sandbox, seed, runtime):
    from datetime import datetime, timedelta, timezone

    from gtm.sync.store.ledger import ProcessedEventRow

    inc = incoming(sandbox, seed, event_id="ev-remote")
    wall = datetime.now(timezone.utc)
    with runtime.store.session() as s:  # a replica on another host is answering (lease on the wall clock)
        s.add(ProcessedEventRow(event_id="ev-remote", project="", received_at=wall, status="claimed",
                                holder="other-host:1:abcd", lease_until=wall + timedelta(minutes=5)))
    d = Dispatcher(runtime, clock=lambda: NOW, answer=lambda *a: CARD, bot_open_id=seed.bot_open_id)
    assert d.dispatch(inc) is None and d.drain(5)
    assert sandbox.control.messages(seed.chat_id, bots_only=True) == []
    with runtime.store.session() as s:  # that replica vanished: its lease ran out
        s.get(ProcessedEventRow, "ev-remote").lease_until = wall - timedelta(seconds=1)
    assert d.dispatch(inc) is None and d.drain(5)
    d.close()
    assert len(sandbox.control.messages(seed.chat_id, bots_only=True)) == 1


def test_retried_answer_after_a_crash_between_send_and_done_stays_single(sandbox, seed, runtime):
    from gtm.sync.store.ledger import ProcessedEventRow

    inc = incoming(sandbox, seed, event_id="ev-sent")
    d = Dispatcher(runtime, clock=lambda: NOW, answer=lambda *a: CARD, bot_open_id=seed.bot_open_id)
    assert d.dispatch(inc) is None and d.drain(5)
    with runtime.store.session() as s:  # as if the process died after the send, before "done"
        row = s.get(ProcessedEventRow, "ev-sent")
        row.status, row.holder = "claimed", "gone-host:1:dead"
        row.lease_until = None
    assert d.dispatch(inc) is None and d.drain(5)
    d.close()
    assert d.stats["replied"] == 2  # answered again …
    assert len(sandbox.control.messages(seed.chat_id, bots_only=True)) == 1  # … deduplicated by its uuid


# -- issue #16.7: bounded waits on the chat path ----------------------------------------------------
def test_a_long_rate_limit_reset_never_holds_an_answer_it_is_queued(sandbox, seed, runtime, monkeypatch):
    from gtm.bot.chat import dispatcher as D
    from gtm.sync.feishu.gateway import Gateway

    waits: list[float] = []
    runtime.gateway = Gateway(seed.app_id, seed.app_secret, sandbox.url, timeout=5, sleep=waits.append)
    queued: list[tuple[float, object]] = []
    d = Dispatcher(runtime, clock=lambda: NOW, answer=lambda *a: CARD, bot_open_id=seed.bot_open_id)
    monkeypatch.setattr(d, "_later", lambda delay, fn, inc: queued.append((delay, fn)))
    sandbox.inject("/reply", "429", count=1, reset_after=45)
    inc = incoming(sandbox, seed, event_id="ev-429")
    assert d.dispatch(inc) is None and d.drain(5)
    assert sum(waits) <= D.CHAT_MAX_WAIT  # the worker did not sit out the 45 s reset
    assert [delay for delay, _ in queued] == [45.0] and d.stats["queued"] == 1
    assert sandbox.control.messages(seed.chat_id, bots_only=True) == []
    queued[0][1]()  # the timer fires at the reset: answered once
    assert len(sandbox.control.messages(seed.chat_id, bots_only=True)) == 1
    assert _event_row(runtime, "ev-429")[0] == "done"


def test_short_rate_limit_resets_are_retried_within_the_budget(sandbox, seed, runtime):
    from gtm.sync.feishu.gateway import Gateway

    waits: list[float] = []
    runtime.gateway = Gateway(seed.app_id, seed.app_secret, sandbox.url, timeout=5, sleep=waits.append)
    d = Dispatcher(runtime, clock=lambda: NOW, answer=lambda *a: CARD, bot_open_id=seed.bot_open_id)
    sandbox.inject("/reply", "429", count=1, reset_after=1)
    assert d.dispatch(incoming(sandbox, seed, event_id="ev-429s")) is None and d.drain(5)
    d.close()
    assert waits == [1.0] and d.stats["replied"] == 1 and d.stats["queued"] == 0
    assert len(sandbox.control.messages(seed.chat_id, bots_only=True)) == 1


def test_replies_past_the_apps_minute_are_paced_on_a_timer_not_refused(sandbox, seed, runtime, monkeypatch):
    """The app's reply pace counts the minute too (Feishu: 1,000/min per app besides 50/s): once
    the minute is full a reply is booked for the slot it frees and sent from a timer, never sent
    early to be refused with a reset of up to a minute. (A minute of 2 replies keeps it small.)"""
    from gtm.sync.feishu.gateway import Gateway
    from gtm.sync.feishu.ratelimit import RECIPIENT, REPLY_APP, Pace, RateLimiter

    runtime.gateway = Gateway(seed.app_id, seed.app_secret, sandbox.url, timeout=5, sleep=lambda s: None)
    runtime.gateway.limiter = RateLimiter(paces={RECIPIENT: (Pace(5, 1.05),),
                                                 REPLY_APP: (Pace(50, 1.1), Pace(2, 61.0))})
    queued: list[tuple[float, object]] = []
    d = Dispatcher(runtime, clock=lambda: NOW, answer=lambda *a: CARD, bot_open_id=seed.bot_open_id)
    monkeypatch.setattr(d, "_later", lambda delay, fn, inc: queued.append((delay, fn)))
    for i in range(3):
        assert d.dispatch(incoming(sandbox, seed, event_id=f"ev-min-{i}")) is None
    assert d.drain(5)
    assert d.stats["replied"] == 2 and d.stats["paced"] == 1 and d.stats["queued"] == 0
    assert len(queued) == 1 and 60.0 < queued[0][0] <= 61.0  # booked for when the 1st leaves the minute
    assert len(sandbox.control.messages(seed.chat_id, bots_only=True)) == 2
    queued[0][1]()  # the timer fires: the third reply goes out
    assert d.stats["replied"] == 3 and len(sandbox.control.messages(seed.chat_id, bots_only=True)) == 3
    d.close()

"""Routing: p2p answers across the asker's projects; unlinked groups; people of other tenants."""
from __future__ import annotations

from datetime import timedelta

import pytest

from gtm.bot.chat.dispatcher import Dispatcher
from tests.support.inbox import card_text
from tests.support.plans import NOW, create_plan, task
from tests.support.runtime import running_bot
from tests.support.waiting import wait_until


@pytest.fixture
def bot(sandbox, seed, runtime, plan):
    with running_bot(sandbox, seed, Dispatcher(runtime, clock=lambda: NOW)) as d:
        yield d


def test_p2p_my_tasks_lists_items_of_two_projects(sandbox, seed, runtime, plan, bot):
    u = seed.users
    other = sandbox.control.create_chat(seed.tenant_key, "Beta 项目群", [u["pm"], u["王芳"]], [seed.app_id])
    create_plan(runtime, slug="beta", name="Beta 上市", chat_ids=[other["chat_id"]], pm=u["pm"],
                management=[u["management"]], tasks=[task("B1", "海外渠道签约", u["王芳"], NOW.date() + timedelta(days=2))])
    sandbox.control.post_message(None, u["王芳"], "我的任务", mention_bot=False)
    msgs = wait_until(lambda: sandbox.control.p2p_messages(u["王芳"], bots_only=True), timeout=10, message="p2p reply")
    assert bot.drain(5)
    text = card_text(msgs[0])
    assert "Alpha 发布" in text and "Beta 上市" in text
    assert "准备发布会物料" in text and "海外渠道签约" in text
    assert "渠道培训" not in text  # 刘洋's task
    assert len(sandbox.control.p2p_messages(u["王芳"], bots_only=True)) == 1


def test_unlinked_group_gets_link_hint_and_other_tenants_get_nothing(sandbox, seed, runtime, plan, bot):
    u = seed.users
    lone = sandbox.control.create_chat(seed.tenant_key, "闲聊群", [u["王芳"]], [seed.app_id])
    sandbox.control.post_message(lone["chat_id"], u["王芳"], "状态")
    msgs = sandbox.control.wait_for_messages(lone["chat_id"], 1, timeout=10)
    assert lone["chat_id"] in card_text(msgs[0])  # the hint names the chat to link

    guest_tenant = sandbox.control.create_tenant("外部公司")
    guest = sandbox.control.create_user(guest_tenant["tenant_key"], "外部访客")
    sandbox.control.add_member(seed.chat_id, guest["open_id"])
    sandbox.control.post_message(seed.chat_id, guest["open_id"], "状态")
    wait_until(lambda: bot.stats["received"] >= 2, message="guest message received")
    assert bot.drain(5)
    assert sandbox.control.messages(seed.chat_id, bots_only=True) == []


def test_gtm_ask_prints_the_same_answer_in_the_terminal(seed, runtime, plan):
    from gtm.bot.cards.terminal import card_to_text
    from gtm.bot.chat.ask import ask

    card = ask(runtime, "我的任务", as_open_id=seed.users["王芳"], now=NOW)
    text = card_to_text(card)
    assert "准备发布会物料" in text and "渠道培训" not in text
    assert text.splitlines()[0].startswith("■ ")


def test_gtm_ask_without_as_answers_as_the_projects_manager_and_refuses_unknown_people(seed, runtime, plan):
    import pytest as _pytest

    from gtm.bot.cards.terminal import card_to_text
    from gtm.bot.chat.ask import ask
    from gtm.bot.cli.run import _asker

    as_pm = card_to_text(ask(runtime, "我的任务", as_open_id=seed.users["pm"], project="alpha", now=NOW))
    default = card_to_text(ask(runtime, "我的任务", project="alpha", now=NOW))
    assert default == as_pm  # `--as` defaults to the project manager, as its help says
    mine = card_to_text(ask(runtime, "我的任务", as_open_id=seed.users["王芳"], project="alpha", now=NOW))
    assert "准备发布会物料" in mine and "准备发布会物料" not in default

    assert _asker(runtime, seed.users["王芳"]) == seed.users["王芳"]
    assert _asker(runtime, "wangfang@example.com") == seed.users["王芳"]
    for bad in ("ou_nobody_here", "nobody@example.com", "王芳"):
        with _pytest.raises(SystemExit) as stop:
            _asker(runtime, bad)
        assert stop.value.code == 2


def test_p2p_answer_is_in_the_projects_language_with_both_for_readers(sandbox, seed, runtime, plan, bot):
    """A project set to English answers 我的任务 in a DM in English (it used to be Chinese in p2p),
    and the card carries both languages so a Chinese reader's client shows Chinese."""
    from gtm.sync.store.registry import get_project

    with runtime.store.session() as s:
        get_project(s, "alpha").policy_overrides = {"locale": "en"}
    u = seed.users
    sandbox.control.post_message(None, u["王芳"], "我的任务", mention_bot=False)
    msgs = wait_until(lambda: sandbox.control.p2p_messages(u["王芳"], bots_only=True), timeout=10, message="p2p reply")
    title = msgs[0]["card"]["header"]["title"]
    assert title["content"].startswith("My tasks")
    assert title["i18n_content"]["zh_cn"].startswith("我的任务")


def test_monthly_summary_goes_to_management_once(sandbox, seed, runtime, plan):
    from gtm.bot.checks.monthly import run_monthly

    first = run_monthly(runtime, NOW)
    again = run_monthly(runtime, NOW)
    mgmt = seed.users["management"]
    assert [o.status for o in first.outcomes] == ["sent"] and [o.status for o in again.outcomes] != ["sent"]
    cards = [m for m in sandbox.control.p2p_messages(mgmt, bots_only=True) if "月度汇报" in card_text(m)]
    assert len(cards) == 1 and "2026-10" in card_text(cards[0])

"""Plan updates typed in the group chat (real SDK long connection ↔ sandbox): the bot answers a
confirm card, nothing is written until 确认, only the owner / PM / management may change a record,
取消 writes nothing. One test per phrasing family, Chinese and English."""
from __future__ import annotations

from datetime import date, datetime, time, timedelta

import pytest

from gtm.bot.chat.dispatcher import Dispatcher
from tests.support.actors import record_writes
from tests.support.inbox import card_text
from tests.support.plans import NOW, TZ, create_plan, record_fields, task
from tests.support.runtime import running_bot
from tests.support.waiting import wait_until

SLUG = "upd"
END = NOW.date() + timedelta(days=5)  # NOW is Friday 2026-11-20; END Wednesday 11-25


@pytest.fixture
def upd(runtime, seed):
    u = seed.users
    return create_plan(runtime, slug=SLUG, name="更新测试", chat_ids=[seed.chat_id], pm=u["pm"],
                       management=[u["management"]],
                       tasks=[task("T-301", "渠道培训", u["王芳"], END, status="进行中", progress=0.3),
                              task("T-302", "发布会物料", u["刘洋"], END, status="未开始", progress=0.0)])


@pytest.fixture
def bot(sandbox, seed, runtime, upd):
    with running_bot(sandbox, seed, Dispatcher(runtime, clock=lambda: NOW)) as d:
        yield d


def say(sandbox, seed, who: str, text: str) -> dict:
    """Post `text` as `who` in the group (mentioning the bot); the bot's reply card."""
    before = len(sandbox.control.messages(seed.chat_id, bots_only=True))
    sandbox.control.post_message(seed.chat_id, seed.users[who], text)
    msgs = wait_until(lambda: sandbox.control.messages(seed.chat_id, bots_only=True)[before:], timeout=10,
                      message=f"reply to {text!r}")
    return msgs[0]


def ms(d: date) -> int:
    return int(datetime.combine(d, time(), TZ).timestamp() * 1000)


@pytest.mark.parametrize("text", ["T-301 80%", "进度 T-301 80", "progress T-301 80"])
def test_progress_is_written_only_after_confirm(sandbox, seed, gateway, upd, bot, text):
    t301 = upd["tasks"][0]
    reply = say(sandbox, seed, "王芳", text)
    assert "请确认修改" in card_text(reply) or "Please confirm" in card_text(reply)
    assert "80%" in card_text(reply)
    assert record_writes(sandbox, t301) == 0  # nothing written before the confirmation
    ans = sandbox.control.click(reply["message_id"], seed.users["王芳"], button_text="确认")
    assert ans["toast"]["type"] == "success", ans
    assert record_fields(gateway, upd["binding"], "task", t301)["进度"] == 0.8
    assert "进度已更新为 80%" in card_text(sandbox.control.message(reply["message_id"]))


@pytest.mark.parametrize("text", ["T-301 完成", "T-301 done", "渠道培训 已完成"])
def test_done_in_both_languages(sandbox, seed, gateway, upd, bot, text):
    t301 = upd["tasks"][0]
    reply = say(sandbox, seed, "pm", text)  # the PM may close anybody's task
    assert "标记为完成" in card_text(reply)
    ans = sandbox.control.click(reply["message_id"], seed.users["pm"], button_text="确认")
    assert ans["toast"]["type"] == "success", ans
    fields = record_fields(gateway, upd["binding"], "task", t301)
    assert fields["状态"] == "已完成" and fields["实际结束"] == ms(NOW.date())


@pytest.mark.parametrize("text, want, why", [
    ("T-301 延期到 12-20 因为设计稿", date(2026, 12, 20), "设计稿"),
    ("T-301 推迟到下周一", date(2026, 11, 23), ""),
    ("T-301 延期到周五", date(2026, 11, 27), ""),  # on a Friday, 周五 is the next one
    ("push T-301 to friday", date(2026, 11, 27), ""),
    ("move T-301 to next tuesday because the vendor is late", date(2026, 11, 24), "the vendor is late"),
])
def test_new_date_with_reason_relative_dates_in_project_time(sandbox, seed, gateway, upd, bot, text, want, why):
    t301 = upd["tasks"][0]
    reply = say(sandbox, seed, "王芳", text)
    assert want.isoformat() in card_text(reply), card_text(reply)
    ans = sandbox.control.click(reply["message_id"], seed.users["王芳"], button_text="确认")
    assert ans["toast"]["type"] == "success", ans
    fields = record_fields(gateway, upd["binding"], "task", t301)
    assert fields["计划结束"] == ms(want)
    note = fields.get("备注") or ""
    note = note if isinstance(note, str) else "".join(x["text"] for x in note)
    assert want.isoformat() in note and (why in note)


def test_strangers_cannot_and_cancel_writes_nothing(sandbox, seed, gateway, upd, bot):
    t301, t302 = upd["tasks"]
    # 杨帆 is neither the owner, the PM nor management: refused, no buttons
    reply = say(sandbox, seed, "杨帆", "T-301 80%")
    assert "没有权限" in card_text(reply) and "确认" not in card_text(reply)
    # 刘洋 asks about his own task; a stranger clicking his 确认 is refused as on any card
    reply = say(sandbox, seed, "刘洋", "T-302 50%")
    ans = sandbox.control.click(reply["message_id"], seed.users["杨帆"], button_text="确认")
    assert ans["toast"]["type"] == "error"
    ans = sandbox.control.click(reply["message_id"], seed.users["刘洋"], button_text="取消")
    assert ans["toast"]["type"] == "info"
    assert record_writes(sandbox, t302) == 0 and record_writes(sandbox, t301) == 0
    assert "已取消" in card_text(sandbox.control.message(reply["message_id"]))
    # an unknown ID is named, not guessed
    assert "找不到任务「T-999」" in card_text(say(sandbox, seed, "pm", "T-999 完成"))


def test_relative_dates_use_the_project_time_zone():
    """Friday 17:30 UTC is already Saturday in Shanghai: 明天 is Sunday 11-22."""
    from gtm.bot.chat.answers import AskContext, view_for
    from gtm.bot.chat.parse import parse
    from gtm.schemas.plan import PlanSnapshot, Task
    from gtm.schemas.settings import Policy
    from zoneinfo import ZoneInfo

    snap = PlanSnapshot(tasks=[Task(record_id="r1", task_id="T-301", name="渠道培训", planned_end=END)])
    late = datetime(2026, 11, 20, 17, 30, tzinfo=ZoneInfo("UTC"))
    for tz, want in (("Asia/Shanghai", "2026-11-22"), ("America/New_York", "2026-11-21")):
        ctx = AskContext(project_name="x", project_slug="x", snapshot=snap, now=late, policy=Policy(timezone=tz),
                         asker="ou_x")
        ctx.snapshot.project.pm = None
        name, view = view_for(parse("T-301 延期到明天"), ctx)
        assert name == "message"  # ou_x may not change it …
        snap.project.management = []
        from gtm.schemas.plan import Person
        snap.project.pm = Person(open_id="ou_x")
        name, view = view_for(parse("T-301 延期到明天"), ctx)
        assert name == "confirm" and want in view.question, view
        snap.project.pm = None

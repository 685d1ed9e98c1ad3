"""Who may click a card button, end to end (real SDK long connection ↔ sandbox), asserting the reason.

- a member of another organisation is refused before anything is read, even when the plan names
  them as management;
- management may act on an item they do not own;
- a stranger (not owner, PM or management) is refused for every action, and nothing is written;
- a second click on an item already handled leaves the card as it was.
"""
from __future__ import annotations

from datetime import timedelta

import pytest

from gtm.bot.cards.button_values import Ack, Postpone, Progress, Resolve, Snooze, TaskDone
from gtm.bot.cards.factory import NoticeCards
from gtm.bot.chat.dispatcher import Dispatcher
from gtm.schemas.decisions import Notice, RecordRef
from gtm.schemas.plan import Person
from tests.support.actors import record_writes, send_card
from tests.support.plans import NOW, create_plan, record_fields, task
from tests.support.runtime import running_bot

OTHER_ORG = "只有本企业成员可以操作"
NOT_ALLOWED = "只有负责人、项目经理或管理层可以操作这条记录"


@pytest.fixture
def guest(sandbox) -> str:
    """A user of another organisation (another tenant of the sandbox)."""
    tenant = sandbox.control.create_tenant("外部伙伴公司")
    return sandbox.control.create_user(tenant["tenant_key"], "外部顾问")["open_id"]


@pytest.fixture
def plan(runtime, seed, guest):
    """Project alpha: PM 张伟, management 李娜 and (wrongly) the guest; T1 owned by 王芳, T2 by
    nobody; one issue."""
    u = seed.users
    end = NOW.date() - timedelta(days=3)
    return create_plan(
        runtime, slug="alpha", name="Alpha 发布", chat_ids=[seed.chat_id], pm=u["pm"],
        management=[u["management"], guest],
        tasks=[task("T1", "准备发布会物料", u["王芳"], end),
               {"task_id": "T2", "name": "尚未指派的任务", "planned_start": end - timedelta(days=7),
                "planned_end": end}],
        issues=[{"issue": "物料供应商延迟", "owner": Person(open_id=u["陈静"]), "status": "待处理",
                 "severity": "高", "raised_at": NOW - timedelta(days=5)}])


@pytest.fixture
def bot(sandbox, seed, runtime, plan):
    with running_bot(sandbox, seed, Dispatcher(runtime, clock=lambda: NOW)) as d:
        yield d


def task_card(plan) -> dict:
    notices = [Notice(kind="overdue", key=f"overdue:task:{rid}:1", recipients=["oc_x"], digest=True,
                      record=RecordRef(table="task", record_id=rid, label=label), data={"planned": "2026-11-20"})
               for rid, label in zip(plan["tasks"], ["T1 准备发布会物料", "T2 尚未指派的任务"])]
    return NoticeCards().digest("Alpha 发布", "oc_x", notices, project_slug="alpha")


def issue_card(plan) -> dict:
    issue = plan["issues"][0]
    notice = Notice(kind="escalation", key=f"escalation:issue:{issue}:1", recipients=["oc_x"], level=1,
                    record=RecordRef(table="issue", record_id=issue, label="物料供应商延迟"),
                    title="问题已超过 3 天未解决")
    return NoticeCards().single("Alpha 发布", notice, project_slug="alpha")


def ladder_state(runtime, record_id: str):
    from gtm.sync.store.ledger import get_states

    with runtime.store.session() as s:
        return get_states(s, "alpha").get(("issue", record_id))


def test_click_from_another_organisation_is_refused_for_that_reason(sandbox, seed, gateway, plan, bot, guest):
    t1 = plan["tasks"][0]
    mid = send_card(gateway, seed.chat_id, task_card(plan))
    ans = sandbox.control.click(mid, guest, TaskDone(p="alpha", t="task", r=t1).value())
    assert ans["toast"]["type"] == "error"
    assert OTHER_ORG in ans["toast"]["content"], ans  # not the owner/PM/management refusal
    assert record_writes(sandbox, t1) == 0
    assert record_fields(gateway, plan["binding"], "task", t1)["状态"] == "进行中"


def test_management_may_act_on_an_item_they_do_not_own(sandbox, seed, gateway, plan, bot):
    t1 = plan["tasks"][0]
    mid = send_card(gateway, seed.chat_id, task_card(plan))
    ans = sandbox.control.click(mid, seed.users["management"], TaskDone(p="alpha", t="task", r=t1).value())
    assert ans["toast"]["type"] == "success", ans
    assert record_fields(gateway, plan["binding"], "task", t1)["状态"] == "已完成"
    assert record_writes(sandbox, t1) == 1


def test_a_stranger_is_refused_for_every_action_and_nothing_changes(sandbox, seed, gateway, runtime, plan, bot):
    t1, issue = plan["tasks"][0], plan["issues"][0]
    stranger = seed.users["杨帆"]  # in the group, but not owner, PM or management
    task_mid = send_card(gateway, seed.chat_id, task_card(plan))
    issue_mid = send_card(gateway, seed.chat_id, issue_card(plan))
    later = (NOW + timedelta(days=7)).date()
    clicks = {
        "done": (task_mid, TaskDone(p="alpha", t="task", r=t1).value(), None),
        "progress": (task_mid, Progress(p="alpha", t="task", r=t1, f="0").value(), {"p0": "80"}),
        "postpone": (task_mid, Postpone(p="alpha", t="task", r=t1, f="0").value(),
                     {"d0": f"{later.isoformat()} +0800", "why0": "想拖一拖"}),
        "ack": (issue_mid, Ack(p="alpha", t="issue", r=issue, l=1).value(), None),
        "snooze": (issue_mid, Snooze(p="alpha", t="issue", r=issue, l=1, h=4).value(), None),
        "resolve": (issue_mid, Resolve(p="alpha", t="issue", r=issue).value(), None),
    }
    for action, (mid, value, form) in clicks.items():
        ans = sandbox.control.click(mid, stranger, value, form_value=form)
        assert ans["toast"]["type"] == "error", (action, ans)
        assert NOT_ALLOWED in ans["toast"]["content"], (action, ans)
    assert record_writes(sandbox, t1) == 0 and record_writes(sandbox, issue) == 0
    state = ladder_state(runtime, issue)
    assert state is None or (state.acked_until is None and state.snoozed_until is None and not state.resolved)
    assert record_fields(gateway, plan["binding"], "issue", issue)["状态"] == "待处理"


def test_a_second_click_leaves_the_updated_card_as_it_was(sandbox, seed, gateway, plan, bot):
    t1 = plan["tasks"][0]
    mid = send_card(gateway, seed.chat_id, task_card(plan))
    owner = seed.users["王芳"]
    assert sandbox.control.click(mid, owner, TaskDone(p="alpha", t="task", r=t1).value())["toast"]["type"] == "success"
    first = sandbox.control.message(mid)["card"]
    again = sandbox.control.click(mid, owner, TaskDone(p="alpha", t="task", r=t1).value())
    assert again["toast"]["type"] == "info", again
    assert sandbox.control.message(mid)["card"] == first
    lines = [e for e in first["body"]["elements"] if e.get("tag") == "markdown" and "已完成" in e.get("content", "")]
    assert len(lines) == 1, lines
    assert record_writes(sandbox, t1) == 1


def test_the_pm_may_act_on_an_item_nobody_owns(sandbox, seed, gateway, plan, bot):
    t2 = plan["tasks"][1]
    mid = send_card(gateway, seed.chat_id, task_card(plan))
    ans = sandbox.control.click(mid, seed.users["pm"], TaskDone(p="alpha", t="task", r=t2).value())
    assert ans["toast"]["type"] == "success", ans
    assert record_fields(gateway, plan["binding"], "task", t2)["状态"] == "已完成"
    ans = sandbox.control.click(mid, seed.users["杨帆"], TaskDone(p="alpha", t="task", r=t2).value())
    assert NOT_ALLOWED in ans["toast"]["content"], ans  # and nobody else because nobody owns it


def test_a_click_decides_on_the_record_as_it_is_in_the_base_now(sandbox, seed, gateway, plan, bot):
    t1 = plan["tasks"][0]
    b = plan["binding"]
    owner = seed.users["王芳"]
    mid = send_card(gateway, seed.chat_id, task_card(plan))
    # a first click fills the bot's mirror (T1 still 进行中 there)
    assert sandbox.control.click(mid, seed.users["杨帆"], TaskDone(p="alpha", t="task", r=t1).value())[
        "toast"]["type"] == "error"
    # the owner closes T1 in the Base herself; then she clicks 完成 on the (older) card
    sandbox.bitable.add_member(b.app_token, "openchat", seed.chat_id, "edit")  # the team may edit
    sandbox.bitable.act_update(owner, b.app_token, b.table_ids["task"], t1, {"状态": "已完成"})
    before = record_writes(sandbox, t1)
    ans = sandbox.control.click(mid, owner, TaskDone(p="alpha", t="task", r=t1).value())
    assert ans["toast"]["type"] == "info", ans  # "already done": decided on the Base, not the stale mirror
    assert record_writes(sandbox, t1) == before

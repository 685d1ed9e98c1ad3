"""The T-SLIP story end to end (real SDK ↔ sandbox): a postpone from a card ripples to the
milestone owner and the successor's owner once, the weekly report names the threatened
milestone, and 关键路径 answers in the group chat."""
from __future__ import annotations

import json
from datetime import date, datetime, time

import pytest
from lark_oapi.api.bitable.v1 import AppTableField, CreateAppTableFieldRequest

from gtm.bot.cards.button_values import Postpone
from gtm.bot.chat.ask import ask
from gtm.bot.checks.baseline import set_baseline
from gtm.bot.cards.factory import NoticeCards
from gtm.bot.checks.check import run_check
from gtm.bot.chat.dispatcher import Dispatcher
from gtm.schemas.decisions import Notice, RecordRef
from gtm.schemas.plan import Person
from gtm.schemas.tables import table


from tests.support.actors import send_card
from tests.support.inbox import card_text
from tests.support.plans import NOW, TZ, add_rows, create_base, record_fields
from tests.support.runtime import running_bot
from tests.support.waiting import wait_until

SLUG = "slip"
M3_TARGET = date(2026, 12, 21)
NEW_END = date(2026, 12, 28)


def add_field(gw, b, key: str, attr: str) -> None:
    body = table(key).field(attr).create_body(b.table_ids)
    req = (CreateAppTableFieldRequest.builder().app_token(b.app_token).table_id(b.table_ids[key])
           .request_body(AppTableField(body)).build())
    gw.call("bitable.field.create", lambda: gw.client.bitable.v1.app_table_field.create(req),
            family="bitable.schema_write", retry_safe=False)


@pytest.fixture
def story(runtime, seed):
    """M3 (owner 刘洋, target 12-21) ← T-SLIP (王芳, ends 12-18) → T-NEXT (陈静, starts 12-22)."""
    from gtm.sync.provision import register_project

    u = seed.users
    gw = runtime.gateway
    b = create_base(gw, "Slip 发布", SLUG)
    add_field(gw, b, "task", "predecessors")
    add_rows(gw, b, "project", [{"name": "Slip 发布", "pm": Person(open_id=u["pm"]),
                                 "management": [Person(open_id=u["management"])]}])
    [m3] = add_rows(gw, b, "milestone", [{"code": "M3", "name": "发布准备就绪", "owner": Person(open_id=u["刘洋"]),
                                          "target_date": M3_TARGET, "status": "进行中"}])
    [slip] = add_rows(gw, b, "task", [{"task_id": "T-SLIP", "name": "发布会物料", "owner": Person(open_id=u["王芳"]),
                                       "milestone": [m3], "planned_start": date(2026, 12, 14),
                                       "planned_end": date(2026, 12, 18), "status": "未开始", "progress": 0.0}])
    [nxt] = add_rows(gw, b, "task", [{"task_id": "T-NEXT", "name": "渠道培训", "owner": Person(open_id=u["陈静"]),
                                      "predecessors": [slip], "planned_start": date(2026, 12, 22),
                                      "planned_end": date(2026, 12, 24), "status": "未开始", "progress": 0.0}])
    with runtime.store.session() as s:
        register_project(s, SLUG, "Slip 发布", "gtm", b, chat_ids=[seed.chat_id])
    return {"binding": b, "m3": m3, "slip": slip, "next": nxt}


@pytest.fixture
def bot(sandbox, seed, runtime, story):
    with running_bot(sandbox, seed, Dispatcher(runtime, clock=lambda: NOW)) as d:
        yield d


def slip_cards(sandbox, open_id: str) -> list[dict]:
    return [m for m in sandbox.control.p2p_messages(open_id, bots_only=True) if "T-SLIP" in card_text(m)]


def test_t_slip_story(sandbox, seed, gateway, runtime, story, bot):
    u = seed.users
    project = runtime.project(SLUG)
    # before the postpone the plan holds: the check tells nobody about a slip
    run_check(runtime, project, NOW)
    assert slip_cards(sandbox, u["刘洋"]) == [] and slip_cards(sandbox, u["陈静"]) == []
    # the PM records the approved plan as the baseline
    done = set_baseline(runtime, project, NOW)
    assert done.rows == 3  # M3, T-SLIP, T-NEXT
    old_end = int(datetime.combine(date(2026, 12, 18), time(), TZ).timestamp() * 1000)
    assert record_fields(gateway, story["binding"], "task", story["slip"])["基线结束"] == old_end

    # 王芳 postpones T-SLIP from its card to 12-28, after M3's target
    notice = Notice(kind="due_soon", key=f"due_soon:task:{story['slip']}:1", recipients=[u["王芳"]],
                    record=RecordRef(table="task", record_id=story["slip"], label="T-SLIP 发布会物料"),
                    digest=True, data={"planned": "2026-12-18"})
    mid = send_card(gateway, seed.chat_id, NoticeCards().digest("Slip 发布", u["王芳"], [notice], project_slug=SLUG))
    ans = sandbox.control.click(mid, u["王芳"], Postpone(p=SLUG, t="task", r=story["slip"], f="0").value(),
                                form_value={"d0": f"{NEW_END.isoformat()} +0800", "why0": "设计稿延迟"})
    assert ans["toast"]["type"] == "success", ans
    fields = record_fields(gateway, story["binding"], "task", story["slip"])
    assert fields["计划结束"] == int(datetime.combine(NEW_END, time(), TZ).timestamp() * 1000)

    run_check(runtime, project, NOW)
    # postponing moved 计划结束, never the baseline; the variance against it survives
    fields = record_fields(gateway, story["binding"], "task", story["slip"])
    assert fields["基线结束"] == old_end and fields["基线偏差"] == 10
    assert record_fields(gateway, story["binding"], "milestone", story["m3"]).get("基线偏差") == 0
    expected = ("T-SLIP 延期到 12-28 → M3 发布准备就绪（目标 12-21）预计晚 5 个工作日；"
                "受影响：T-NEXT（陈静）")
    for who in ("刘洋", "陈静"):
        cards = slip_cards(sandbox, u[who])
        assert len(cards) == 1, who
        assert expected in card_text(cards[0])
    # the next check (and the one after) tells nobody again
    run_check(runtime, project, NOW)
    run_check(runtime, project, NOW.replace(hour=14))
    assert len(slip_cards(sandbox, u["刘洋"])) == 1 and len(slip_cards(sandbox, u["陈静"])) == 1

    # the weekly report's 风险 section names the threatened milestone
    report = card_text(ask(runtime, "周报", project=SLUG, now=NOW))
    assert "进度影响" in report and "M3 发布准备就绪（目标 12-21）预计晚 5 个工作日" in report
    assert "基线偏差" in report and "2026-12-21" in report  # the checklist compares with the baseline
    status = card_text(ask(runtime, "状态", project=SLUG, now=NOW))
    assert "预计晚 5 个工作日" in status

    # 关键路径 in the group chat
    before = len(sandbox.control.messages(seed.chat_id, bots_only=True))
    sandbox.control.post_message(seed.chat_id, u["pm"], "关键路径")
    msgs = wait_until(lambda: [m for m in sandbox.control.messages(seed.chat_id, bots_only=True)[before:]
                               if "关键路径" in card_text(m)], timeout=10, message="关键路径 answer")
    text = card_text(msgs[0])
    assert "M3 发布准备就绪" in text and "T-SLIP" in text and "晚 5 个工作日" in text
    en = json.dumps(ask(runtime, "critical path", project=SLUG, now=NOW), ensure_ascii=False)
    assert "Critical path" in en or "关键路径" in en

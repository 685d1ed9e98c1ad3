"""Schema drift is loud: a renamed 计划结束 is followed by its id, a retyped one makes every answer and
check say what it cannot judge, and the PM and the admins hear of each change once (issue #16.1)."""
from __future__ import annotations

from datetime import timedelta

from lark_oapi.api.bitable.v1 import AppTableField, ListAppTableFieldRequest, UpdateAppTableFieldRequest

from gtm.schemas.plan import Person
from tests.support.inbox import card_text
from tests.support.plans import NOW, create_plan, task


def _fields(gw, b, key):
    req = ListAppTableFieldRequest.builder().app_token(b.app_token).table_id(b.table_ids[key]).page_size(100).build()
    return gw.call("t.list", lambda: gw.client.bitable.v1.app_table_field.list(req)).items


def _update_field(gw, b, key, name, body):
    fid = next(f.field_id for f in _fields(gw, b, key) if f.field_name == name)
    req = (UpdateAppTableFieldRequest.builder().app_token(b.app_token).table_id(b.table_ids[key])
           .field_id(fid).request_body(AppTableField(body)).build())
    gw.call("user.update", lambda: gw.client.bitable.v1.app_table_field.update(req))


def _plan(runtime, seed):
    u = seed.users
    today = NOW.date()
    return create_plan(
        runtime, slug="alpha", name="Alpha 发布", chat_ids=[seed.chat_id], pm=u["pm"], management=[u["management"]],
        tasks=[task(f"T{i}", f"逾期任务{i}", u["王芳"], today - timedelta(days=2 + i)) for i in range(3)],
        issues=[{"issue": "物料供应商延迟", "owner": Person(open_id=u["陈静"]), "status": "待处理",
                 "severity": "高", "raised_at": NOW - timedelta(days=1)}])


def _system_sent(run, who):
    return [o for o in run.outcomes if o.rule == "system" and o.recipient == who and o.status == "sent"]


def test_renamed_planned_end_is_followed_and_said_once(runtime, seed, sandbox):
    from gtm.bot.chat.ask import ask
    from gtm.bot.checks.check import run_check

    p = _plan(runtime, seed)
    run_check(runtime, runtime.project("alpha"), NOW)
    _update_field(runtime.gateway, p["binding"], "task", "计划结束", {"field_name": "截止", "type": 5})
    run = run_check(runtime, runtime.project("alpha"), NOW + timedelta(hours=1))
    alerts = _system_sent(run, seed.users["pm"])
    assert len(alerts) == 1
    # still tracked under the new name, and the same overdue digest is not sent twice
    assert not [o for o in run.outcomes if o.rule.startswith("digest") and o.status == "sent"]
    assert any(o.rule.startswith("digest") for o in run.outcomes)
    assert not run.result.warnings or all("计划结束" not in w for w in run.result.warnings)
    card = card_text(ask(runtime, "逾期", as_open_id=seed.users["pm"], project="alpha",
                         now=NOW + timedelta(hours=1)))
    assert "逾期任务0" in card and "逾期任务2" in card and "🎉" not in card
    again = run_check(runtime, runtime.project("alpha"), NOW + timedelta(hours=2))
    assert _system_sent(again, seed.users["pm"]) == []


def test_retyped_planned_end_says_what_it_cannot_judge_then_repair_restores(runtime, seed, sandbox):
    from gtm.bot.chat.ask import ask
    from gtm.bot.checks.check import run_check

    _plan(runtime, seed)
    proj = runtime.project("alpha")
    _update_field(runtime.gateway, proj.binding, "task", "计划结束", {"field_name": "计划结束", "type": 1})
    run = run_check(runtime, runtime.project("alpha"), NOW)
    expected = "任务.计划结束 字段已改名/改类型，无法判断逾期、即将到期 → `gtm init --repair`"
    assert expected in run.result.warnings
    assert len(_system_sent(run, seed.users["pm"])) == 1
    card = card_text(ask(runtime, "逾期", as_open_id=seed.users["pm"], project="alpha", now=NOW))
    assert "无法判断逾期" in card and "🎉" not in card
    again = run_check(runtime, runtime.project("alpha"), NOW + timedelta(hours=1))
    assert _system_sent(again, seed.users["pm"]) == [] and expected in again.result.warnings


def test_sync_says_what_drifted_and_a_rename_back_restores_without_duplicates(runtime, seed, sandbox):
    from rich.console import Console

    from gtm.bot.checks.check import run_check
    from gtm.bot.cli.sync_table import render_summary
    from gtm.sync.refresh import sync_project

    p = _plan(runtime, seed)
    first = run_check(runtime, runtime.project("alpha"), NOW)
    overdue_sent = [o for o in first.outcomes if o.rule.startswith("digest") and o.status == "sent"]
    assert overdue_sent
    _update_field(runtime.gateway, p["binding"], "task", "计划结束", {"field_name": "计划结束", "type": 1})
    proj = runtime.project("alpha")
    summary = sync_project(runtime.store, runtime.gateway, proj.binding, NOW + timedelta(minutes=5))
    console = Console(record=True, width=200)
    console.print(render_summary(summary))
    assert "无法判断逾期" in console.export_text()  # `gtm sync` no longer reports "0 problems" silently
    _update_field(runtime.gateway, p["binding"], "task", "计划结束", {"field_name": "计划结束", "type": 5})
    back = run_check(runtime, runtime.project("alpha"), NOW + timedelta(minutes=10))
    assert not any("计划结束" in w for w in back.result.warnings)
    restored = [o for o in back.outcomes if o.rule == "system" and o.status == "sent"]
    assert len(restored) == 1  # "已恢复" said once
    assert not [o for o in back.outcomes if o.rule.startswith("digest") and o.status == "sent"]  # no repeats

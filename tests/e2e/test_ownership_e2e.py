"""Cell ownership end to end (real SDK, sandbox Base, SQLite store): the service lifts only the 延期
it set itself; a person's 延期 stays and is reported once; card actions recompute derived cells."""
from __future__ import annotations

from datetime import timedelta

from lark_oapi.api.bitable.v1 import UpdateAppTableRecordRequest

from gtm.bot.chat.actions import handle_action
from gtm.bot.cards.button_values import Postpone, TaskDone
from gtm.bot.checks.check import run_check
from gtm.bot.chat.transports import Incoming
from gtm.schemas.tables import table
from gtm.sync.records import encode_value
from gtm.sync.store.cells import reported_problems, service_cells
from tests.support.inbox import card_text
from tests.support.plans import NOW, TZ, record_fields


def type_cells(gateway, plan, key: str, record_id: str, **values) -> None:
    """Edit cells as a person would (by Feishu field name, through the SDK)."""
    spec = table(key)
    fields = {spec.field(a).name: encode_value(spec.field(a), v, TZ, where=a) for a, v in values.items()}
    req = (UpdateAppTableRecordRequest.builder().app_token(plan["binding"].app_token)
           .table_id(plan["binding"].table_ids[key]).record_id(record_id).user_id_type("open_id")
           .request_body({"fields": fields}).build())
    gateway.call("bitable.record.update", lambda: gateway.client.bitable.v1.app_table_record.update(req),
                 family="bitable.write")


def status_of(gateway, plan, rid: str) -> str:
    return record_fields(gateway, plan["binding"], "task", rid)["状态"]


def test_service_lifts_only_its_own_delay_and_keeps_a_persons(runtime, gateway, plan, sandbox, seed):
    t1, t2 = plan["tasks"]  # T1 three days late, T2 due in ten days (未开始)
    project = runtime.project("alpha")
    run_check(runtime, project, NOW)
    assert status_of(gateway, plan, t1) == "延期"  # the service set it …
    with runtime.store.session() as s:
        assert service_cells(s, "alpha") == {("task", t1, "status"): "延期"}  # … and remembers that
    # the PM marks T2 延期 although its 计划结束 is ahead; T1's date is moved to next week
    type_cells(gateway, plan, "task", t2, status="延期")
    type_cells(gateway, plan, "task", t1, planned_end=(NOW + timedelta(days=7)).date())
    later = NOW + timedelta(hours=1)
    run = run_check(runtime, project, later)
    assert status_of(gateway, plan, t1) == "进行中"  # the service's own 延期 is lifted
    assert status_of(gateway, plan, t2) == "延期"  # the person's is never reverted
    [p] = [p for p in run.result.problems if p.field == "status"]
    assert p.record_id == t2 and "标了延期，但计划结束在" in p.reason
    with runtime.store.session() as s:
        assert service_cells(s, "alpha") == {}
    # reported once: the PM's digest carried it, the next check's does not
    told = [n for n in sandbox.control.p2p_messages(seed.users["pm"], bots_only=True)
            if "标了延期" in card_text(n.get("card") or {})]
    assert len(told) == 1
    # a new disagreement (the PM now marks T1 延期 too): the next digest names T1 only
    type_cells(gateway, plan, "task", t1, status="延期")
    run_check(runtime, project, later + timedelta(hours=1))
    assert status_of(gateway, plan, t2) == "延期" and status_of(gateway, plan, t1) == "延期"
    again = [card_text(n.get("card") or {}) for n in sandbox.control.p2p_messages(seed.users["pm"], bots_only=True)
             if "标了延期" in card_text(n.get("card") or {})]
    assert len(again) == 2
    assert t1 in again[1] and t2 not in again[1]
    with runtime.store.session() as s:
        assert [k for k in reported_problems(s, "alpha") if k.startswith(f"data_problem:task:{t2}:status")]


def _click(seed, value, who, form=None) -> Incoming:
    return Incoming(kind="card_action", event_id="e", open_id=who, chat_id=seed.chat_id,
                    action_value=value, form_value=form or {})


def test_postpone_and_done_recompute_derived_cells_at_once(runtime, gateway, plan, seed):
    t1 = plan["tasks"][0]
    project = runtime.project("alpha")
    run_check(runtime, project, NOW)
    assert record_fields(gateway, plan["binding"], "task", t1)["偏差(天)"] == 3
    new = (NOW + timedelta(days=5)).date()
    res = handle_action(runtime, _click(seed, Postpone(p="alpha", t="task", r=t1, f="0").value(), seed.users["pm"],
                                        {"d0": f"{new.isoformat()} +0800", "why0": "等供应商"}), NOW)
    assert res.kind == "success", res
    fields = record_fields(gateway, plan["binding"], "task", t1)
    assert fields["状态"] == "进行中"  # not 延期 until the next check
    assert fields.get("偏差(天)") in (None, 0)
    # done: variance from the actual end, at once
    res = handle_action(runtime, _click(seed, TaskDone(p="alpha", t="task", r=t1).value(), seed.users["pm"]),
                        NOW + timedelta(days=6, hours=1))
    assert res.kind == "success", res
    fields = record_fields(gateway, plan["binding"], "task", t1)
    assert fields["状态"] == "已完成" and fields["偏差(天)"] == 1

"""Drift: what people changed in the Base is found, explained, and repaired without losing data."""
from __future__ import annotations

from datetime import date
from zoneinfo import ZoneInfo

import pytest
from lark_oapi.api.bitable.v1 import (
    AppTableField,
    DeleteAppTableFieldRequest,
    DeleteAppTableRequest,
    UpdateAppTableFieldRequest,
)

from gtm.schemas.tables import table, tables_for
from gtm.sync.provision_read import Reader
from gtm.sync.records import encode_fields

TZ = "Asia/Shanghai"


@pytest.fixture
def base(provisioned):
    return provisioned.binding


def _field(gateway, b, key, attr):
    fid = b.field_ids[key][attr]
    return next(f for f in Reader(gateway).fields(b.app_token, b.table_ids[key]) if f["field_id"] == fid)


def _update_field(gateway, b, key, attr, body):
    req = (UpdateAppTableFieldRequest.builder().app_token(b.app_token).table_id(b.table_ids[key])
           .field_id(b.field_ids[key][attr]).request_body(AppTableField(body)).build())
    gateway.call("user.update", lambda: gateway.client.bitable.v1.app_table_field.update(req))


def _delete_field(gateway, b, key, attr):
    req = (DeleteAppTableFieldRequest.builder().app_token(b.app_token).table_id(b.table_ids[key])
           .field_id(b.field_ids[key][attr]).build())
    gateway.call("user.delete", lambda: gateway.client.bitable.v1.app_table_field.delete(req))


def _user_row(sandbox, seed, b, text):
    """A row a person typed (as the PM, through the sandbox's act-as-user control)."""
    spec = table("task")
    fields = encode_fields(spec, {"task_id": "U-1", "name": text, "planned_end": date(2025, 4, 1)},
                           ZoneInfo(TZ), b)
    sandbox.bitable.add_member(b.app_token, "openid", seed.users["pm"], "edit")
    return sandbox.bitable.act_create(seed.users["pm"], b.app_token, b.table_ids["task"], fields)["record_id"]


def _no_deletes(entries):
    return [e for e in entries if e["method"] == "DELETE" or e["path"].endswith("/batch_delete")]


def test_renamed_field_is_followed_not_reverted(sandbox, gateway, base, run_init, writes):
    _update_field(gateway, base, "task", "status", {"field_name": "进展", "type": 3,
                                                    "property": _field(gateway, base, "task", "status")["property"]})
    mark = sandbox.journal.mark()
    plan, res = run_init(base)
    assert writes(mark) == [] and plan.steps == []
    (f,) = plan.findings
    assert f.kind == "field_renamed" and f.table_name == "任务" and f.field_name == "状态"
    assert "表「任务」的字段「状态」被改名为「进展」" in f.describe() and "进展" in f.describe("en")
    assert "Tasks" in f.describe("en") and "Status" in f.describe("en")
    assert res.binding.field_name("task", "status") == "进展"
    # the codec now writes under the new name, so sync keeps working
    assert "进展" in encode_fields(table("task"), {"status": "进行中"}, ZoneInfo(TZ),
                                   res.binding)


def test_deleted_field_reported_then_repaired(sandbox, seed, gateway, base, run_init, writes):
    rec = _user_row(sandbox, seed, base, "用户自己加的任务")
    _delete_field(gateway, base, "task", "risk_note")
    mark = sandbox.journal.mark()
    plan, res = run_init(base)
    assert writes(mark) == []
    (f,) = plan.findings
    assert f.kind == "field_missing" and f.fixable and not f.fixed
    assert "「任务」" in f.message and "「风险/问题」" in f.message and "--repair" in f.action
    assert "Risk / issue" in f.describe("en")
    mark = sandbox.journal.mark()
    plan, res = run_init(res.binding, repair=True)
    assert [s.op for s in plan.steps] == ["create_field"] and plan.findings[0].fixed
    assert _field(gateway, res.binding, "task", "risk_note")["field_name"] == "风险/问题"
    assert not _no_deletes(writes(mark))
    assert rec in {r["record_id"] for r in Reader(gateway).records(base.app_token, base.table_ids["task"])}
    plan, _ = run_init(res.binding)
    assert plan.steps == [] and plan.findings == []


def test_deleted_table_reported_then_recreated(sandbox, seed, gateway, base, run_init, writes):
    rec = _user_row(sandbox, seed, base, "保留我")
    req = DeleteAppTableRequest.builder().app_token(base.app_token).table_id(base.table_ids["risk"]).build()
    assert gateway.client.bitable.v1.app_table.delete(req).success()  # (no `data` on this response)
    plan, res = run_init(base)
    (f,) = plan.findings
    assert f.kind == "table_missing" and f.table_name == "风险" and "表「风险」已被删除" in f.describe()
    assert "Risks" in f.describe("en") and plan.steps == []
    mark = sandbox.journal.mark()
    plan, res = run_init(res.binding, repair=True)
    assert plan.steps[0].op == "create_table" and not _no_deletes(writes(mark))
    tables = {t["name"]: t["table_id"] for t in Reader(gateway).tables(base.app_token)}
    assert tables["风险"] == res.binding.table_ids["risk"] != base.table_ids["risk"]
    names = {x["field_name"] for x in Reader(gateway).fields(base.app_token, tables["风险"])}
    assert names == {x.name for x in tables_for("gtm")["risk"].fields}
    assert rec in {r["record_id"] for r in Reader(gateway).records(base.app_token, base.table_ids["task"])}
    plan, _ = run_init(res.binding)
    assert plan.steps == [] and plan.findings == []


def test_changed_options_keep_the_users_own(sandbox, gateway, base, run_init, writes):
    prop = _field(gateway, base, "task", "status")["property"]
    before = {o["name"]: o["id"] for o in prop["options"]}
    opts = [o for o in prop["options"] if o["name"] != "阻塞"]
    for o in opts:
        if o["name"] == "已完成":
            o["name"] = "完工"
    opts.append({"name": "自定义", "color": 9})
    _update_field(gateway, base, "task", "status", {"field_name": "状态", "type": 3, "property": {"options": opts}})
    plan, res = run_init(base)
    (f,) = plan.findings
    assert f.kind == "options_changed" and "已完成、阻塞" in f.message and "完工" in f.message
    assert "自定义" in f.message and plan.steps == []
    mark = sandbox.journal.mark()
    plan, res = run_init(res.binding, repair=True)
    assert [s.op for s in plan.steps] == ["fix_options"] and len(writes(mark)) == 1
    after = {o["name"]: o["id"] for o in _field(gateway, base, "task", "status")["property"]["options"]}
    assert set(after) == {"未开始", "进行中", "已完成", "延期", "阻塞", "完工", "自定义"}
    assert after["完工"] == before["已完成"] and after["未开始"] == before["未开始"]  # ids kept
    plan, _ = run_init(res.binding)
    assert plan.findings == [] and plan.steps == []


def test_changed_type_is_reported_never_overwritten(sandbox, gateway, base, run_init, writes):
    _update_field(gateway, base, "milestone", "status", {"field_name": "状态", "type": 1})
    old_id = base.field_ids["milestone"]["status"]
    mark = sandbox.journal.mark()
    plan, res = run_init(base, repair=False)
    (f,) = plan.findings
    assert f.kind == "field_type_changed" and f.fixable
    assert "表「里程碑」的字段「状态」的类型被改为「文本」，应为「单选」" in f.message
    assert "Single select" in f.message_en and "Milestones" in f.message_en
    assert plan.steps == [] and writes(mark) == []
    # --repair sets the retyped field aside (its type and cells untouched) and creates the spec's field
    plan, res = run_init(base, repair=True)
    assert [s.op for s in plan.steps] == ["set_aside_field", "create_field"]
    fields = {x["field_id"]: x for x in Reader(gateway).fields(base.app_token, base.table_ids["milestone"])}
    assert fields[old_id]["type"] == 1 and fields[old_id]["field_name"] == "状态（旧·文本）"
    new_id = res.binding.field_ids["milestone"]["status"]
    assert new_id != old_id and fields[new_id]["type"] == 3 and fields[new_id]["field_name"] == "状态"
    plan, _ = run_init(res.binding)
    assert plan.findings == [] and plan.steps == []

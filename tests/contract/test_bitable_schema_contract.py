"""Contract: Bitable tables, fields (with select options) and views (docs/feishu-api.md §2, §3.3)."""
from __future__ import annotations

import pytest
from lark_oapi.api.bitable.v1 import (
    AppTableField, AppTableFieldProperty, AppTableFieldPropertyOption, CreateAppTableFieldRequest,
    CreateAppTableViewRequest, ListAppTableFieldRequest, ListAppTableViewRequest, ReqView, UpdateAppTableFieldRequest)

from gtm.sync.feishu.errors import FeishuError, NotFound
from tests.support.bitable_raw import FIELDS as KIT_FIELDS

FIELDS = KIT_FIELDS[:8]  # 标题 … 完成: the plain field types


def list_fields(target, table):
    req = ListAppTableFieldRequest.builder().app_token(target.app_token).table_id(table.table_id).page_size(100).build()
    return target.call("bitable.field.list", lambda: target.client.bitable.v1.app_table_field.list(req),
                       family="bitable.schema_read").items


def test_create_table_with_fields_then_list_them(target):
    table = target.new_table("schema", FIELDS)
    assert table.table_id.startswith("tbl") and len(table.field_ids) == len(FIELDS)
    assert table.name in [t["name"] for t in target.tables()]
    fields = list_fields(target, table)
    assert [f.field_name for f in fields] == [f[0] for f in FIELDS]
    assert [f.field_id for f in fields] == table.field_ids
    assert fields[0].is_primary is True and not any(f.is_primary for f in fields[1:])
    by_name = {f.field_name: f for f in fields}
    assert [(n, by_name[n].type) for n, *_ in FIELDS] == [(n, t) for n, t, *_ in FIELDS]
    assert by_name["进度"].ui_type == "Progress" and by_name["预算"].ui_type == "Currency"
    assert by_name["预算"].property.currency_code == "CNY"
    # select options come back with ids and colours; an explicit colour is kept
    opts = by_name["状态"].property.options
    assert [o.name for o in opts] == ["未开始", "进行中", "已完成"]
    assert all(o.id and o.id.startswith("opt") for o in opts) and len({o.id for o in opts}) == 3
    assert opts[1].color == 5 and all(isinstance(o.color, int) and 0 <= o.color <= 54 for o in opts)
    assert [o.name for o in by_name["标签"].property.options] == ["A", "B"]


def test_fields_create_update_delete_with_option_ids(target):
    table = target.new_table("fields", FIELDS)
    c, tok, tid = target.client, target.app_token, table.table_id

    def create(field: AppTableField):
        req = CreateAppTableFieldRequest.builder().app_token(tok).table_id(tid).request_body(field).build()
        return target.call("bitable.field.create", lambda: c.bitable.v1.app_table_field.create(req),
                           family="bitable.schema_write", retry_safe=False, write_table=tid).field

    prop = AppTableFieldProperty.builder().options([
        AppTableFieldPropertyOption.builder().name("高").color(1).build(),
        AppTableFieldPropertyOption.builder().name("中").build(),
        AppTableFieldPropertyOption.builder().name("低").build()]).build()
    made = create(AppTableField.builder().field_name("优先级").type(3).property(prop).build())
    assert made.field_id.startswith("fld") and made.field_name == "优先级" and made.type == 3
    high, mid, low = made.property.options
    assert high.color == 1 and all(o.id.startswith("opt") for o in (high, mid, low))
    # PUT replaces the whole definition: keep `中` by id under a new name, drop `低`, add `紧急`
    new_prop = AppTableFieldProperty.builder().options([
        AppTableFieldPropertyOption.builder().id(high.id).name("高").color(1).build(),
        AppTableFieldPropertyOption.builder().id(mid.id).name("普通").build(),
        AppTableFieldPropertyOption.builder().name("紧急").build()]).build()
    req = UpdateAppTableFieldRequest.builder().app_token(tok).table_id(tid).field_id(made.field_id).request_body(
        AppTableField.builder().field_name("优先级").type(3).property(new_prop).build()).build()
    updated = target.call("bitable.field.update", lambda: c.bitable.v1.app_table_field.update(req),
                          family="bitable.schema_write", write_table=tid).field
    got = [(o.id, o.name) for o in updated.property.options]
    assert got[:2] == [(high.id, "高"), (mid.id, "普通")] and got[2][1] == "紧急" and got[2][0] not in (low.id, None)
    assert [o["name"] for o in table.field("优先级")["property"]["options"]] == ["高", "普通", "紧急"]
    # a second field with the same name is refused
    with pytest.raises(FeishuError) as dup:
        create(AppTableField.builder().field_name("优先级").type(1).build())
    assert dup.value.code == 1254014
    # the primary field cannot be deleted; another one can
    with pytest.raises(FeishuError) as primary:
        table.call("DELETE", f"/fields/{table.field_ids[0]}", api="bitable.field.delete",
                   family="bitable.schema_write")
    assert primary.value.code == 1254046
    gone = table.call("DELETE", f"/fields/{made.field_id}", api="bitable.field.delete", family="bitable.schema_write")
    assert gone == {"field_id": made.field_id, "deleted": True}
    assert "优先级" not in [f.field_name for f in list_fields(target, table)]


def test_views_create_list_patch_delete(target):
    table = target.new_table("views", FIELDS, default_view="全部任务")
    c, tok, tid = target.client, target.app_token, table.table_id
    made = {}
    for name, vtype in (("表格", "grid"), ("看板", "kanban"), ("甘特", "gantt")):
        req = CreateAppTableViewRequest.builder().app_token(tok).table_id(tid).request_body(
            ReqView.builder().view_name(name).view_type(vtype).build()).build()
        view = target.call("bitable.view.create", lambda: c.bitable.v1.app_table_view.create(req),
                           family="bitable.schema_write", retry_safe=False, write_table=tid).view
        assert view.view_id.startswith("vew") and view.view_name == name and view.view_type == vtype
        made[vtype] = view.view_id
    req = ListAppTableViewRequest.builder().app_token(tok).table_id(tid).page_size(100).build()
    listed = target.call("bitable.view.list", lambda: c.bitable.v1.app_table_view.list(req),
                         family="bitable.schema_read").items
    assert [(v.view_name, v.view_type) for v in listed] == [
        ("全部任务", "grid"), ("表格", "grid"), ("看板", "kanban"), ("甘特", "gantt")]
    assert listed[0].view_id == table.default_view_id
    # rename the grid view and hide a field in it
    done_fid = table.field_ids[7]
    patched = table.call("PATCH", f"/views/{made['grid']}", {"view_name": "进行中的任务",
                                                             "property": {"hidden_fields": [done_fid]}},
                         api="bitable.view.patch", family="bitable.schema_write")["view"]
    assert patched["view_name"] == "进行中的任务" and patched["property"]["hidden_fields"] == [done_fid]
    got = table.call("GET", f"/views/{made['grid']}", api="bitable.view.get", family="bitable.schema_read")["view"]
    assert got["view_name"] == "进行中的任务" and got["view_type"] == "grid"
    assert got["property"]["hidden_fields"] == [done_fid]
    # delete: gone for get and list
    table.call("DELETE", f"/views/{made['kanban']}", api="bitable.view.delete", family="bitable.schema_write")
    with pytest.raises(NotFound) as nf:
        table.call("GET", f"/views/{made['kanban']}", api="bitable.view.get", family="bitable.schema_read")
    assert nf.value.code == 1254042
    left = table.call("GET", "/views", query={"page_size": 100}, api="bitable.view.list", family="bitable.schema_read")
    assert made["kanban"] not in [v["view_id"] for v in left["items"]] and left["total"] == 3

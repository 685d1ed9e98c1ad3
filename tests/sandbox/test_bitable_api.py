"""Bitable v1 in the sandbox, through the real lark-oapi client (docs/feishu-api.md §2–§5)."""
from __future__ import annotations

import threading
import uuid
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from lark_oapi.api.bitable.v1 import (
    AppTableFieldProperty, AppTableRecord, BatchCreateAppTableRecordRequest, BatchCreateAppTableRecordRequestBody,
    CreateAppTableFieldRequest, CreateAppTableViewRequest, DeleteAppTableFieldRequest, GetAppRequest,
    ListAppTableFieldRequest, ListAppTableRequest, ReqView, SearchAppTableRecordRequest,
    SearchAppTableRecordRequestBody, AppTableField, Condition, FilterInfo, Sort, UpdateAppTableFieldRequest,
    AppTableFieldPropertyOption)

from gtm.sandbox import SandboxConfig
from tests.support.bitable_raw import Tbl, create_base, create_table, raw

TZ = ZoneInfo("Asia/Shanghai")


def ms(y: int, m: int, d: int, h: int = 0) -> int:
    return int(datetime(y, m, d, h, tzinfo=TZ).timestamp() * 1000)


@pytest.fixture
def sandbox_config() -> SandboxConfig:
    return SandboxConfig(batch_limit=500)


@pytest.fixture
def tbl(lark_client) -> Tbl:
    app_token, _ = create_base(lark_client)
    table_id, field_ids = create_table(lark_client, app_token)
    return Tbl(lark_client, app_token, table_id, field_ids)


def test_app_create_get_update_and_default_table(lark_client, sandbox):
    app_token, default_table = create_base(lark_client, "发布计划")
    status, body, _ = raw(lark_client, "GET", f"/open-apis/bitable/v1/apps/{app_token}")
    assert body["data"]["app"]["is_advanced"] is False
    r = lark_client.bitable.v1.app.get(GetAppRequest.builder().app_token(app_token).build())
    assert r.code == 0 and r.data.app.name == "发布计划" and r.data.app.time_zone == "Asia/Shanghai"
    tables = lark_client.bitable.v1.app_table.list(ListAppTableRequest.builder().app_token(app_token).build())
    assert [t.table_id for t in tables.data.items] == [default_table]
    status, body, _ = raw(lark_client, "PUT", f"/open-apis/bitable/v1/apps/{app_token}", {"is_advanced": True, "name": "新名"})
    assert body["data"]["app"] == {"app_token": app_token, "name": "新名", "is_advanced": True, "time_zone": "Asia/Shanghai"}
    # URL built from the tenant domain
    status, body, _ = raw(lark_client, "POST", "/open-apis/bitable/v1/apps", {"name": "x"})
    assert body["data"]["app"]["url"] == f"https://sandbox.feishu.cn/base/{body['data']['app']['app_token']}"


def test_tables_create_patch_delete_and_paging(tbl: Tbl):
    c, base = tbl.client, f"/open-apis/bitable/v1/apps/{tbl.app_token}/tables"
    assert raw(c, "POST", base, {"table": {"name": "任务"}})[1]["code"] == 1254013
    s, body, _ = raw(c, "POST", base + "/batch_create", {"tables": [{"name": f"t{i}"} for i in range(3)]})
    assert len(body["data"]["table_ids"]) == 3
    s, page1, _ = raw(c, "GET", base, query={"page_size": 2})
    assert page1["data"]["has_more"] is True and page1["data"]["total"] == 5 and len(page1["data"]["items"]) == 2
    s, page2, _ = raw(c, "GET", base, query={"page_size": 100, "page_token": page1["data"]["page_token"]})
    assert page2["data"]["has_more"] is False and "page_token" not in page2["data"] and len(page2["data"]["items"]) == 3
    tid = body["data"]["table_ids"][0]
    assert raw(c, "PATCH", f"{base}/{tid}", {"name": "改名"})[1]["data"] == {"name": "改名"}
    assert raw(c, "DELETE", f"{base}/{tid}")[1]["code"] == 0
    assert raw(c, "PATCH", f"{base}/{tid}", {"name": "x"})[1]["code"] == 1254041
    # default_view_name without fields is refused
    assert raw(c, "POST", base, {"table": {"name": "n", "default_view_name": "v"}})[1]["code"] == 1254001


def test_fields_create_update_delete_and_primary_rules(tbl: Tbl):
    c = tbl.client
    lst = c.bitable.v1.app_table_field.list(ListAppTableFieldRequest.builder().app_token(tbl.app_token)
                                             .table_id(tbl.table_id).page_size(100).build())
    assert lst.code == 0 and lst.data.total == 18 and lst.data.items[0].is_primary is True
    status = next(f for f in lst.data.items if f.field_name == "状态")
    assert [(o.name, o.color) for o in status.property.options] == [("未开始", 0), ("进行中", 5), ("已完成", 6)]
    assert all(o.id.startswith("opt") for o in status.property.options)
    # paging by field id
    p1 = tbl.call("GET", "/fields", query={"page_size": 10})[1]["data"]
    p2 = tbl.call("GET", "/fields", query={"page_size": 10, "page_token": p1["page_token"]})[1]["data"]
    assert len(p1["items"]) == 10 and len(p2["items"]) == 8 and not p2["has_more"]
    # PUT is a full replace: keep one option by id (renamed), drop one, add one
    keep = status.property.options[1]
    new_prop = AppTableFieldProperty.builder().options([
        AppTableFieldPropertyOption.builder().id(keep.id).name("处理中").build(),
        AppTableFieldPropertyOption.builder().name("阻塞").build()]).build()
    r = c.bitable.v1.app_table_field.update(UpdateAppTableFieldRequest.builder().app_token(tbl.app_token)
                                             .table_id(tbl.table_id).field_id(status.field_id).request_body(
        AppTableField.builder().field_name("状态").type(3).property(new_prop).build()).build())
    assert r.code == 0, r.msg
    assert [(o.id == keep.id, o.name, o.color) for o in r.data.field.property.options] == [(True, "处理中", 5), (False, "阻塞", 6)]
    # same definition again → DataNotChange
    same = tbl.call("PUT", f"/fields/{status.field_id}", {"field_name": "状态", "type": 3, "property": {
        "options": [{"id": o.id, "name": o.name, "color": o.color} for o in r.data.field.property.options]}})[1]
    assert same["code"] == 1254606
    created = c.bitable.v1.app_table_field.create(CreateAppTableFieldRequest.builder().app_token(tbl.app_token)
                                                   .table_id(tbl.table_id).request_body(
        AppTableField.builder().field_name("备注").type(1).build()).build())
    assert created.code == 0 and created.data.field.field_name == "备注"
    assert tbl.call("POST", "/fields", {"field_name": "备注", "type": 1})[1]["code"] == 1254014
    assert tbl.call("POST", "/fields", {"field_name": "", "type": 1})[1]["code"] == 1254028
    primary = lst.data.items[0].field_id
    d = c.bitable.v1.app_table_field.delete(DeleteAppTableFieldRequest.builder().app_token(tbl.app_token)
                                             .table_id(tbl.table_id).field_id(primary).build())
    assert d.code == 1254046
    assert tbl.call("PUT", f"/fields/{primary}", {"field_name": "标题", "type": 3})[1]["code"] == 1254001
    d = tbl.call("DELETE", f"/fields/{created.data.field.field_id}")[1]
    assert d["data"] == {"field_id": created.data.field.field_id, "deleted": True}


def test_views_crud_rules_and_filter_info(tbl: Tbl):
    c = tbl.client
    r = c.bitable.v1.app_table_view.create(CreateAppTableViewRequest.builder().app_token(tbl.app_token)
                                            .table_id(tbl.table_id).request_body(
        ReqView.builder().view_name("看板").view_type("kanban").build()).build())
    assert r.code == 0 and r.data.view.view_type == "kanban"
    vid = r.data.view.view_id
    assert tbl.call("POST", "/views", {"view_name": "看板"})[1]["code"] == 1254020
    assert tbl.call("POST", "/views", {"view_name": "a[b]"})[1]["code"] == 1254022
    assert tbl.call("POST", "/views", {"view_name": ""})[1]["code"] == 1254021
    assert tbl.call("POST", "/views", {"view_name": "x", "view_type": "pivot"})[1]["code"] == 1254019
    for vt in ("gallery", "gantt", "form", "grid"):
        assert tbl.call("POST", "/views", {"view_name": vt, "view_type": vt})[1]["code"] == 0
    status_fid, done_fid = tbl.field_ids[4], tbl.field_ids[7]
    body = {"property": {"filter_info": {"conjunction": "and", "conditions": [
        {"field_id": status_fid, "operator": "is", "value": '["进行中"]'}]}, "hidden_fields": [done_fid]}}
    p = tbl.call("PATCH", f"/views/{vid}", body)[1]
    assert p["code"] == 0 and p["data"]["view"]["property"]["hidden_fields"] == [done_fid]
    cond = p["data"]["view"]["property"]["filter_info"]["conditions"][0]
    assert cond["field_id"] == status_fid and cond["value"] == '["进行中"]' and cond["condition_id"]
    got = tbl.call("GET", f"/views/{vid}")[1]["data"]["view"]
    assert got["view_name"] == "看板" and got["property"]["filter_info"]["conjunction"] == "and"
    # the view filter applies to search with view_id
    tbl.create({"标题": "a", "状态": "进行中"})
    tbl.create({"标题": "b", "状态": "未开始"})
    found = tbl.search({"view_id": vid})["data"]
    assert [i["fields"]["标题"][0]["text"] for i in found["items"]] == ["a"]
    lst = tbl.call("GET", "/views", query={"page_size": 3})[1]["data"]
    assert lst["total"] == 6 and lst["has_more"] and lst["page_token"]
    assert tbl.call("DELETE", f"/views/{vid}")[1] == {"code": 0, "msg": "success", "data": {}}
    assert tbl.call("GET", f"/views/{vid}")[1]["code"] == 1254042


def test_values_write_and_read_every_type(tbl: Tbl, seed, sandbox):
    due = ms(2026, 12, 1, 10)
    fields = {"标题": "发布会", "数量": 3, "进度": 0.25, "预算": 1250.5, "状态": "新状态", "标签": ["A", "C"],
              "截止日期": due, "完成": True, "负责人": [{"id": seed.users["pm"]}],
              "链接": {"text": "文档", "link": "https://example.com/doc"}, "电话": "+8613800000000",
              "群": [{"id": seed.chat_id}]}
    r = tbl.create(fields)
    assert r["code"] == 0 and r["data"]["record"]["fields"] == fields  # create echoes the write format
    rid = r["data"]["record"]["record_id"]
    got = tbl.call("POST", "/records/batch_get", {"record_ids": [rid, "recMissing"], "automatic_fields": True})[1]["data"]
    assert got["absent_record_ids"] == ["recMissing"]
    f = got["records"][0]["fields"]
    assert f["标题"] == [{"type": "text", "text": "发布会"}]
    assert (f["数量"], f["进度"], f["预算"], f["状态"], f["标签"], f["截止日期"], f["完成"]) == \
        (3, 0.25, 1250.5, "新状态", ["A", "C"], due, True)
    assert f["负责人"][0]["id"] == seed.users["pm"] and f["负责人"][0]["name"] == "张伟"
    assert f["链接"] == {"text": "文档", "link": "https://example.com/doc"} and f["电话"] == "+8613800000000"
    assert f["群"][0]["id"] == seed.chat_id and f["群"][0]["name"]
    assert f["修改时间"] == got["records"][0]["last_modified_time"] and f["创建时间"] > 0
    assert f["创建人"][0]["id"] == seed.bot_open_id and f["编号"] == "1" and "公式" not in f
    # unknown option names created options with ids and colours
    opts = next(x for x in tbl.call("GET", "/fields", query={"page_size": 100})[1]["data"]["items"]
                if x["field_name"] == "状态")["property"]["options"]
    assert opts[-1]["name"] == "新状态" and opts[-1]["color"] == 7
    # user_id_type=user_id on write and read (batch_get takes it in the body)
    uid = sandbox.world.users[seed.users["pm"]].user_id
    r2 = tbl.create({"标题": "u", "负责人": [{"id": uid}]}, user_id_type="user_id")
    assert r2["code"] == 0
    got2 = tbl.call("POST", "/records/batch_get", {"record_ids": [r2["data"]["record"]["record_id"]],
                                                   "user_id_type": "user_id"})[1]["data"]
    assert got2["records"][0]["fields"]["负责人"][0]["id"] == uid
    # partial update keeps other cells, null clears
    u = tbl.call("PUT", f"/records/{rid}", {"fields": {"数量": 4, "电话": None}})[1]
    assert u["code"] == 0
    after = tbl.call("POST", "/records/batch_get", {"record_ids": [rid]})[1]["data"]["records"][0]["fields"]
    assert after["数量"] == 4 and "电话" not in after and after["状态"] == "新状态"
    # deprecated get answers the record
    g = tbl.call("GET", f"/records/{rid}")[1]
    assert g["data"]["record"]["record_id"] == rid


@pytest.mark.parametrize("name,value,code", [
    ("标题", 5, 1254060), ("数量", "3", 1254061), ("状态", ["x"], 1254062), ("标签", "A", 1254063),
    ("截止日期", "2026-01-01", 1254064), ("完成", "yes", 1254065), ("负责人", "ou_x", 1254066),
    ("负责人", [{"id": "ou_nobody"}], 1254066), ("链接", "https://x", 1254068), ("电话", "abc", 1254072),
    ("不存在", "x", 1254045), ("公式", "x", 1254015), ("修改时间", 1, 1254015),
])
def test_wrong_shapes_get_documented_codes(tbl: Tbl, name, value, code):
    r = tbl.create({name: value})
    assert r["code"] == code and name in r["msg"]
    assert tbl.search()["data"]["total"] == 0  # nothing written


def test_links_read_as_link_record_ids(tbl: Tbl):
    other, _ = create_table(tbl.client, tbl.app_token, "里程碑", [("名称", 1, None, None)])
    t2 = Tbl(tbl.client, tbl.app_token, other, [])
    a = t2.create({"名称": "M1"})["data"]["record"]["record_id"]
    f = tbl.call("POST", "/fields", {"field_name": "里程碑", "type": 18, "property": {"table_id": other}})[1]
    assert f["code"] == 0 and f["data"]["field"]["property"]["table_name"] == "里程碑"
    d = tbl.call("POST", "/fields", {"field_name": "双向", "type": 21,
                                     "property": {"table_id": other, "back_field_name": "任务"}})[1]
    assert d["code"] == 0 and d["data"]["field"]["property"]["back_field_id"]
    r = tbl.create({"标题": "t", "里程碑": [a], "双向": {"link_record_ids": [a]}})
    assert r["code"] == 0
    got = tbl.search()["data"]["items"][0]["fields"]
    assert got["里程碑"] == {"link_record_ids": [a]} and got["双向"] == {"link_record_ids": [a]}
    assert tbl.create({"里程碑": ["recNope"]})["code"] == 1254067
    legacy = tbl.call("GET", "/records")[1]["data"]["items"][0]["fields"]["里程碑"]
    assert legacy[0]["record_ids"] == [a] and legacy[0]["text"] == "M1"


def test_search_pagination_over_1200_records(tbl: Tbl):
    c = tbl.client
    for chunk in range(3):
        recs = [AppTableRecord.builder().fields({"标题": f"r{chunk * 400 + i:04d}", "数量": chunk * 400 + i}).build()
                for i in range(400)]
        r = c.bitable.v1.app_table_record.batch_create(BatchCreateAppTableRecordRequest.builder()
                                                        .app_token(tbl.app_token).table_id(tbl.table_id).request_body(
            BatchCreateAppTableRecordRequestBody.builder().records(recs).build()).build())
        assert r.code == 0 and len(r.data.records) == 400
    seen, token, pages = [], None, 0
    while True:
        b = SearchAppTableRecordRequest.builder().app_token(tbl.app_token).table_id(tbl.table_id).page_size(500)
        if token:
            b = b.page_token(token)
        r = c.bitable.v1.app_table_record.search(b.request_body(SearchAppTableRecordRequestBody.builder().sort(
            [Sort.builder().field_name("数量").desc(True).build()]).field_names(["数量"]).build()).build())
        assert r.code == 0 and r.data.total == 1200
        seen += [i.fields["数量"] for i in r.data.items]
        pages += 1
        if not r.data.has_more:
            assert r.data.page_token is None
            break
        token = r.data.page_token
    assert pages == 3 and seen == list(range(1199, -1, -1))
    assert tbl.search(page_size=20)["data"]["items"].__len__() == 20
    assert tbl.search()["data"]["page_token"]  # default page size 20 → more
    assert tbl.search(page_size=501)["code"] == 1254011
    assert tbl.search(page_token="garbage")["code"] == 1254002


def test_batch_limits_and_batch_update_delete(tbl: Tbl):
    over = tbl.call("POST", "/records/batch_create", {"records": [{"fields": {"标题": "x"}}] * 501})[1]
    assert over["code"] == 1254104
    made = tbl.call("POST", "/records/batch_create", {"records": [{"fields": {"标题": str(i)}} for i in range(500)]})[1]
    ids = [r["record_id"] for r in made["data"]["records"]]
    assert tbl.call("POST", "/records/batch_update", {"records": [{"record_id": i, "fields": {}} for i in ids] * 2})[1]["code"] == 1254104
    bad = tbl.call("POST", "/records/batch_update", {"records": [{"record_id": ids[0], "fields": {"数量": 1}},
                                                                 {"record_id": ids[1], "fields": {"数量": "x"}}]})[1]
    assert bad["code"] == 1254061 and "records[1]" in bad["msg"]
    assert "数量" not in tbl.call("POST", "/records/batch_get", {"record_ids": ids[:1]})[1]["data"]["records"][0]["fields"]
    ok = tbl.call("POST", "/records/batch_update", {"records": [{"record_id": i, "fields": {"数量": 7}} for i in ids[:3]]})[1]
    assert ok["code"] == 0 and len(ok["data"]["records"]) == 3
    assert tbl.call("POST", "/records/batch_get", {"record_ids": ["r"] * 101})[1]["code"] == 1254001
    assert tbl.call("POST", "/records/batch_delete", {"records": ids + ["x"]})[1]["code"] == 1254104
    d = tbl.call("POST", "/records/batch_delete", {"records": ids[:10]})[1]
    assert d["data"]["records"][0] == {"deleted": True, "record_id": ids[0]}
    assert tbl.search()["data"]["total"] == 490
    one = tbl.call("DELETE", f"/records/{ids[10]}")[1]
    assert one["data"] == {"deleted": True, "record_id": ids[10]}
    assert tbl.call("DELETE", f"/records/{ids[10]}")[1]["code"] == 1254043


def test_client_token_idempotency(tbl: Tbl, sandbox):
    tok = str(uuid.uuid4())
    a = tbl.create({"标题": "一次"}, client_token=tok)
    b = tbl.create({"标题": "一次"}, client_token=tok)
    assert a["code"] == 0 and a == b
    assert tbl.search()["data"]["total"] == 1
    assert tbl.create({"标题": "别的"}, client_token=tok)["code"] == 1255006
    assert tbl.create({"标题": "x"}, client_token="not-a-uuid")["code"] == 1254037
    body = {"records": [{"fields": {"标题": "批"}}] * 3}
    x = tbl.call("POST", "/records/batch_create", body, {"client_token": str(uuid.uuid4())})
    tok2 = str(uuid.uuid4())
    y1 = tbl.call("POST", "/records/batch_create", body, {"client_token": tok2})[1]
    y2 = tbl.call("POST", "/records/batch_create", body, {"client_token": tok2})[1]
    assert x[1]["code"] == 0 and y1 == y2 and tbl.search()["data"]["total"] == 7


def test_concurrent_writes_to_one_table_conflict(tbl: Tbl, sandbox):
    sandbox.config.bitable_write_ms = 300
    results = []
    barrier = threading.Barrier(2)

    def write(i):
        barrier.wait()
        results.append(tbl.create({"标题": f"c{i}"})["code"])

    threads = [threading.Thread(target=write, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert sorted(results) == [0, 1254291]
    sandbox.config.bitable_write_ms = 0
    assert tbl.create({"标题": "after"})["code"] == 0


def test_filters_operators_dates_and_keywords(tbl: Tbl, sandbox, seed):
    now = ms(2026, 11, 22, 15)  # a Sunday
    sandbox.bitable.fixed_now_ms = now
    rows = [("a", 1, "进行中", ms(2026, 11, 21, 9), True, ["A"]), ("b", 5, "未开始", ms(2026, 11, 22, 23), False, ["A", "B"]),
            ("c", 10, "已完成", ms(2026, 11, 23, 0), False, []), ("d", None, None, None, False, ["B"])]
    for title, n, st, due, done, tags in rows:
        f = {"标题": title, "截止日期": due, "完成": done, "标签": tags}
        if n is not None:
            f["数量"] = n
        if st:
            f["状态"] = st
        assert tbl.create(f)["code"] == 0

    def titles(conds, conj="and", children=None, sort=None):
        flt = {"conjunction": conj, "conditions": conds}
        if children:
            flt["children"] = children
        body = {"filter": flt}
        if sort:
            body["sort"] = sort
        d = tbl.search(body)
        assert d["code"] == 0, d
        return [i["fields"]["标题"][0]["text"] for i in d["data"]["items"]]

    def c(field, op, *v):
        return {"field_name": field, "operator": op, "value": list(v)}

    assert titles([c("状态", "is", "进行中")]) == ["a"]
    assert titles([c("状态", "isNot", "进行中")]) == ["b", "c", "d"]
    assert titles([c("标题", "contains", "A")]) == ["a"]
    assert titles([c("标签", "contains", "B")]) == ["b", "d"]
    assert titles([c("标签", "doesNotContain", "A")]) == ["c", "d"]
    assert titles([c("数量", "isEmpty")]) == ["d"]
    assert titles([c("数量", "isNotEmpty")]) == ["a", "b", "c"]
    assert titles([c("数量", "isGreater", "1")]) == ["b", "c"]
    assert titles([c("数量", "isGreaterEqual", "5"), c("数量", "isLessEqual", "5")]) == ["b"]
    assert titles([c("数量", "isLess", "5")], sort=[{"field_name": "标题", "desc": True}]) == ["a"]
    assert titles([c("完成", "is", "true")]) == ["a"]
    assert titles([c("截止日期", "is", "Today")]) == ["b"]
    assert titles([c("截止日期", "is", "Yesterday")]) == ["a"]
    assert titles([c("截止日期", "is", "Tomorrow")]) == ["c"]
    assert titles([c("截止日期", "isLess", "Today")]) == ["a"]
    assert titles([c("截止日期", "isGreater", "Today")]) == ["c"]
    assert titles([c("截止日期", "is", "ExactDate", str(ms(2026, 11, 22, 8)))]) == ["b"]
    assert titles([c("截止日期", "isGreater", "ExactDate", str(ms(2026, 11, 21, 23)))]) == ["b", "c"]
    assert titles([c("截止日期", "isLess", "ExactDate", str(ms(2026, 11, 22, 12)))]) == ["a"]
    assert titles([c("截止日期", "is", "CurrentWeek")]) == ["a", "b"]  # Mon 16 – Sun 22
    assert titles([c("截止日期", "is", "TheNextWeek")]) == ["b", "c"]
    assert titles([c("截止日期", "is", "CurrentMonth")]) == ["a", "b", "c"]
    assert titles([c("截止日期", "isEmpty")]) == ["d"]
    assert titles([c("状态", "is", "已完成")], "or", [{"conjunction": "and", "conditions": [c("数量", "is", "1")]}]) == ["a", "c"]
    assert titles([], sort=[{"field_name": "状态"}, {"field_name": "数量", "desc": True}]) == ["d", "b", "a", "c"]
    # ModifiedTime filters on the record's last_modified_time
    rid = tbl.search()["data"]["items"][0]["record_id"]
    sandbox.bitable.set_modified(tbl.app_token, tbl.table_id, rid, ms(2026, 11, 1, 12))
    assert titles([c("修改时间", "isLess", "ExactDate", str(ms(2026, 11, 10)))]) == ["a"]
    # errors
    bad = tbl.search({"filter": {"conjunction": "and", "conditions": [c("截止日期", "isGreater", "CurrentWeek")]}})
    assert bad["code"] == 1254018
    assert tbl.search({"filter": {"conditions": [c("数量", "is", "1")]}})["code"] == 1254018
    assert tbl.search({"filter": {"conjunction": "and", "conditions": [c("无此字段", "is", "1")]}})["code"] == 1254045
    assert tbl.search({"filter": {"conjunction": "and", "conditions": [
        {"field_name": "数量", "operator": "isEmpty"}]}})["code"] == 1254018
    assert tbl.search({"sort": [{"field_name": "无"}]})["code"] == 1254016
    assert tbl.search({"field_names": ["无"]})["code"] == 1254045
    typed = tbl.client.bitable.v1.app_table_record.search(
        SearchAppTableRecordRequest.builder().app_token(tbl.app_token).table_id(tbl.table_id).request_body(
            SearchAppTableRecordRequestBody.builder().filter(FilterInfo.builder().conjunction("and").conditions(
                [Condition.builder().field_name("状态").operator("is").value(["未开始"]).build()]).build()).build()).build())
    assert typed.code == 0 and typed.data.total == 1


def test_errors_are_feishu_json(tbl: Tbl, sandbox):
    import requests

    for method, path in [("GET", "/open-apis/bitable/v1/nope"), ("POST", "/open-apis/unknown")]:
        r = requests.request(method, sandbox.url + path, timeout=5)
        assert r.headers["Content-Type"].startswith("application/json") and "code" in r.json()
    r = requests.post(sandbox.url + tbl.uri("/records/search"), timeout=5)
    assert r.json()["code"] == 99991661
    assert raw(tbl.client, "GET", "/open-apis/bitable/v1/apps/basNope")[1]["code"] == 1254040
    assert tbl.call("POST", "/records", "not json")[1]["code"] in (1254000, 1254001)
    assert tbl.call("PUT", "/records/recNope", {"fields": {}})[1]["code"] == 1254043


def test_control_api_reads_and_deleted_base(tbl: Tbl, sandbox):
    import requests

    tbl.create({"标题": "控"})
    bases = requests.get(sandbox.url + "/_sandbox/bitable/bases", timeout=5).json()["data"]["items"]
    assert any(b["app_token"] == tbl.app_token for b in bases)
    recs = requests.get(f"{sandbox.url}/_sandbox/bitable/bases/{tbl.app_token}/tables/{tbl.table_id}/records",
                        timeout=5).json()["data"]["items"]
    assert recs[0]["fields"]["标题"] == [{"type": "text", "text": "控"}]
    assert sandbox.bitable.find_table(tbl.app_token, "任务").table_id == tbl.table_id
    requests.delete(f"{sandbox.url}/_sandbox/bitable/bases/{tbl.app_token}", timeout=5)
    assert tbl.search()["code"] == 1254040


def test_state_round_trip(tbl: Tbl, sandbox, tmp_path):
    from gtm.sandbox.bitable.store import BitableStore

    tbl.create({"标题": "持久", "状态": "进行中"})
    data = sandbox.world.to_json()["extra"]["bitable"]
    st = BitableStore.from_json(data)
    t = st.bases[tbl.app_token].tables[tbl.table_id]
    assert len(t.records) == 1 and t.field_by_name("状态").option_by_name("进行中")


def test_search_filters_each_record_once_and_pages_from_the_result(lark_client, sandbox, monkeypatch):
    """Later pages come from the remembered result: the filter is compiled once and each record is
    tested once for the whole paging, however many pages (speed figures: `python -m gtm.benchmarks`)."""
    import requests

    from gtm.sandbox.bitable import records as bitable_mod

    compiled, tested = [], []
    real_compile = bitable_mod.compile_filter

    def counting_compile(*args, **kw):
        pred = real_compile(*args, **kw)
        compiled.append(pred)
        if pred is None:
            return None

        def counted(rec):
            tested.append(1)
            return pred(rec)

        return counted

    monkeypatch.setattr(bitable_mod, "compile_filter", counting_compile)
    rows = 5_000

    app_token, _ = create_base(lark_client)
    table_id, _ = create_table(lark_client, app_token, "大表", [("标题", 1, None, None), ("数量", 2, None, None)])
    svc = sandbox.bitable
    with sandbox.world.lock:
        t = svc.store.bases[app_token].tables[table_id]
        fid = list(t.fields)
        for i in range(rows):
            svc.store.new_record(t, {fid[0]: f"row{i}", fid[1]: i % 97}, "ou_sandbox_bot")
    token = lark_client._config.token_manager.get_self_tenant_token(lark_client._config) \
        if hasattr(lark_client._config, "token_manager") else None
    if token is None:
        from lark_oapi.core.token.manager import TokenManager
        token = TokenManager.get_self_tenant_token(lark_client._config)
    url = f"{sandbox.url}/open-apis/bitable/v1/apps/{app_token}/tables/{table_id}/records/search"
    sess = requests.Session()
    sess.headers["Authorization"] = f"Bearer {token}"
    pages, page_token, n = 0, None, 0
    while True:
        q = {"page_size": 500}
        if page_token:
            q["page_token"] = page_token
        d = sess.post(url, params=q, json={"filter": {"conjunction": "and", "conditions": [
            {"field_name": "数量", "operator": "isLess", "value": ["50"]}]}}).json()["data"]
        pages += 1
        assert pages <= rows // 500 + 1, "paging does not end"
        n += len(d["items"])
        if not d["has_more"]:
            break
        page_token = d["page_token"]
    assert n == sum(1 for i in range(rows) if i % 97 < 50)
    assert pages == -(-n // 500) and pages > 1
    assert len(compiled) == 1 and compiled[0] is not None  # one query, however many pages
    assert len(tested) == rows  # every record tested once, not once per page

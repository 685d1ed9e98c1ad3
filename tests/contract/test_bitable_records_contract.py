"""Contract: Bitable records — CRUD, batches, search, paging, value formats, idempotency, limits
(docs/feishu-api.md §2.2–§3.2, §5.3)."""
from __future__ import annotations

import uuid
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from lark_oapi.api.bitable.v1 import (
    AppTableRecord, BatchCreateAppTableRecordRequest, BatchCreateAppTableRecordRequestBody,
    CreateAppTableRecordRequest, DeleteAppTableRecordRequest, GetAppTableRecordRequest, SearchAppTableRecordRequest,
    SearchAppTableRecordRequestBody, Sort, UpdateAppTableRecordRequest)

from gtm.sync.feishu.errors import FeishuError, NotFound
from tests.support.bitable_raw import FIELDS as KIT_FIELDS

TZ = ZoneInfo("Asia/Shanghai")
FIELDS = [*KIT_FIELDS[:10], ("修改时间", 1002, None, {"date_formatter": "yyyy/MM/dd"})]  # 标题 … 链接


def ms(y: int, m: int, d: int, h: int = 0) -> int:
    return int(datetime(y, m, d, h, tzinfo=TZ).timestamp() * 1000)


def titles(items) -> list[str]:
    return [i["fields"]["标题"][0]["text"] for i in items]


def test_record_create_get_update_delete(target):
    t = target.new_table("crud", FIELDS)
    c, tok, tid = target.client, target.app_token, t.table_id
    req = CreateAppTableRecordRequest.builder().app_token(tok).table_id(tid).client_token(str(uuid.uuid4())) \
        .request_body(AppTableRecord.builder().fields({"标题": "发布会", "数量": 3, "状态": "进行中"}).build()).build()
    rec = target.call("bitable.record.create", lambda: c.bitable.v1.app_table_record.create(req),
                      family="bitable.write", write_table=tid).record
    rid = rec.record_id
    assert rid.startswith("rec")

    def get():
        g = GetAppTableRecordRequest.builder().app_token(tok).table_id(tid).record_id(rid).build()
        return target.call("bitable.record.get", lambda: c.bitable.v1.app_table_record.get(g),
                           family="bitable.read").record

    got = get()
    assert got.record_id == rid and got.fields["数量"] == 3 and got.fields["状态"] == "进行中"
    # update is partial: untouched cells stay. Beware: the typed SDK model drops `None` values
    # when it serialises, so a typed update cannot clear a cell ...
    upd = UpdateAppTableRecordRequest.builder().app_token(tok).table_id(tid).record_id(rid).request_body(
        AppTableRecord.builder().fields({"数量": 4, "状态": None}).build()).build()
    target.call("bitable.record.update", lambda: c.bitable.v1.app_table_record.update(upd),
                family="bitable.write", write_table=tid)
    after = get().fields
    assert after["数量"] == 4 and after["状态"] == "进行中" and after["标题"][0]["text"] == "发布会"
    # ... while a JSON null on the wire does clear it
    t.call("PUT", f"/records/{rid}", {"fields": {"状态": None}}, api="bitable.record.update", family="bitable.write")
    after = get().fields
    assert "状态" not in after and after["数量"] == 4
    dele = DeleteAppTableRecordRequest.builder().app_token(tok).table_id(tid).record_id(rid).build()
    gone = target.call("bitable.record.delete", lambda: c.bitable.v1.app_table_record.delete(dele),
                       family="bitable.write", write_table=tid)
    assert gone.deleted is True and gone.record_id == rid
    with pytest.raises(NotFound) as nf:
        get()
    assert nf.value.code == 1254043
    assert t.search()["total"] == 0


def test_batch_create_update_get_delete_within_limits(target):
    t = target.new_table("batch", FIELDS)
    made = t.call("POST", "/records/batch_create", {"records": [{"fields": {"标题": f"b{i:02d}", "数量": i}}
                                                                for i in range(60)]},
                  {"client_token": str(uuid.uuid4())}, api="bitable.record.batch_create", family="bitable.write")
    ids = [r["record_id"] for r in made["records"]]
    assert len(ids) == 60 == len(set(ids))
    upd = t.call("POST", "/records/batch_update", {"records": [{"record_id": i, "fields": {"完成": True}}
                                                               for i in ids[:30]]},
                 api="bitable.record.batch_update", family="bitable.write")
    assert sorted(r["record_id"] for r in upd["records"]) == sorted(ids[:30])
    got = t.batch_get(ids[:100] + ["recNotThere0"])
    assert len(got["records"]) == 60 and got.get("absent_record_ids") == ["recNotThere0"]
    done = {r["record_id"] for r in got["records"] if r["fields"].get("完成") is True}
    assert done == set(ids[:30])
    with pytest.raises(FeishuError):  # batch_get takes 1–100 ids
        t.batch_get(ids + ids[:41])
    dele = t.call("POST", "/records/batch_delete", {"records": ids[:45]}, api="bitable.record.batch_delete",
                  family="bitable.write")
    assert {r["record_id"] for r in dele["records"]} == set(ids[:45]) and all(r["deleted"] for r in dele["records"])
    assert t.search()["total"] == 15


def test_search_filter_sort_field_names_automatic_fields(target):
    t = target.new_table("search", FIELDS)
    rows = [("a", 1, "进行中"), ("b", 5, "进行中"), ("c", 9, "进行中"), ("d", 7, "未开始"), ("e", 3, "已完成")]
    t.call("POST", "/records/batch_create", {"records": [{"fields": {"标题": n, "数量": q, "状态": s}} for n, q, s in rows]},
           api="bitable.record.batch_create", family="bitable.write")
    body = {"filter": {"conjunction": "and", "conditions": [
        {"field_name": "状态", "operator": "is", "value": ["进行中"]},
        {"field_name": "数量", "operator": "isGreater", "value": ["1"]}]},
        "sort": [{"field_name": "数量", "desc": True}], "field_names": ["标题", "数量"], "automatic_fields": True}
    found = t.search(body, page_size=100)
    assert found["total"] == 2 and found["has_more"] is False and not found.get("page_token")
    assert titles(found["items"]) == ["c", "b"]
    item = found["items"][0]
    assert set(item["fields"]) == {"标题", "数量"} and item["fields"]["数量"] == 9
    assert item["record_id"].startswith("rec")
    assert isinstance(item["created_time"], int) and isinstance(item["last_modified_time"], int)
    assert item["created_by"]["id"]  # the app's bot identity
    # `or`, isEmpty with an explicit empty value list, and ascending sort
    either = t.search({"filter": {"conjunction": "or", "conditions": [
        {"field_name": "状态", "operator": "is", "value": ["已完成"]},
        {"field_name": "数量", "operator": "isLess", "value": ["2"]}]},
        "sort": [{"field_name": "数量", "desc": False}]})
    assert titles(either["items"]) == ["a", "e"]
    assert t.search({"filter": {"conjunction": "and", "conditions": [
        {"field_name": "截止日期", "operator": "isEmpty", "value": []}]}})["total"] == 5
    with pytest.raises(FeishuError) as bad:
        t.search({"sort": [{"field_name": "没有这个字段"}]})
    assert bad.value.code in (1254016, 1254045)  # InvalidSort / FieldNameNotFound


def test_search_pages_over_1050_records(target):
    """Paging past 1,000 records (live: 1,050 records, removed with the table)."""
    t = target.new_table("paging", [("标题", 1, None, None), ("数量", 2, None, {"formatter": "0"})])
    c, tok, tid = target.client, target.app_token, t.table_id
    n, chunk = 1050, 500  # 500 fits both documented batch limits
    for start in range(0, n, chunk):
        recs = [AppTableRecord.builder().fields({"标题": f"r{i:04d}", "数量": i}).build()
                for i in range(start, min(n, start + chunk))]
        req = BatchCreateAppTableRecordRequest.builder().app_token(tok).table_id(tid).client_token(str(uuid.uuid4())) \
            .request_body(BatchCreateAppTableRecordRequestBody.builder().records(recs).build()).build()
        made = target.call("bitable.record.batch_create", lambda: c.bitable.v1.app_table_record.batch_create(req),
                           family="bitable.write", write_table=tid)
        assert len(made.records) == len(recs)
    seen, token, pages = [], None, 0
    while True:
        b = SearchAppTableRecordRequest.builder().app_token(tok).table_id(tid).page_size(500)
        if token:
            b = b.page_token(token)
        req = b.request_body(SearchAppTableRecordRequestBody.builder().sort(
            [Sort.builder().field_name("数量").desc(True).build()]).field_names(["数量"]).build()).build()
        data = target.call("bitable.record.search", lambda: c.bitable.v1.app_table_record.search(req),
                           family="bitable.read")
        assert data.total == n
        seen += [int(i.fields["数量"]) for i in data.items]
        pages += 1
        if not data.has_more:
            assert not data.page_token  # present only while has_more
            break
        token = data.page_token
    assert seen == list(range(n - 1, -1, -1)) and pages == 3
    # the gateway's count works on both targets; the sandbox journal confirms it on the wire
    assert target.gateway.stats.calls["bitable.record.search"] == 3
    assert target.gateway.stats.calls["bitable.record.batch_create"] == 3
    if target.sandbox is not None:
        wire = [e for e in target.journal() if e["path"].endswith("/records/search")]
        assert len(wire) == 3


def test_value_formats_write_then_read(target):
    t = target.new_table("values", FIELDS)
    link = t.call("POST", "/fields", {"field_name": "前置", "type": 18, "property": {"table_id": t.table_id,
                                                                                   "multiple": True}},
                  api="bitable.field.create", family="bitable.schema_write", retry_safe=False)["field"]
    assert link["type"] == 18 and link["property"]["table_id"] == t.table_id
    first = t.create({"标题": "上游"})["record_id"]
    due = ms(2026, 12, 1, 10)
    fields = {"标题": "发布会", "数量": 3, "进度": 0.25, "预算": 1250.5, "状态": "进行中", "标签": ["A", "新标签"],
              "截止日期": due, "完成": True, "链接": {"text": "文档", "link": "https://example.com/doc"},
              "前置": [first]}
    if target.user_open_id:
        fields["负责人"] = [{"id": target.user_open_id}]
    rid = t.create(fields)["record_id"]
    rec = t.batch_get([rid], automatic_fields=True)["records"][0]
    f = rec["fields"]
    assert f["标题"] == [{"type": "text", "text": "发布会"}]
    assert (f["数量"], f["进度"], f["预算"], f["状态"], f["标签"], f["截止日期"], f["完成"]) == \
        (3, 0.25, 1250.5, "进行中", ["A", "新标签"], due, True)
    assert f["链接"] == {"text": "文档", "link": "https://example.com/doc"}
    assert f["前置"] == {"link_record_ids": [first]}
    assert f["修改时间"] == rec["last_modified_time"] and isinstance(f["修改时间"], int)
    if target.user_open_id:
        person = f["负责人"][0]
        assert person["id"] == target.user_open_id and person["name"]
    # an unknown option name created the option, with an id and a colour
    opts = t.field("标签")["property"]["options"]
    new = next(o for o in opts if o["name"] == "新标签")
    assert new["id"].startswith("opt") and isinstance(new["color"], int)
    # the search read format is the same as batch_get's
    hit = t.search({"filter": {"conjunction": "and", "conditions": [
        {"field_name": "标题", "operator": "is", "value": ["发布会"]}]}})["items"][0]["fields"]
    assert hit["标签"] == ["A", "新标签"] and hit["截止日期"] == due and hit["前置"] == {"link_record_ids": [first]}


def test_client_token_makes_create_idempotent(target):
    t = target.new_table("idem", FIELDS)
    tok = str(uuid.uuid4())
    a = t.create({"标题": "只一次"}, client_token=tok)
    b = t.create({"标题": "只一次"}, client_token=tok)
    assert a["record_id"] == b["record_id"]
    assert t.search()["total"] == 1
    body = {"records": [{"fields": {"标题": "批"}}] * 3}
    tok2 = str(uuid.uuid4())
    x = t.call("POST", "/records/batch_create", body, {"client_token": tok2}, api="bitable.record.batch_create",
               family="bitable.write")
    y = t.call("POST", "/records/batch_create", body, {"client_token": tok2}, api="bitable.record.batch_create",
               family="bitable.write")
    assert [r["record_id"] for r in x["records"]] == [r["record_id"] for r in y["records"]]
    assert t.search()["total"] == 4


def test_batch_over_the_limit_is_refused_whole(target):
    t = target.new_table("limit", [("标题", 1, None, None)])
    too_many = {"records": [{"fields": {"标题": f"x{i}"}} for i in range(target.batch_limit + 1)]}
    with pytest.raises(FeishuError) as exc:
        t.call("POST", "/records/batch_create", too_many, api="bitable.record.batch_create", family="bitable.write")
    assert exc.value.code == 1254104
    assert target.gateway.stats.calls["bitable.record.batch_create"] == 1  # a limit error is not retried
    assert t.search()["total"] == 0  # all-or-nothing


def test_write_conflict_is_retried_by_the_gateway(target):
    target.sandbox_only("fault injection (a forced 1254291 write conflict)")
    t = target.new_table("conflict", [("标题", 1, None, None)])
    target.sandbox.inject("/records", "code", count=2, method="POST", code=1254291)
    rec = t.create({"标题": "稳"}, client_token=str(uuid.uuid4()))
    assert rec["record_id"] and target.gateway.stats.retries["bitable.record.create"] == 2
    assert t.search()["total"] == 1

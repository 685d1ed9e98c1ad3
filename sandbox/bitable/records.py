"""Records (`…/tables/:table_id/records`): search, list, get, batch get, and the writes.

- search page tokens are offsets into the id list computed for the first page (a paging session,
  `BitableService.remember_query`); records deleted since are skipped; an invalid or expired
  token answers 1254002;
- page_size above the maximum (500) answers 400 1254011, like page_size ≤ 0;
- the deprecated list understands `CurrentValue.[name]="text"` filters only and answers links in
  their old shape;
- with advanced permissions a role may hide records: search leaves them out, batch_get names them
  in `forbidden_record_ids`;
- a batch is all or nothing: the first bad record fails the call and options created while
  checking the others are undone (`BitableService.all_or_nothing`);
- `client_token` (create, batch_create) replays the first answer (see `routes`).
"""
from __future__ import annotations

import json
import re
from typing import Any, Callable

from gtm.sandbox.bitable import access
from gtm.sandbox.bitable.filters import compile_filter, compile_view_filter, sort_ids
from gtm.sandbox.bitable.routes import TABLE, Call, Data, Routes
from gtm.sandbox.bitable.service import query_token
from gtm.sandbox.bitable.store import Field, Record, Table
from gtm.sandbox.bitable.values import ValueContext, compare_value, write_record
from gtm.sandbox.errors import ApiError

routes = Routes()
RECORDS = TABLE + "/records"
LEGACY_EQ = re.compile(r'^CurrentValue\.\[(.+?)\]\s*=\s*"(.*)"$')


def pick_fields(t: Table, names: Any) -> list[Field] | None:
    """The fields a read asked for by name (`field_names`), or None for all of them."""
    if names is None:
        return None
    if not isinstance(names, list) or len(names) > 200:
        raise ApiError(1254024, "InvalidFieldNames: field_names must be a list of ≤200 names")
    out = []
    for n in names:
        f = t.field_by_name(n) if isinstance(n, str) else None
        if f is None:
            raise ApiError(1254045, f"FieldNameNotFound: {n!r}")
        out.append(f)
    return out


def visible(c: Call) -> Callable[[Record], bool] | None:
    """A record filter for apps that do not own the base (roles may hide rows)."""
    a, b, t = c.caller, c.base, c.table
    if a.app_id == b.owner_app_id or not b.is_advanced:
        return None
    return lambda r: access.can(c.sb, b.app_token, a.bot_open_id, "view", t.table_id, r)


def _view_filter(c: Call, vid: str, ctx: ValueContext, now: int) -> Callable[[Record], bool] | None:
    v = c.table.views.get(vid)
    if v is None:
        raise ApiError(1254042, f"ViewIdNotFound: {vid}")
    return compile_view_filter((v.property or {}).get("filter_info"), c.table, ctx, now)


def _read_page(c: Call, ids: list[str], qid: str, offset: int, render: Callable[[Record], dict[str, Any]]) -> Data:
    """One page of a remembered result; records deleted since are skipped."""
    recs = c.table.records
    items = [render(r) for rid in ids[offset:offset + c.page_size] if (r := recs.get(rid)) is not None]
    more = offset + c.page_size < len(ids)
    out: Data = {"items": items, "has_more": more, "total": len(ids)}
    if more:
        out["page_token"] = query_token(qid, offset + c.page_size)
    return out


# -- reads ---------------------------------------------------------------------------------------
@routes.route("POST", RECORDS + "/search", need="view", body=True, page=(20, 500), ctx=True)
def search(c: Call) -> Data:
    t, body, ctx, svc = c.table, c.body, c.ctx, c.svc
    fields = pick_fields(t, body.get("field_names"))
    token = c.query.get("page_token") or ""
    if token:
        qid, offset, ids = svc.recall_query(token, t.table_id)
    else:
        flt = body.get("filter")
        if flt and len(json.dumps(flt, ensure_ascii=False)) > 2000:
            raise ApiError(1254107, "FilterLengthExceedLimit: the filter is longer than 2000 characters")
        sort = body.get("sort") or []
        if not isinstance(sort, list) or len(sort) > 100:
            raise ApiError(1254016, "InvalidSort: sort must be a list of ≤100 entries")
        if sort and len(json.dumps(sort, ensure_ascii=False)) > 1000:
            raise ApiError(1254108, "SortLengthExceedLimit: the sort is longer than 1000 characters")
        now = svc.clock()
        preds = [p for p in (compile_filter(flt, t, ctx, now), visible(c)) if p is not None]
        if body.get("view_id"):
            vp = _view_filter(c, body["view_id"], ctx, now)
            if vp is not None:
                preds.append(vp)
        recs = t.records
        if not preds:
            ids = list(recs)
        elif len(preds) == 1:
            p0 = preds[0]
            ids = [rid for rid, r in recs.items() if p0(r)]
        else:
            ids = [rid for rid, r in recs.items() if all(p(r) for p in preds)]
        if sort:
            sort_ids(ids, t, sort, ctx)
        qid, offset = svc.remember_query(t.table_id, ids), 0
    auto = bool(body.get("automatic_fields"))
    return _read_page(c, ids, qid, offset, lambda r: svc.record_out(t, r, ctx, fields, auto))


def _record_ids(c: Call) -> None:
    ids = c.body.get("record_ids")
    if not isinstance(ids, list) or not 1 <= len(ids) <= 100 or not all(isinstance(i, str) for i in ids):
        raise ApiError(1254001, "WrongRequestBody: record_ids must hold 1-100 record ids")


@routes.route("POST", RECORDS + "/batch_get", need="view", body=True, check=_record_ids)
def batch_get(c: Call) -> Data:
    t, body, svc = c.table, c.body, c.svc
    ctx = svc.ctx(c.base, body.get("user_id_type") or "open_id")
    auto = bool(body.get("automatic_fields"))
    recs, forbidden, absent = [], [], []
    vis = visible(c)
    for rid in body["record_ids"]:
        r = t.records.get(rid)
        if r is None:
            absent.append(rid)
        elif vis is not None and not vis(r):
            forbidden.append(rid)
        else:
            d = svc.record_out(t, r, ctx, None, auto)
            if body.get("with_shared_url"):
                d["shared_url"] = f"https://sandbox.feishu.cn/record/{rid}"
            recs.append(d)
    return {"records": recs, "forbidden_record_ids": forbidden, "absent_record_ids": absent}


# -- batch writes ----------------------------------------------------------------------------------
def batch_records(body: dict[str, Any], limit: int) -> list[Any]:
    """The request's `records`: a non-empty list of at most `limit` (1254104 above)."""
    recs = body.get("records")
    if not isinstance(recs, list) or not recs:
        raise ApiError(1254001, "WrongRequestBody: records must be a non-empty list")
    if len(recs) > limit:
        raise ApiError(1254104, f"RecordAddOnceExceedLimit: at most {limit} records per call, got {len(recs)}")
    return recs


def _batch_limit(c: Call) -> None:
    batch_records(c.body, c.sb.config.batch_limit)


def _batch_ids(c: Call) -> None:
    if not all(isinstance(i, str) for i in batch_records(c.body, 500)):
        raise ApiError(1254001, "WrongRequestBody: records must be a list of record id strings")


def echo(rec: Record, fields: dict[str, Any]) -> dict[str, Any]:
    return {"fields": fields, "id": rec.record_id, "record_id": rec.record_id}


@routes.route("POST", RECORDS + "/batch_create", need="add", body=True, check=_batch_limit, idempotent=True,
              ctx=True, write=True)
def batch_create(c: Call) -> Data:
    t, ctx, svc, recs = c.table, c.ctx, c.svc, c.body["records"]
    by_name = {f.name: f for f in t.fields.values()}
    with svc.all_or_nothing(t):
        converted = []
        for i, r in enumerate(recs):
            if not isinstance(r, dict):
                raise ApiError(1254001, f"WrongRequestBody: records[{i}] must be an object")
            try:
                converted.append(write_record(r.get("fields") or {}, t.fields, ctx, by_name))
            except ApiError as e:
                e.msg = f"records[{i}]: {e.msg}"
                raise
    out = []
    now = svc.clock()
    for r, stored in zip(recs, converted):
        rec = svc.store.new_record(t, {k: v for k, v in stored.items() if v is not None}, c.caller.bot_open_id, now)
        out.append(echo(rec, r.get("fields") or {}))
    return {"records": out}


@routes.route("POST", RECORDS + "/batch_update", need="edit", body=True, check=_batch_limit, ctx=True, write=True)
def batch_update(c: Call) -> Data:
    t, ctx, svc, who = c.table, c.ctx, c.svc, c.caller.bot_open_id
    by_name = {f.name: f for f in t.fields.values()}
    targets = []
    with svc.all_or_nothing(t):
        for i, r in enumerate(c.body["records"]):
            rid = r.get("record_id") if isinstance(r, dict) else None
            rec = t.records.get(rid or "")
            if rec is None:
                raise ApiError(1254043, f"RecordIdNotFound: records[{i}] {rid!r}")
            access.require(c.sb, c.base.app_token, who, "edit", t.table_id, rec)
            try:
                targets.append((rec, r.get("fields") or {}, write_record(r.get("fields") or {}, t.fields, ctx, by_name)))
            except ApiError as e:
                e.msg = f"records[{i}] ({rid}): {e.msg}"
                raise
    out = []
    for rec, fields, stored in targets:
        svc.apply_update(t, rec, stored, who)
        out.append(echo(rec, fields))
    return {"records": out}


@routes.route("POST", RECORDS + "/batch_delete", need="delete", body=True, check=_batch_ids, write=True)
def batch_delete(c: Call) -> Data:
    t, ids = c.table, c.body["records"]
    for rid in ids:
        rec = c.svc.record_in(t, rid)
        access.require(c.sb, c.base.app_token, c.caller.bot_open_id, "delete", t.table_id, rec)
    for rid in ids:
        t.records.pop(rid, None)
    t.version += 1
    return {"records": [{"deleted": True, "record_id": rid} for rid in ids]}


# -- one record ------------------------------------------------------------------------------------
@routes.route("GET", RECORDS, need="view", page=(20, 500), ctx=True)
def list_records(c: Call) -> Data:
    """Deprecated list: supports `CurrentValue.[name]="text"` filters and legacy link shapes."""
    t, q, ctx, svc = c.table, c.query, c.ctx, c.svc
    names = None
    if q.get("field_names"):
        try:
            names = json.loads(q["field_names"])
        except ValueError:
            raise ApiError(1254024, "InvalidFieldNames: field_names must be a JSON list")
    fields = pick_fields(t, names)
    if q.get("page_token"):
        qid, offset, ids = svc.recall_query(q["page_token"], t.table_id)
    else:
        ids = _legacy_filter(t, q.get("filter", ""), ctx)
        if q.get("view_id"):
            vp = _view_filter(c, q["view_id"], ctx, svc.clock())
            if vp is not None:
                ids = [i for i in ids if vp(t.records[i])]
        qid, offset = svc.remember_query(t.table_id, ids), 0
    auto = q.get("automatic_fields") == "true"
    return _read_page(c, ids, qid, offset, lambda r: svc.record_out(t, r, ctx, fields, auto, legacy_links=True))


def _legacy_filter(t: Table, flt: str, ctx: ValueContext) -> list[str]:
    if len(flt) > 2000:
        raise ApiError(1254107, "FilterLengthExceedLimit")
    ids = list(t.records)
    if not flt:
        return ids
    m = LEGACY_EQ.match(flt.strip())
    if not m:
        raise ApiError(1254018, "InvalidFilter: the sandbox understands CurrentValue.[name]=\"text\" only")
    f = t.field_by_name(m.group(1))
    if f is None:
        raise ApiError(1254045, f"FieldNameNotFound: {m.group(1)!r}")
    want = m.group(2)
    return [i for i in ids if str(compare_value(f, t.records[i], ctx) or "") == want]


@routes.route("POST", RECORDS, need="add", body=True, idempotent=True, ctx=True, write=True)
def create_record(c: Call) -> Data:
    t, b, svc = c.table, c.base, c.svc
    fields = c.body.get("fields")
    if fields is None:
        fields = {}
    if t.table_id not in b.tables:
        raise ApiError(1254041, f"TableIdNotFound: {t.table_id}")
    with svc.all_or_nothing(t):
        stored = write_record(fields, t.fields, c.ctx)
    rec = svc.store.new_record(t, {k: v for k, v in stored.items() if v is not None}, c.caller.bot_open_id)
    return {"record": echo(rec, fields)}


@routes.route("GET", RECORDS + "/{record_id}", need="view", ctx=True)
def get_record(c: Call) -> Data:
    auto = c.query.get("automatic_fields") == "true"
    return {"record": c.svc.record_out(c.table, c.record, c.ctx, None, auto, legacy_links=True)}


@routes.route("PUT", RECORDS + "/{record_id}", need="edit", body=True, ctx=True, write=True)
def update_record(c: Call) -> Data:
    t, rec = c.table, c.record
    fields = c.body.get("fields") or {}
    if rec.record_id not in t.records:
        raise ApiError(1254043, f"RecordIdNotFound: {rec.record_id}")
    with c.svc.all_or_nothing(t):
        stored = write_record(fields, t.fields, c.ctx)
    c.svc.apply_update(t, rec, stored, c.caller.bot_open_id)
    return {"record": echo(rec, fields)}


@routes.route("DELETE", RECORDS + "/{record_id}", need="delete", write=True)
def delete_record(c: Call) -> Data:
    t, rid = c.table, c.record.record_id
    if t.records.pop(rid, None) is None:
        raise ApiError(1254043, f"RecordIdNotFound: {rid}")
    t.version += 1
    return {"deleted": True, "record_id": rid}

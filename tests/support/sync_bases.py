"""Sync-suite helpers: build a Base from the table specs through the real SDK (no provisioning code)."""
from __future__ import annotations

from datetime import datetime
from typing import Any, Iterable
from zoneinfo import ZoneInfo

from lark_oapi.api.bitable.v1 import (
    AppTableField,
    BatchCreateAppTableRecordRequest,
    BatchCreateAppTableRecordRequestBody,
    CreateAppRequest,
    CreateAppTableFieldRequest,
    CreateAppTableRequest,
    CreateAppTableRequestBody,
    ReqApp,
)

from gtm.schemas.fields import Kind
from gtm.schemas.tables import PLAN_TABLES
from gtm.sync.binding import BaseBinding
from gtm.sync.records import encode_fields

TZ = ZoneInfo("Asia/Shanghai")
T0 = datetime(2024, 5, 6, 10, 0, tzinfo=TZ)  # a Monday morning: "now" of these tests


def make_base(gateway, keys: Iterable[str], slug: str = "demo") -> BaseBinding:
    """A new Base holding the given plan tables (links added once their target exists)."""
    gw = gateway
    bt = gw.client.bitable.v1
    req = CreateAppRequest.builder().request_body(ReqApp({"name": "同步测试", "time_zone": "Asia/Shanghai"})).build()
    app = gw.call("bitable.app.create", lambda: bt.app.create(req), family="bitable.app").app
    b = BaseBinding(slug=slug, app_token=app.app_token, timezone="Asia/Shanghai")
    links = []
    for key in keys:
        spec = PLAN_TABLES[key]
        inline = [f for f in spec.fields if f.kind is not Kind.LINK]
        links += [(key, f) for f in spec.fields if f.kind is Kind.LINK]
        body = {"table": {"name": spec.name, "fields": [f.create_body(b.table_ids) for f in inline]}}
        r = (CreateAppTableRequest.builder().app_token(b.app_token)
             .request_body(CreateAppTableRequestBody(body)).build())
        b.table_ids[key] = gw.call("bitable.table.create", lambda r=r: bt.app_table.create(r),
                                   family="bitable.schema_write").table_id
    for key, f in links:
        if f.link_table not in b.table_ids:
            continue
        r = (CreateAppTableFieldRequest.builder().app_token(b.app_token).table_id(b.table_ids[key])
             .request_body(AppTableField(f.create_body(b.table_ids))).build())
        gw.call("bitable.field.create", lambda r=r: bt.app_table_field.create(r), family="bitable.schema_write")
    return b


def create_rows(gateway, binding: BaseBinding, key: str, rows: list[dict[str, Any]], chunk: int = 500) -> list[str]:
    """Insert rows (attr-keyed domain values) with batch_create; returns the new record ids."""
    spec = PLAN_TABLES[key]
    bt = gateway.client.bitable.v1
    ids: list[str] = []
    for i in range(0, len(rows), chunk):
        body = BatchCreateAppTableRecordRequestBody(
            {"records": [{"fields": encode_fields(spec, r, TZ, binding)} for r in rows[i:i + chunk]]})
        req = (BatchCreateAppTableRecordRequest.builder().app_token(binding.app_token)
               .table_id(binding.table_ids[key]).request_body(body).build())
        data = gateway.call("bitable.record.batch_create", lambda req=req: bt.app_table_record.batch_create(req),
                            family="bitable.write", write_table=binding.table_ids[key])
        ids += [r.record_id for r in data.records]
    return ids


def ms(dt: datetime) -> int:
    return int(dt.timestamp() * 1000)


def calls(sandbox, mark: int, path_part: str, *, write: bool | None = None) -> int:
    """How many /open-apis requests since `mark` hit a path containing `path_part`."""
    return sum(1 for e in sandbox.journal.since(mark)
               if path_part in e["path"] and (write is None or e["write"] is write))



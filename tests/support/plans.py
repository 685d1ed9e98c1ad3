"""Small plans created through the real SDK against the sandbox: only the tables the bot reads,
fields inline (one call per table), so a plan costs well under a second instead of a full `gtm init`.
"""
from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any, Callable
from zoneinfo import ZoneInfo

from lark_oapi.api.bitable.v1 import (
    AppTableRecord,
    BatchCreateAppTableRecordRequest,
    BatchCreateAppTableRecordRequestBody,
    CreateAppRequest,
    CreateAppTableRequest,
    CreateAppTableRequestBody,
    GetAppTableRecordRequest,
    ReqApp,
)

from gtm.schemas.fields import Kind
from gtm.schemas.plan import Person
from gtm.schemas.tables import PLAN_TABLES
from gtm.sync.binding import BaseBinding
from gtm.sync.provision import register_project
from gtm.sync.records import encode_value

TZ = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 11, 20, 10, 0, tzinfo=TZ)  # a Friday
BOT_TABLES = ("project", "milestone", "deliverable", "task", "issue")


def _create(gw: Any, api: str, fn: Callable[[], Any], family: str) -> Any:
    return gw.call(api, fn, family=family, retry_safe=False)


def create_base(gw: Any, name: str, slug: str) -> BaseBinding:
    """A Base with the bot's tables (self links such as 前置任务 left out)."""
    req = CreateAppRequest.builder().request_body(ReqApp({"name": name, "time_zone": "Asia/Shanghai"})).build()
    app = _create(gw, "bitable.app.create", lambda: gw.client.bitable.v1.app.create(req), "bitable.app").app
    b = BaseBinding(slug=slug, app_token=app.app_token, timezone="Asia/Shanghai")
    for key in BOT_TABLES:
        spec = PLAN_TABLES[key]
        fields = [f for f in spec.fields
                  if not (f.kind is Kind.LINK and (f.link_table == key or f.link_table not in b.table_ids))]
        body = {"table": {"name": spec.name, "fields": [f.create_body(b.table_ids) for f in fields]}}
        treq = (CreateAppTableRequest.builder().app_token(b.app_token)
                .request_body(CreateAppTableRequestBody(body)).build())
        data = _create(gw, "bitable.table.create", lambda: gw.client.bitable.v1.app_table.create(treq),
                       "bitable.schema_write")
        b.table_ids[key] = data.table_id
    return b


def add_rows(gw: Any, b: BaseBinding, key: str, rows: list[dict[str, Any]]) -> list[str]:
    """Create rows given by attr → domain value (dates, Person, lists of record ids…)."""
    spec = PLAN_TABLES[key]
    records = []
    for row in rows:
        fields = {spec.field(a).name: encode_value(spec.field(a), v, TZ, where=f"{key}.{a}")
                  for a, v in row.items() if v is not None}
        records.append(AppTableRecord.builder().fields(fields).build())
    req = (BatchCreateAppTableRecordRequest.builder().app_token(b.app_token).table_id(b.table_ids[key])
           .user_id_type("open_id").request_body(BatchCreateAppTableRecordRequestBody.builder()
                                                 .records(records).build()).build())
    data = _create(gw, "bitable.record.batch_create",
                   lambda: gw.client.bitable.v1.app_table_record.batch_create(req), "bitable.write")
    return [r.record_id for r in data.records]


def create_plan(runtime: Any, *, slug: str, name: str, chat_ids: list[str], pm: str, management: list[str],
                tasks: list[dict[str, Any]], issues: list[dict[str, Any]] = (), now: datetime = NOW) -> dict:
    """A small plan registered as a project; returns {"binding", "tasks": [ids], "issues": [ids], …}."""
    gw = runtime.gateway
    b = create_base(gw, name, slug)
    today = now.astimezone(TZ).date()
    project_id = add_rows(gw, b, "project", [{"name": name, "pm": Person(open_id=pm),
                                               "management": [Person(open_id=m) for m in management],
                                               "start_date": today - timedelta(days=60),
                                               "launch_date": today + timedelta(days=30)}])
    ms = add_rows(gw, b, "milestone", [{"code": "M1", "name": "发布准备就绪",
                                         "target_date": today + timedelta(days=14), "status": "进行中"}])
    task_rows = [{"milestone": ms, "status": "进行中", "progress": 0.3, **t} for t in tasks]
    task_ids = add_rows(gw, b, "task", task_rows)
    issue_ids = add_rows(gw, b, "issue", list(issues)) if issues else []
    with runtime.store.session() as s:
        register_project(s, slug, name, "gtm", b, chat_ids=chat_ids)
    return {"binding": b, "project": project_id[0], "milestones": ms, "tasks": task_ids, "issues": issue_ids}


def task(task_id: str, name: str, owner: str, end: date, **kw: Any) -> dict[str, Any]:
    return {"task_id": task_id, "name": name, "owner": Person(open_id=owner), "planned_start": end - timedelta(days=7),
            "planned_end": end, **kw}


def record_fields(gw: Any, b: BaseBinding, key: str, record_id: str) -> dict[str, Any]:
    """One record as the Base holds it now (read through the SDK)."""
    req = (GetAppTableRecordRequest.builder().app_token(b.app_token).table_id(b.table_ids[key])
           .record_id(record_id).user_id_type("open_id").build())
    data = gw.call("bitable.record.get", lambda: gw.client.bitable.v1.app_table_record.get(req),
                   family="bitable.read")
    return dict(data.record.fields or {})

"""Bitable (多维表格) calls: apps, tables, fields, views, records and advanced-permission roles.

Each method is one gateway call with its API name, rate family and retry safety, built with the
SDK's typed request builders (so uri, query and body are what the SDK sends) and answered with
plain data: the API's JSON objects as dicts, pages as `Page`, a Base as `App`. Creates without a
client token run once (`retry_safe=False`); the rest may be retried.

Record searches and batch_gets go through `Gateway.call_json` (the body parsed once, no SDK
objects: a 500-record page built as SDK objects cost more CPU than the call itself).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from lark_oapi.api.base.v2 import CreateAppRoleRequest, ListAppRoleRequest, Role
from lark_oapi.api.bitable.v1 import (
    AppRoleMember,
    AppTableField,
    AppTableRecord,
    BatchCreateAppTableRecordRequest,
    BatchCreateAppTableRecordRequestBody,
    BatchDeleteAppTableRecordRequest,
    BatchDeleteAppTableRecordRequestBody,
    BatchGetAppTableRecordRequest,
    BatchGetAppTableRecordRequestBody,
    BatchUpdateAppTableRecordRequest,
    CreateAppRequest,
    CreateAppRoleMemberRequest,
    CreateAppTableFieldRequest,
    CreateAppTableRecordRequest,
    CreateAppTableRequest,
    CreateAppTableRequestBody,
    CreateAppTableViewRequest,
    DeleteAppTableFieldRequest,
    GetAppRequest,
    ListAppRoleMemberRequest,
    ListAppTableFieldRequest,
    ListAppTableRequest,
    ListAppTableViewRequest,
    PatchAppTableRequest,
    PatchAppTableRequestBody,
    PatchAppTableViewRequest,
    PatchAppTableViewRequestBody,
    ReqApp,
    ReqView,
    SearchAppTableRecordRequest,
    SearchAppTableRecordRequestBody,
    UpdateAppRequest,
    UpdateAppRequestBody,
    UpdateAppTableFieldRequest,
    UpdateAppTableRecordRequest,
)

from gtm.sync.feishu.caller import Caller
from gtm.sync.feishu.sdk import as_dict, generic_request, with_data


Json = dict[str, Any]


@dataclass(frozen=True)
class App:
    """A Base (bitable app)."""

    app_token: str
    name: str = ""
    default_table_id: str = ""
    url: str = ""
    time_zone: str = ""
    is_advanced: bool = False

    @classmethod
    def of(cls, data: Any) -> "App":
        app = as_dict(getattr(data, "app", None)) or {}
        return cls(app_token=app.get("app_token") or "", name=app.get("name") or "",
                   default_table_id=app.get("default_table_id") or "", url=app.get("url") or "",
                   time_zone=app.get("time_zone") or "", is_advanced=bool(app.get("is_advanced")))


@dataclass(frozen=True)
class Page:
    """One page of a list call: the items as JSON dicts, and the token of the next page (None: last)."""

    items: list[Json] = field(default_factory=list)
    page_token: str | None = None

    @classmethod
    def of(cls, data: Any) -> "Page":
        if data is None:
            return cls()
        items = as_dict(getattr(data, "items", None)) or []
        more = bool(getattr(data, "has_more", False)) and getattr(data, "page_token", None)
        return cls(items, data.page_token if more else None)


@dataclass(frozen=True)
class CreatedTable:
    table_id: str
    default_view_id: str = ""


@dataclass(frozen=True)
class Condition:
    """A record-search filter condition (`value` as Feishu wants it, e.g. ["ExactDate", "…ms"])."""

    field_name: str
    operator: str
    value: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class SortBy:
    field_name: str
    desc: bool = False


class Bitable:
    """Bitable calls through one gateway."""

    def __init__(self, gateway: Caller) -> None:
        self.gw = gateway

    def _run(self, api: str, request: Any, run: Callable[[Any], Any], family: str, *, retry_safe: bool = True,
             write_table: str | None = None, context: str = "") -> Any:
        return self.gw.call(api, lambda: with_data(run(request)), family=family, retry_safe=retry_safe,
                            write_table=write_table, context=context)

    @property
    def _v1(self) -> Any:
        return self.gw.client.bitable.v1

    # -- apps ------------------------------------------------------------------------------
    def create_app(self, name: str, time_zone: str, *, context: str = "") -> App:
        req = CreateAppRequest.builder().request_body(ReqApp({"name": name, "time_zone": time_zone})).build()
        return App.of(self._run("bitable.app.create", req, self._v1.app.create, "bitable.app",
                                retry_safe=False, context=context or name))

    def get_app(self, app_token: str) -> App:
        req = GetAppRequest.builder().app_token(app_token).build()
        return App.of(self._run("bitable.app.get", req, self._v1.app.get, "bitable.app", context=app_token))

    def set_advanced(self, app_token: str, on: bool = True) -> None:
        """Turn advanced permissions on (or off)."""
        req = (UpdateAppRequest.builder().app_token(app_token)
               .request_body(UpdateAppRequestBody({"is_advanced": on})).build())
        self._run("bitable.app.update", req, self._v1.app.update, "bitable.app", context=app_token)

    # -- tables ----------------------------------------------------------------------------
    def list_tables(self, app_token: str, *, page_token: str | None = None, page_size: int = 100,
                    context: str = "") -> Page:
        b = ListAppTableRequest.builder().app_token(app_token).page_size(page_size)
        req = (b.page_token(page_token) if page_token else b).build()
        return Page.of(self._run("bitable.table.list", req, self._v1.app_table.list, "bitable.schema_read",
                                 context=context))

    def create_table(self, app_token: str, name: str, fields: list[Json], *,
                     default_view_name: str | None = None, context: str = "") -> CreatedTable:
        """A table with `fields` (create bodies); runs once (no client token on this API)."""
        body: Json = {"table": {"name": name, "default_view_name": default_view_name, "fields": fields}}
        if default_view_name is None:
            del body["table"]["default_view_name"]
        req = (CreateAppTableRequest.builder().app_token(app_token)
               .request_body(CreateAppTableRequestBody(body)).build())
        data = self._run("bitable.table.create", req, self._v1.app_table.create, "bitable.schema_write",
                         retry_safe=False, context=context or name)
        return CreatedTable(data.table_id, getattr(data, "default_view_id", None) or "")

    def rename_table(self, app_token: str, table_id: str, name: str, *, context: str = "") -> None:
        req = (PatchAppTableRequest.builder().app_token(app_token).table_id(table_id)
               .request_body(PatchAppTableRequestBody({"name": name})).build())
        self._run("bitable.table.patch", req, self._v1.app_table.patch, "bitable.schema_write",
                  retry_safe=False, write_table=table_id, context=context or name)

    def list_fields(self, app_token: str, table_id: str, *, page_token: str | None = None,
                    page_size: int = 100, context: str = "") -> Page:
        b = ListAppTableFieldRequest.builder().app_token(app_token).table_id(table_id).page_size(page_size)
        req = (b.page_token(page_token) if page_token else b).build()
        return Page.of(self._run("bitable.field.list", req, self._v1.app_table_field.list, "bitable.schema_read",
                                 context=context))

    def field_names(self, app_token: str, table_id: str, *, context: str = "") -> list[str]:
        """Every field's name (all pages: one call per 100 fields)."""
        names: list[str] = []
        token: str | None = None
        while True:
            page = self.list_fields(app_token, table_id, page_token=token, context=context)
            names += [f.get("field_name") or "" for f in page.items]
            if not page.page_token:
                return names
            token = page.page_token

    def create_field(self, app_token: str, table_id: str, body: Json, *, client_token: str,
                     context: str = "") -> Json:
        """A field from its create body; the client token makes a retry safe. Returns the field."""
        req = (CreateAppTableFieldRequest.builder().app_token(app_token).table_id(table_id)
               .client_token(client_token).request_body(AppTableField(body)).build())
        data = self._run("bitable.field.create", req, self._v1.app_table_field.create, "bitable.schema_write",
                         write_table=table_id, context=context)
        return as_dict(getattr(data, "field", None)) or {}

    def update_field(self, app_token: str, table_id: str, field_id: str, body: Json, *,
                     context: str = "") -> None:
        req = (UpdateAppTableFieldRequest.builder().app_token(app_token).table_id(table_id)
               .field_id(field_id).request_body(AppTableField(body)).build())
        self._run("bitable.field.update", req, self._v1.app_table_field.update, "bitable.schema_write",
                  write_table=table_id, context=context)

    def delete_field(self, app_token: str, table_id: str, field_id: str, *, context: str = "") -> None:
        req = (DeleteAppTableFieldRequest.builder().app_token(app_token).table_id(table_id)
               .field_id(field_id).build())
        self._run("bitable.field.delete", req, self._v1.app_table_field.delete, "bitable.schema_write",
                  write_table=table_id, context=context)

    # -- views -----------------------------------------------------------------------------
    def list_views(self, app_token: str, table_id: str, *, page_token: str | None = None,
                   page_size: int = 100, context: str = "") -> Page:
        b = ListAppTableViewRequest.builder().app_token(app_token).table_id(table_id).page_size(page_size)
        req = (b.page_token(page_token) if page_token else b).build()
        return Page.of(self._run("bitable.view.list", req, self._v1.app_table_view.list, "bitable.schema_read",
                                 context=context))

    def create_view(self, app_token: str, table_id: str, name: str, view_type: str, *,
                    context: str = "") -> Json:
        """A view; runs once (no client token on this API). Returns the view."""
        req = (CreateAppTableViewRequest.builder().app_token(app_token).table_id(table_id)
               .request_body(ReqView({"view_name": name, "view_type": view_type})).build())
        data = self._run("bitable.view.create", req, self._v1.app_table_view.create, "bitable.schema_write",
                         retry_safe=False, write_table=table_id, context=context)
        return as_dict(getattr(data, "view", None)) or {}

    def patch_view(self, app_token: str, table_id: str, view_id: str, body: Json, *, context: str = "") -> None:
        """Rename a view (`{"view_name": …}`) or set its filter (`{"property": {"filter_info": …}}`)."""
        req = (PatchAppTableViewRequest.builder().app_token(app_token).table_id(table_id).view_id(view_id)
               .request_body(PatchAppTableViewRequestBody(body)).build())
        self._run("bitable.view.patch", req, self._v1.app_table_view.patch, "bitable.schema_write",
                  write_table=table_id, context=context)

    # -- records ---------------------------------------------------------------------------
    def search_page(self, app_token: str, table_id: str, *, page_token: str | None = None,
                    page_size: int = 500, context: str = "") -> Page:
        """One page of a plain search (read format, no automatic fields): the records as dicts."""
        b = (SearchAppTableRecordRequest.builder().app_token(app_token).table_id(table_id)
             .page_size(page_size).request_body(SearchAppTableRecordRequestBody({})))
        req = (b.page_token(page_token) if page_token else b).build()
        return Page.of(self._run("bitable.record.search", req, self._v1.app_table_record.search, "bitable.read",
                                 context=context))

    def search_json(self, app_token: str, table_id: str, *, conditions: list[Condition] | None = None,
                    sort: list[SortBy] | None = None, page_token: str | None = None, page_size: int = 500,
                    context: str = "") -> Json:
        """One page of a search with automatic fields, open ids for people: the response `data` as
        parsed JSON (`items`, `has_more`, `page_token`)."""
        body = SearchAppTableRecordRequestBody.builder().automatic_fields(True)
        if conditions:
            body = body.filter({"conjunction": "and", "conditions": [
                {"field_name": c.field_name, "operator": c.operator, "value": list(c.value)} for c in conditions]})
        if sort:
            body = body.sort([{"field_name": s.field_name, "desc": s.desc} for s in sort])
        req = (SearchAppTableRecordRequest.builder().app_token(app_token).table_id(table_id)
               .page_size(page_size).user_id_type("open_id"))
        if page_token:
            req = req.page_token(page_token)
        return self.gw.call_json("bitable.record.search", generic_request(req.request_body(body.build()).build()),
                                 family="bitable.read", retry_safe=True, context=context)

    def batch_get_json(self, app_token: str, table_id: str, record_ids: list[str], *, context: str = "") -> Json:
        """≤100 records by id (automatic fields, open ids): the response `data` as parsed JSON
        (`records`, `absent_record_ids`, `forbidden_record_ids`)."""
        request = generic_request(
            BatchGetAppTableRecordRequest.builder().app_token(app_token).table_id(table_id)
            .request_body(BatchGetAppTableRecordRequestBody.builder().record_ids(record_ids)
                          .user_id_type("open_id").automatic_fields(True).build())
            .build())
        return self.gw.call_json("bitable.record.batch_get", request, family="bitable.read",
                                 retry_safe=True, context=context)

    def create_record(self, app_token: str, table_id: str, fields: Json, *, client_token: str,
                      context: str = "") -> Json:
        """One record (people as open ids); the client token makes a retry safe. Returns the record."""
        req = (CreateAppTableRecordRequest.builder().app_token(app_token).table_id(table_id)
               .user_id_type("open_id").client_token(client_token)
               .request_body(AppTableRecord.builder().fields(fields).build()).build())
        data = self._run("bitable.record.create", req, self._v1.app_table_record.create, "bitable.write",
                         write_table=table_id, context=context)
        return as_dict(getattr(data, "record", None)) or {}

    def batch_create(self, app_token: str, table_id: str, rows: list[Json], *, client_token: str | None = None,
                     user_id_type: str | None = None, context: str = "") -> list[Json]:
        """Records from field dicts (≤500); with a client token a retry is safe. Returns the records."""
        b = (BatchCreateAppTableRecordRequest.builder().app_token(app_token).table_id(table_id)
             .request_body(BatchCreateAppTableRecordRequestBody({"records": [{"fields": r} for r in rows]})))
        if client_token:
            b = b.client_token(client_token)
        if user_id_type:
            b = b.user_id_type(user_id_type)
        data = self._run("bitable.record.batch_create", b.build(), self._v1.app_table_record.batch_create,
                         "bitable.write", retry_safe=client_token is not None, write_table=table_id,
                         context=context)
        return as_dict(getattr(data, "records", None)) or []

    def update_record(self, app_token: str, table_id: str, record_id: str, fields: Json, *,
                      context: str = "") -> Json:
        """Set cells of one record (people as open ids; None clears a cell). Returns the record."""
        req = (UpdateAppTableRecordRequest.builder().app_token(app_token).table_id(table_id)
               .record_id(record_id).user_id_type("open_id")
               .request_body({"fields": fields}).build())  # plain dict: keeps null (clear) values
        data = self._run("bitable.record.update", req, self._v1.app_table_record.update, "bitable.write",
                         write_table=table_id, context=context)
        return as_dict(getattr(data, "record", None)) or {}

    def batch_update(self, app_token: str, table_id: str, records: list[Json], *,
                     context: str = "") -> dict[str, int]:
        """`[{"record_id", "fields"}]` (≤ the batch limit; None clears a cell). Returns each written
        record's new last_modified_time (ms) by record id (only those Feishu reported)."""
        # A plain-dict body: the SDK drops None from its typed models, and None (JSON null) is how
        # Feishu clears a cell (e.g. 偏差(天) when a date moved later). Plain dicts keep it.
        req = (BatchUpdateAppTableRecordRequest.builder().app_token(app_token).table_id(table_id)
               .user_id_type("open_id").request_body({"records": records}).build())
        data = self._run("bitable.record.batch_update", req, self._v1.app_table_record.batch_update,
                         "bitable.write", write_table=table_id, context=context)
        return {r.record_id: int(r.last_modified_time) for r in (getattr(data, "records", None) or [])
                if r.record_id and r.last_modified_time}

    def batch_delete(self, app_token: str, table_id: str, record_ids: list[str], *, context: str = "") -> None:
        req = (BatchDeleteAppTableRecordRequest.builder().app_token(app_token).table_id(table_id)
               .request_body(BatchDeleteAppTableRecordRequestBody({"records": record_ids})).build())
        self._run("bitable.record.batch_delete", req, self._v1.app_table_record.batch_delete, "bitable.write",
                  write_table=table_id, context=context)

    # -- advanced permissions --------------------------------------------------------------
    def list_roles(self, app_token: str) -> list[Json]:
        req = ListAppRoleRequest.builder().app_token(app_token).page_size(100).build()
        data = self._run("base.role.list", req, self.gw.client.base.v2.app_role.list, "bitable.schema_read",
                         context=app_token)
        return as_dict(getattr(data, "items", None)) or []

    def create_role(self, app_token: str, body: Json, *, context: str = "") -> Json:
        """A role from its v2 body (runs once: no client token). Returns the role."""
        req = CreateAppRoleRequest.builder().app_token(app_token).request_body(Role(body)).build()
        data = self._run("base.role.create", req, self.gw.client.base.v2.app_role.create,
                         "bitable.schema_write", retry_safe=False, context=context)
        return as_dict(getattr(data, "role", None)) or {}

    def list_role_members(self, app_token: str, role_id: str) -> list[Json]:
        req = ListAppRoleMemberRequest.builder().app_token(app_token).role_id(role_id).page_size(100).build()
        data = self._run("bitable.role_member.list", req, self._v1.app_role_member.list, "bitable.schema_read",
                         context=role_id)
        return as_dict(getattr(data, "items", None)) or []

    def add_role_member(self, app_token: str, role_id: str, id_type: str, member_id: str, *,
                        context: str = "") -> None:
        req = (CreateAppRoleMemberRequest.builder().app_token(app_token).role_id(role_id)
               .member_id_type(id_type).request_body(AppRoleMember({"member_id": member_id})).build())
        self._run("bitable.role_member.create", req, self._v1.app_role_member.create, "bitable.schema_write",
                  context=context)

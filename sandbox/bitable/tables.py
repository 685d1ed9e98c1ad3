"""Tables (`…/apps/:app_token/tables`): list, create (with fields), batch create, rename, delete."""
from __future__ import annotations

from typing import Any

from gtm.sandbox.bitable.fields import after_field_create, validate_field_spec
from gtm.sandbox.bitable.routes import TABLE, TABLES, Call, Data, Routes, page
from gtm.sandbox.bitable.store import MAX_TABLES, PRIMARY_TYPES, Base
from gtm.sandbox.errors import ApiError

routes = Routes()


def build_fields(specs: Any, base: Base) -> list[dict[str, Any]]:
    """The fields of a new table: unique names, the first one a type that can be primary."""
    if not isinstance(specs, list) or not specs:
        raise ApiError(1254001, "WrongRequestBody: fields must be a non-empty list")
    names = set()
    out = []
    for i, s in enumerate(specs):
        s = validate_field_spec(s, base, None)
        if s["field_name"] in names:
            raise ApiError(1254014, f"FieldNameDuplicated: {s['field_name']!r}")
        names.add(s["field_name"])
        if i == 0 and s["type"] not in PRIMARY_TYPES:
            raise ApiError(1254001, f"WrongRequestBody: the first (primary) field {s['field_name']!r} "
                                    f"cannot have type {s['type']}")
        out.append(s)
    return out


def check_table_name(base: Base, name: Any, skip: str | None = None) -> str:
    if not isinstance(name, str) or not name.strip():
        raise ApiError(1254001, "WrongRequestBody: table name is required")
    if len(name) > 100 or any(ch in name for ch in "[]/\\?*:"):
        raise ApiError(1254001, f"WrongRequestBody: invalid table name {name!r}")
    if any(t.name == name and t.table_id != skip for t in base.tables.values()):
        raise ApiError(1254013, f"TableNameDuplicated: {name!r}")
    return name


@routes.route("GET", TABLES, need="view")
def list_tables(c: Call) -> Data:
    return page([t.to_api() for t in c.base.tables.values()], c.request, 20, 100, "table_id")


def _table_spec(c: Call) -> None:
    if not isinstance(c.body.get("table"), dict):
        raise ApiError(1254001, "WrongRequestBody: 'table' is required")


@routes.route("POST", TABLES, need="edit", body=True, check=_table_spec)
def create_table(c: Call) -> Data:
    b, spec = c.base, c.body["table"]
    name = check_table_name(b, spec.get("name"))
    if len(b.tables) >= MAX_TABLES:
        raise ApiError(1254100, f"TableExceedLimit: at most {MAX_TABLES} tables")
    if spec.get("default_view_name") and not spec.get("fields"):
        raise ApiError(1254001, "WrongRequestBody: default_view_name needs fields")
    fields = build_fields(spec["fields"], b) if spec.get("fields") else None
    t = c.svc.store.create_table(b, name, fields, spec.get("default_view_name"))
    after_field_create(b, t, list(t.fields.values()))
    b.revision += 1
    return {"table_id": t.table_id, "default_view_id": next(iter(t.views)), "field_id_list": list(t.fields)}


@routes.route("POST", TABLES + "/batch_create", need="edit", body=True)
def batch_create_tables(c: Call) -> Data:
    b = c.base
    names = [check_table_name(b, s.get("name")) for s in c.body.get("tables") or []]
    if len(set(names)) != len(names):
        raise ApiError(1254013, "TableNameDuplicated: the request repeats a name")
    if len(b.tables) + len(names) > MAX_TABLES:
        raise ApiError(1254100, f"TableExceedLimit: at most {MAX_TABLES} tables")
    return {"table_ids": [c.svc.store.create_table(b, n, None).table_id for n in names]}


def _table_ids(c: Call) -> None:
    ids = c.body.get("table_ids") or []
    if not isinstance(ids, list) or not 1 <= len(ids) <= 50:
        raise ApiError(1254001, "WrongRequestBody: table_ids must hold 1-50 ids")


@routes.route("POST", TABLES + "/batch_delete", need="edit", body=True, check=_table_ids)
def batch_delete_tables(c: Call) -> Data:
    b, ids = c.base, c.body["table_ids"]
    for tid in ids:
        if tid not in b.tables:
            raise ApiError(1254041, f"TableIdNotFound: {tid}")
    for tid in ids:
        del b.tables[tid]
    return {}


@routes.route("PATCH", TABLE, need="edit", body=True)
def patch_table(c: Call) -> Data:
    t = c.table
    t.name = check_table_name(c.base, c.body.get("name"), t.table_id)
    t.revision += 1
    return {"name": t.name}


@routes.route("DELETE", TABLE, need="edit")
def delete_table(c: Call) -> Data:
    del c.base.tables[c.table.table_id]
    return {}

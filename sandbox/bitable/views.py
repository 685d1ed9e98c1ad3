"""Views (`…/tables/:table_id/views`): list, create, get, patch (name, filter, hidden fields), delete.

A table keeps at least one view (1254008); a view filter is compiled on save, so a bad operator or
value is refused then (1254018) rather than at the next search.
"""
from __future__ import annotations

import json
from typing import Any

from gtm.sandbox.bitable.filters import compile_view_filter
from gtm.sandbox.bitable.routes import TABLE, Call, Data, Routes, page
from gtm.sandbox.bitable.store import MAX_VIEWS, VIEW_TYPES, Table, View
from gtm.sandbox.errors import ApiError
from gtm.sandbox.state import new_id

routes = Routes()
VIEWS = TABLE + "/views"


def check_view_name(t: Table, name: Any, skip: str | None = None) -> str:
    if not isinstance(name, str) or not name.strip():
        raise ApiError(1254021, "EmptyViewName: view_name is required")
    if len(name) > 100 or "[" in name or "]" in name:
        raise ApiError(1254022, f"InvalidViewName: {name!r} (≤100 characters, no [ ])")
    if any(v.name == name and v.view_id != skip for v in t.views.values()):
        raise ApiError(1254020, f"ViewNameDuplicated: {name!r}")
    return name


@routes.route("GET", VIEWS, need="view")
def list_views(c: Call) -> Data:
    return page([v.to_api() for v in c.table.views.values()], c.request, 20, 100, "view_id")


@routes.route("POST", VIEWS, need="edit", body=True, write=True)
def create_view(c: Call) -> Data:
    t = c.table
    name = check_view_name(t, c.body.get("view_name"))
    vtype = c.body.get("view_type") or "grid"
    if vtype not in VIEW_TYPES:
        raise ApiError(1254019, f"InvalidViewType: {vtype!r}")
    if len(t.views) >= MAX_VIEWS:
        raise ApiError(1254101, f"ViewExceedLimit: at most {MAX_VIEWS} views")
    v = View(new_id("vew", 7), name, vtype)
    t.views[v.view_id] = v
    return {"view": v.to_api()}


@routes.route("GET", VIEWS + "/{view_id}", need="view")
def get_view(c: Call) -> Data:
    return {"view": c.view.to_api(full=True)}


def _filter_info(c: Call, fi: dict[str, Any]) -> dict[str, Any]:
    """A view's filter as stored: field types and condition ids added, values as JSON text."""
    t = c.table
    conds = []
    for cond in fi.get("conditions") or []:
        f = t.fields.get(cond.get("field_id", ""))
        if f is None:
            raise ApiError(1254009, f"WrongFieldId: filter condition field {cond.get('field_id')!r}")
        val = cond.get("value")
        if val is not None and not isinstance(val, str):
            val = json.dumps(val, ensure_ascii=False)
        conds.append({"field_id": f.field_id, "operator": cond.get("operator", "is"),
                      "value": val, "condition_id": cond.get("condition_id") or new_id("con", 7),
                      "field_type": f.type})
    out = {"conjunction": fi.get("conjunction") or "and", "conditions": conds}
    compile_view_filter(out, t, c.svc.ctx(c.base), c.svc.clock())  # validates operators/values
    return out


@routes.route("PATCH", VIEWS + "/{view_id}", need="edit", body=True, write=True)
def patch_view(c: Call) -> Data:
    t, v, body = c.table, c.view, c.body
    if body.get("view_name") is not None:
        v.name = check_view_name(t, body["view_name"], v.view_id)
    prop = body.get("property") or {}
    newp = dict(v.property or {})
    if "filter_info" in prop:
        fi = prop["filter_info"]
        newp["filter_info"] = _filter_info(c, fi) if fi else fi
    if "hidden_fields" in prop:
        hidden = list(prop["hidden_fields"] or [])
        for fid in hidden:
            if fid not in t.fields:
                raise ApiError(1254009, f"WrongFieldId: hidden field {fid!r}")
        newp["hidden_fields"] = hidden
    if "hierarchy_config" in prop:
        newp["hierarchy_config"] = prop["hierarchy_config"]
    v.property = newp
    return {"view": v.to_api(full=True)}


def _not_last(c: Call) -> None:
    if len(c.table.views) == 1:
        raise ApiError(1254008, "EmptyView: a table keeps at least one view")


@routes.route("DELETE", VIEWS + "/{view_id}", need="edit", guard=_not_last, write=True)
def delete_view(c: Call) -> Data:
    c.table.views.pop(c.view.view_id, None)
    return {}

"""Fields (`…/tables/:table_id/fields`): list, create, update, delete, and the field-spec rules
that creating a table shares.

- updating a field with exactly its current definition answers 1254606 DataNotChange;
- changing a field's type clears its cells (Feishu converts; the sandbox does not);
- a DuplexLink field gets its back field in the linked table (named after this table, `_` added
  until the name is free).
"""
from __future__ import annotations

from typing import Any

from gtm.sandbox.bitable.routes import TABLE, Call, Data, Routes, page
from gtm.sandbox.bitable.store import (
    DEFAULT_UI, DUPLEX_LINK, MAX_FIELDS, MULTI_SELECT, PRIMARY_TYPES, SINGLE_LINK, SINGLE_SELECT, Base, Field,
    Table)
from gtm.sandbox.errors import ApiError
from gtm.sandbox.state import new_id

routes = Routes()
FIELDS = TABLE + "/fields"


def _norm_description(d: Any) -> dict[str, Any] | None:
    if d in (None, "", {}):
        return None
    if isinstance(d, str):
        return {"text": d, "disable_sync": False}
    if isinstance(d, dict):
        return {"text": str(d.get("text", "")), "disable_sync": bool(d.get("disable_sync", False))}
    raise ApiError(1254001, "WrongRequestBody: description must be a string or {text, disable_sync}")


def _normalise_options(prop: dict[str, Any] | None, old: Field | None = None, field_name: str = "",
                       ftype: int = SINGLE_SELECT) -> dict[str, Any] | None:
    """Give options ids and colours; with `old`, keep ids that are sent (full replace)."""
    if not prop or "options" not in prop or prop["options"] is None:
        return prop
    code = 1254082 if ftype == SINGLE_SELECT else 1254083
    opts = []
    color = -1
    old_ids = {o["id"]: o for o in old.options()} if old else {}
    seen = set()
    for o in prop["options"]:
        if not isinstance(o, dict) or not str(o.get("name", "")).strip():
            raise ApiError(1254026, f"EmptyOptionName: an option of field '{field_name}' has no name")
        if o["name"] in seen:
            raise ApiError(code, f"field '{field_name}' has the option {o['name']!r} twice", 400)
        seen.add(o["name"])
        oid = o.get("id") if o.get("id") in old_ids else new_id("opt", 7)
        c = o.get("color")
        if c is None:
            c = old_ids[oid]["color"] if oid in old_ids else (color + 1) % 55
        if not isinstance(c, int) or not 0 <= c <= 54:
            raise ApiError(code, f"option colour must be 0-54 in field '{field_name}'", 400)
        color = c
        opts.append({"id": oid, "name": o["name"], "color": c})
    return dict(prop, options=opts)


def validate_field_spec(s: Any, base: Base, old: Field | None) -> dict[str, Any]:
    """A field definition from a request body, checked and normalised (option ids, description)."""
    if not isinstance(s, dict):
        raise ApiError(1254001, "WrongRequestBody: a field must be an object")
    name = s.get("field_name")
    if not isinstance(name, str) or not name.strip():
        raise ApiError(1254028, "EmptyFieldName: field_name is required", 400)
    if len(name) > 100 or any(ch in name for ch in "[]"):
        raise ApiError(1254029, f"InvalidFieldName: {name!r}", 400)
    try:
        ftype = int(s.get("type"))
    except (TypeError, ValueError):
        raise ApiError(1254001, f"WrongRequestBody: field {name!r} needs a numeric type")
    if ftype not in DEFAULT_UI:
        raise ApiError(1254001, f"WrongRequestBody: field {name!r} has unknown type {ftype}")
    prop = s.get("property")
    if prop is not None and not isinstance(prop, dict):
        raise ApiError(1254080, f"field {name!r}: property must be an object", 400)
    if ftype in (SINGLE_SELECT, MULTI_SELECT):
        prop = _normalise_options(prop, old if old is not None and old.type in (SINGLE_SELECT, MULTI_SELECT) else None,
                                  name, ftype)
    if ftype in (SINGLE_LINK, DUPLEX_LINK):
        tid = (prop or {}).get("table_id")
        if tid not in base.tables:
            raise ApiError(1254089 if ftype == SINGLE_LINK else 1254092,
                           f"field {name!r}: property.table_id {tid!r} is not a table of this base", 400)
    if ftype == 15 and prop == {}:
        raise ApiError(1254087, f"URLFieldPropertyError: field {name!r} must leave property out", 400)
    return {"field_name": name, "type": ftype, "ui_type": s.get("ui_type") or DEFAULT_UI[ftype],
            "property": prop, "description": _norm_description(s.get("description"))}


def after_field_create(base: Base, table: Table, new_fields: list[Field]) -> None:
    """DuplexLink fields get their back field in the linked table."""
    for f in new_fields:
        if f.type != DUPLEX_LINK or (f.property or {}).get("back_field_id"):
            continue
        other = base.tables[f.property["table_id"]]
        back_name = f.property.get("back_field_name") or table.name
        while other.field_by_name(back_name):
            back_name += "_"
        back = Field(new_id("fld", 7), back_name, DUPLEX_LINK, "DuplexLink",
                     {"table_id": table.table_id, "back_field_id": f.field_id, "back_field_name": f.name,
                      "multiple": True})
        other.fields[back.field_id] = back
        f.property = dict(f.property, back_field_id=back.field_id, back_field_name=back_name)


@routes.route("GET", FIELDS, need="view")
def list_fields(c: Call) -> Data:
    t, b = c.table, c.base
    items = [f.to_api(t, b) for f in t.fields.values()]
    vid = c.query.get("view_id")
    if vid:
        v = t.views.get(vid)
        if v is None:
            raise ApiError(1254042, f"ViewIdNotFound: {vid}")
        hidden = set((v.property or {}).get("hidden_fields") or [])
        items = [i for i in items if i["field_id"] not in hidden]
    return page(items, c.request, 20, 100, "field_id")


@routes.route("POST", FIELDS, need="edit", body=True, idempotent=True, write=True)
def create_field(c: Call) -> Data:
    t, b = c.table, c.base
    s = validate_field_spec(c.body, b, None)
    if t.field_by_name(s["field_name"]):
        raise ApiError(1254014, f"FieldNameDuplicated: {s['field_name']!r}")
    if len(t.fields) >= MAX_FIELDS:
        raise ApiError(1254105, f"ColumnExceedLimit: at most {MAX_FIELDS} fields")
    f = Field(new_id("fld", 7), s["field_name"], s["type"], s["ui_type"], s["property"], s["description"])
    t.fields[f.field_id] = f
    after_field_create(b, t, [f])
    t.revision += 1
    return {"field": f.to_api(t, b)}


@routes.route("PUT", FIELDS + "/{field_id}", need="edit", body=True, write=True)
def update_field(c: Call) -> Data:
    t, b, f = c.table, c.base, c.field
    s = validate_field_spec(c.body, b, f)
    other = t.field_by_name(s["field_name"])
    if other is not None and other.field_id != f.field_id:
        raise ApiError(1254014, f"FieldNameDuplicated: {s['field_name']!r}")
    if f.is_primary and s["type"] not in PRIMARY_TYPES:
        raise ApiError(1254001, f"WrongRequestBody: the primary field cannot have type {s['type']}")
    if (s["field_name"], s["type"], s["ui_type"], s["property"], s["description"]) == \
            (f.name, f.type, f.ui_type, f.property, f.description):
        raise ApiError(1254606, f"DataNotChange: field {f.name!r} already has this definition")
    if s["type"] != f.type:
        for r in t.records.values():
            r.values.pop(f.field_id, None)
        t.version += 1
    f.name, f.type, f.ui_type, f.property, f.description = (
        s["field_name"], s["type"], s["ui_type"], s["property"], s["description"])
    after_field_create(b, t, [f])
    t.revision += 1
    return {"field": f.to_api(t, b)}


def _not_primary(c: Call) -> None:
    if c.field.is_primary:
        raise ApiError(1254046, f"the primary field {c.field.name!r} cannot be deleted")


@routes.route("DELETE", FIELDS + "/{field_id}", need="edit", guard=_not_primary, write=True)
def delete_field(c: Call) -> Data:
    t, f = c.table, c.field
    del t.fields[f.field_id]
    for r in t.records.values():
        r.values.pop(f.field_id, None)
    for v in t.views.values():
        hf = (v.property or {}).get("hidden_fields")
        if hf and f.field_id in hf:
            hf.remove(f.field_id)
    t.version += 1
    t.revision += 1
    return {"field_id": f.field_id, "deleted": True}

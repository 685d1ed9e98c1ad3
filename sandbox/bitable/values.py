"""Cell values: write format → stored value → read format, per field type (docs/feishu-api.md §3.2).

Wrong shapes get the documented conversion codes (1254060 text … 1254072 phone). Choices where
the docs are UNCONFIRMED:
- writing to a read-only field (formula, lookup, created/modified time/user, auto number) answers
  400 1254015 FieldTypeValueNotMatch;
- an Email-ui text reads as a one-element list `[{"type":"url","text","link":"mailto:…"}]`;
- formula/lookup fields hold no computed value in the sandbox (omitted on read);
- writing to a GroupChat field with a wrong shape answers 1254015 (no dedicated code documented);
- link ids that do not exist in the linked table answer 1254067 (DuplexLink: 400 1254074).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from gtm.sandbox.bitable.store import (
    ATTACHMENT, AUTO_NUMBER, BUTTON, CHECKBOX, CREATED_TIME, CREATED_USER, DATETIME, DUPLEX_LINK, FORMULA,
    GROUP_CHAT, LOCATION, LOOKUP, MODIFIED_TIME, MODIFIED_USER, MULTI_SELECT, NUMBER, PHONE, READ_ONLY,
    SINGLE_LINK, SINGLE_SELECT, STAGE, TEXT, URL, USER, Base, Field, Record)
from gtm.sandbox.errors import ApiError
from gtm.sandbox.state import World

PHONE_RE = re.compile(r"^(\+)?\d*$")
CONV_CODES = {TEXT: (1254060, "TextFieldConvFail"), NUMBER: (1254061, "NumberFieldConvFail"),
              SINGLE_SELECT: (1254062, "SingleSelectFieldConvFail"),
              MULTI_SELECT: (1254063, "MultiSelectFieldConvFail"), DATETIME: (1254064, "DatetimeFieldConvFail"),
              CHECKBOX: (1254065, "CheckboxFieldConvFail"), USER: (1254066, "UserFieldConvFail"),
              SINGLE_LINK: (1254067, "LinkFieldConvFail"), URL: (1254068, "URLFieldConvFail"),
              ATTACHMENT: (1254069, "AttachFieldConvFail"), PHONE: (1254072, "PhoneFieldConvFail")}


@dataclass
class ValueContext:
    """What conversions need besides the value: people, chats, the base, the caller's id type."""

    world: World
    base: Base
    user_id_type: str = "open_id"

    def user_to_open_id(self, uid: str) -> str | None:
        if self.user_id_type == "open_id":
            return uid if uid in self.world.users or self._is_bot(uid) else None
        attr = "user_id" if self.user_id_type == "user_id" else "union_id"
        return next((u.open_id for u in self.world.users.values() if getattr(u, attr) == uid), None)

    def _is_bot(self, open_id: str) -> bool:
        return any(a.bot_open_id == open_id for a in self.world.apps.values())

    def person(self, open_id: str) -> dict[str, Any]:
        u = self.world.users.get(open_id)
        if u is None:
            app = next((a for a in self.world.apps.values() if a.bot_open_id == open_id or a.app_id == open_id), None)
            name = app.name if app else ""
            return {"id": open_id, "name": name, "en_name": name, "email": "", "avatar_url": ""}
        d = u.public()
        if self.user_id_type == "user_id":
            d["id"] = u.user_id
        elif self.user_id_type == "union_id":
            d["id"] = u.union_id
        return d


def _fail(field: Field, value: Any, why: str) -> ApiError:
    code, name = CONV_CODES.get(field.type, (1254015, "FieldTypeValueNotMatch"))
    status = 200
    if field.type == DUPLEX_LINK:
        code, name, status = 1254074, "DuplexLinkFieldConvFail", 400
    elif code == 1254015:
        status = 400
    shown = repr(value)
    if len(shown) > 80:
        shown = shown[:77] + "..."
    return ApiError(code, f"{name}: field '{field.name}' ({field.field_id}) {why}; got {shown}", status)


def is_empty_write(value: Any) -> bool:
    return value is None or value == "" or value == [] or value == {}


def to_stored(field: Field, value: Any, ctx: ValueContext) -> Any:
    """Validate one written cell and return its stored form (None clears the cell)."""
    t = field.type
    if t in READ_ONLY:
        raise ApiError(1254015, f"FieldTypeValueNotMatch: field '{field.name}' is read only", 400)
    if is_empty_write(value):
        return None
    if t == TEXT:
        if isinstance(value, str):
            return value
        if isinstance(value, list) and all(isinstance(s, dict) and isinstance(s.get("text"), str) for s in value):
            return "".join(s["text"] for s in value)
        raise _fail(field, value, "expects a string")
    if t == NUMBER:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise _fail(field, value, "expects a number")
        return value
    if t == SINGLE_SELECT:
        if not isinstance(value, str):
            raise _fail(field, value, "expects an option name (string)")
        opt = field.option_by_name(value) or field.add_option(value)
        return opt["id"]
    if t == MULTI_SELECT:
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            raise _fail(field, value, "expects a list of option names")
        if len(value) > 1000:
            raise _fail(field, value, "has more than 1000 options in one cell")
        ids: list[str] = []
        for name in value:
            oid = (field.option_by_name(name) or field.add_option(name))["id"]
            if oid not in ids:
                ids.append(oid)
        return ids
    if t == DATETIME:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or int(value) != value:
            raise _fail(field, value, "expects a millisecond timestamp (integer)")
        return int(value)
    if t == CHECKBOX:
        if not isinstance(value, bool):
            raise _fail(field, value, "expects true or false")
        return value
    if t == USER:
        if not isinstance(value, list) or not all(isinstance(v, dict) and isinstance(v.get("id"), str) for v in value):
            raise _fail(field, value, 'expects [{"id": "<user id>"}]')
        out: list[str] = []
        for v in value:
            oid = ctx.user_to_open_id(v["id"])
            if oid is None:
                raise _fail(field, value, f"names an unknown {ctx.user_id_type} {v['id']!r}")
            if oid not in out:
                out.append(oid)
        if len(out) > 1 and (field.property or {}).get("multiple") is False:
            raise _fail(field, value, "allows one person only")
        return out
    if t == PHONE:
        if not isinstance(value, str) or len(value) > 64 or not PHONE_RE.match(value):
            raise _fail(field, value, "expects a phone number matching (\\+)?\\d*")
        return value
    if t == URL:
        if not isinstance(value, dict) or not isinstance(value.get("link"), str):
            raise _fail(field, value, 'expects {"text": ..., "link": "https://..."}')
        return {"text": str(value.get("text") or value["link"]), "link": value["link"]}
    if t == ATTACHMENT:
        if not isinstance(value, list) or not all(isinstance(v, dict) and v.get("file_token") for v in value):
            raise _fail(field, value, 'expects [{"file_token": ...}]')
        return [{"file_token": v["file_token"], "name": v.get("name", v["file_token"]),
                 "type": v.get("type", "application/octet-stream"), "size": int(v.get("size", 0))} for v in value]
    if t in (SINGLE_LINK, DUPLEX_LINK):
        ids = value.get("link_record_ids") if isinstance(value, dict) else value
        if isinstance(ids, str):
            ids = [ids]
        if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
            raise _fail(field, value, "expects a list of record ids")
        target = ctx.base.tables.get((field.property or {}).get("table_id", ""))
        if target is not None:
            missing = [i for i in ids if i not in target.records]
            if missing:
                raise _fail(field, value, f"links to records that do not exist: {missing[:5]}")
        return list(dict.fromkeys(ids))
    if t == LOCATION:
        if not isinstance(value, str) or not re.match(r"^-?\d+(\.\d+)?,-?\d+(\.\d+)?$", value):
            raise _fail(field, value, 'expects "longitude,latitude"')
        return value
    if t == GROUP_CHAT:
        if not isinstance(value, list) or not all(isinstance(v, dict) and isinstance(v.get("id"), str) for v in value):
            raise _fail(field, value, 'expects [{"id": "oc_..."}]')
        for v in value:
            if v["id"] not in ctx.world.chats:
                raise _fail(field, value, f"names an unknown chat {v['id']!r}")
        return [v["id"] for v in value]
    raise ApiError(1254015, f"FieldTypeValueNotMatch: field '{field.name}' has unsupported type {t}", 400)


def read_value(field: Field, rec: Record, ctx: ValueContext) -> Any:
    """The read format (search/get/batch_get) of one cell; None means the cell is empty (omitted)."""
    t = field.type
    if t == CREATED_TIME:
        return rec.created_time
    if t == MODIFIED_TIME:
        return rec.modified_time
    if t == CREATED_USER:
        return [ctx.person(rec.created_by)]
    if t == MODIFIED_USER:
        return [ctx.person(rec.modified_by)]
    if t == AUTO_NUMBER:
        return str(rec.auto_number)
    if t in (FORMULA, LOOKUP, STAGE, BUTTON):
        return None
    v = rec.values.get(field.field_id)
    if v is None:
        return None
    if t == TEXT:
        if field.ui_type == "Email":
            return [{"type": "url", "text": v, "link": f"mailto:{v}"}]
        return [{"type": "text", "text": v}]
    if t == SINGLE_SELECT:
        opt = field.option_by_id(v)
        return opt["name"] if opt else None
    if t == MULTI_SELECT:
        names = [o["name"] for o in (field.option_by_id(i) for i in v) if o]
        return names or None
    if t == USER:
        return [ctx.person(i) for i in v]
    if t == URL:
        return dict(v)
    if t == ATTACHMENT:
        return [dict(a, url=f"https://sandbox.invalid/file/{a['file_token']}",
                     tmp_url=f"https://sandbox.invalid/tmp/{a['file_token']}") for a in v]
    if t in (SINGLE_LINK, DUPLEX_LINK):
        return {"link_record_ids": list(v)}
    if t == LOCATION:
        return {"location": v, "pname": "", "cityname": "", "adname": "", "address": "", "name": "",
                "full_address": v}
    if t == GROUP_CHAT:
        out = []
        for cid in v:
            chat = ctx.world.chats.get(cid)
            out.append({"id": cid, "name": chat.name if chat else "", "avatar_url": ""})
        return out
    return v  # number, date, checkbox, phone


def compare_value(field: Field, rec: Record, ctx: ValueContext) -> Any:
    """The plain value filters and sorts look at: str, float, int, bool or a list of str ids/names."""
    t = field.type
    if t == CREATED_TIME:
        return rec.created_time
    if t == MODIFIED_TIME:
        return rec.modified_time
    if t == CREATED_USER:
        return [rec.created_by]
    if t == MODIFIED_USER:
        return [rec.modified_by]
    if t == AUTO_NUMBER:
        return str(rec.auto_number)
    v = rec.values.get(field.field_id)
    if v is None:
        return None
    if t == SINGLE_SELECT:
        opt = field.option_by_id(v)
        return opt["name"] if opt else None
    if t == MULTI_SELECT:
        return [o["name"] for o in (field.option_by_id(i) for i in v) if o]
    if t == URL:
        return v.get("text") or v.get("link")
    if t == ATTACHMENT:
        return [a["file_token"] for a in v]
    return v


def write_record(fields_by_name: dict[str, Any], table_fields: dict[str, Field], ctx: ValueContext,
                 by_name: dict[str, Field] | None = None) -> dict[str, Any]:
    """Convert a written `fields` dict (names → write format) into {field_id: stored} (None = clear)."""
    if not isinstance(fields_by_name, dict):
        raise ApiError(1254001, "WrongRequestBody: record 'fields' must be an object")
    names = by_name or {f.name: f for f in table_fields.values()}
    out: dict[str, Any] = {}
    for name, value in fields_by_name.items():
        f = names.get(name)
        if f is None:
            raise ApiError(1254045, f"FieldNameNotFound: no field named {name!r} in this table")
        out[f.field_id] = to_stored(f, value, ctx)
    return out

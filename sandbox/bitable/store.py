"""The Bitable data: bases → tables → fields, views, records (docs/feishu-api.md §2–§3).

Records live in insertion-ordered dicts keyed by record id and hold their values by field id
(so renaming a field does not touch 50,000 records). Stored values are the internal form of
`values` (option ids, open_ids, ms ints), converted to the write/read formats at the edge.
Everything is guarded by `World.lock` in the callers; this module does no locking itself.
"""
from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Any, Callable

from gtm.sandbox.state import new_id

# type ids (docs/feishu-api.md §3.1)
TEXT, NUMBER, SINGLE_SELECT, MULTI_SELECT, DATETIME, CHECKBOX, USER, PHONE, URL = 1, 2, 3, 4, 5, 7, 11, 13, 15
ATTACHMENT, SINGLE_LINK, LOOKUP, FORMULA, DUPLEX_LINK, LOCATION, GROUP_CHAT, STAGE = 17, 18, 19, 20, 21, 22, 23, 24
CREATED_TIME, MODIFIED_TIME, CREATED_USER, MODIFIED_USER, AUTO_NUMBER, BUTTON = 1001, 1002, 1003, 1004, 1005, 3001

DEFAULT_UI = {TEXT: "Text", NUMBER: "Number", SINGLE_SELECT: "SingleSelect", MULTI_SELECT: "MultiSelect",
              DATETIME: "DateTime", CHECKBOX: "Checkbox", USER: "User", PHONE: "Phone", URL: "Url",
              ATTACHMENT: "Attachment", SINGLE_LINK: "SingleLink", LOOKUP: "Lookup", FORMULA: "Formula",
              DUPLEX_LINK: "DuplexLink", LOCATION: "Location", GROUP_CHAT: "GroupChat", STAGE: "Stage",
              CREATED_TIME: "CreatedTime", MODIFIED_TIME: "ModifiedTime", CREATED_USER: "CreatedUser",
              MODIFIED_USER: "ModifiedUser", AUTO_NUMBER: "AutoNumber", BUTTON: "Button"}
READ_ONLY = {LOOKUP, FORMULA, STAGE, CREATED_TIME, MODIFIED_TIME, CREATED_USER, MODIFIED_USER, AUTO_NUMBER, BUTTON}
# types a primary field may have (docs/feishu-api.md §2.2 "types 1,2,5,13,15,20,22 only"; plus auto number)
PRIMARY_TYPES = {TEXT, NUMBER, DATETIME, PHONE, URL, FORMULA, LOCATION, AUTO_NUMBER}
VIEW_TYPES = ("grid", "kanban", "gallery", "gantt", "form")
MAX_VIEWS = 200
MAX_FIELDS = 300
MAX_TABLES = 100


@dataclass
class Field:
    field_id: str
    name: str
    type: int
    ui_type: str = ""
    property: dict[str, Any] | None = None
    description: dict[str, Any] | None = None
    is_primary: bool = False
    is_hidden: bool = False

    def options(self) -> list[dict[str, Any]]:
        return list((self.property or {}).get("options") or [])

    def option_by_name(self, name: str) -> dict[str, Any] | None:
        return next((o for o in self.options() if o.get("name") == name), None)

    def option_by_id(self, oid: str) -> dict[str, Any] | None:
        return next((o for o in self.options() if o.get("id") == oid), None)

    def add_option(self, name: str) -> dict[str, Any]:
        """Unknown option names create options on write (docs/feishu-api.md §3.2)."""
        opts = self.options()
        color = (opts[-1].get("color", -1) + 1) % 55 if opts else 0
        opt = {"id": new_id("opt", 7), "name": name, "color": color}
        prop = dict(self.property or {})
        prop["options"] = opts + [opt]
        self.property = prop
        return opt

    def to_api(self, table: "Table | None" = None, base: "Base | None" = None) -> dict[str, Any]:
        d: dict[str, Any] = {"field_id": self.field_id, "field_name": self.name, "type": self.type,
                             "ui_type": self.ui_type or DEFAULT_UI.get(self.type, ""),
                             "is_primary": self.is_primary, "is_hidden": self.is_hidden,
                             "property": self.property}
        if self.type in (SINGLE_LINK, DUPLEX_LINK) and self.property and base is not None:
            other = base.tables.get(self.property.get("table_id", ""))
            prop = dict(self.property)
            if other:
                prop["table_name"] = other.name
            d["property"] = prop
        # SDK 1.7.5 types `description` as an object ({"text","disable_sync"}); a string would make
        # the typed client raise UnmarshalException, so the sandbox answers the object form.
        if self.description:
            d["description"] = self.description
        return d


@dataclass
class View:
    view_id: str
    name: str
    type: str = "grid"
    property: dict[str, Any] = field(default_factory=dict)
    public_level: str = "Public"

    def to_api(self, full: bool = False) -> dict[str, Any]:
        d: dict[str, Any] = {"view_id": self.view_id, "view_name": self.name, "view_type": self.type,
                             "view_public_level": self.public_level}
        if full:
            d["property"] = self.property or {}
        return d


@dataclass
class Record:
    record_id: str
    values: dict[str, Any]  # field_id -> stored value
    created_time: int
    created_by: str  # open_id (user or app bot)
    modified_time: int
    modified_by: str
    auto_number: int = 0


@dataclass
class Table:
    table_id: str
    name: str
    fields: dict[str, Field] = field(default_factory=dict)
    views: dict[str, View] = field(default_factory=dict)
    records: dict[str, Record] = field(default_factory=dict)
    revision: int = 1
    next_auto: int = 1
    version: int = 0  # bumps on every record change (search caches key on it)
    busy: bool = False  # a write is in progress (1254291 for a second one)

    def field_by_name(self, name: str) -> Field | None:
        for f in self.fields.values():
            if f.name == name:
                return f
        return None

    def primary(self) -> Field | None:
        return next((f for f in self.fields.values() if f.is_primary), None)

    def to_api(self) -> dict[str, Any]:
        return {"table_id": self.table_id, "name": self.name, "revision": self.revision}


@dataclass
class Base:
    app_token: str
    name: str
    tenant_key: str
    owner_app_id: str
    folder_token: str = ""
    time_zone: str = "Asia/Shanghai"
    is_advanced: bool = False
    revision: int = 1
    tables: dict[str, Table] = field(default_factory=dict)
    members: list[dict[str, Any]] = field(default_factory=list)  # drive permission members
    roles: dict[str, dict[str, Any]] = field(default_factory=dict)  # role_id -> role (API shape + "members")
    subscribers: list[str] = field(default_factory=list)  # app_ids subscribed to record changes
    created_time: int = 0


class BitableStore:
    """All bases of the sandbox plus idempotency memory; JSON round-trip for `--state`."""

    def __init__(self, clock: Callable[[], int] | None = None) -> None:
        self.bases: dict[str, Base] = {}
        self.client_tokens: dict[str, tuple[str, Any]] = {}  # key -> (body digest, response data)
        self.clock: Callable[[], int] = clock or (lambda: int(time.time() * 1000))

    # -- bases and tables ---------------------------------------------------------------
    def create_base(self, name: str, tenant_key: str, owner_app_id: str, folder_token: str = "",
                    time_zone: str = "Asia/Shanghai", default_table_name: str = "数据表") -> Base:
        base = Base(new_id("bas", 19), name, tenant_key, owner_app_id, folder_token, time_zone,
                    created_time=self.clock())
        self.bases[base.app_token] = base
        t = self.create_table(base, default_table_name, None)
        # a new base's default table has a few empty rows (OCL)
        owner = owner_app_id
        for _ in range(3):
            self.new_record(t, {}, owner)
        return base

    def create_table(self, base: Base, name: str, fields: list[dict[str, Any]] | None,
                     default_view_name: str | None = None) -> Table:
        t = Table(new_id("tbl", 13), name)
        specs = fields or [{"field_name": "文本", "type": TEXT}]
        for i, spec in enumerate(specs):
            f = Field(new_id("fld", 7), spec["field_name"], int(spec["type"]),
                      spec.get("ui_type") or DEFAULT_UI.get(int(spec["type"]), ""),
                      spec.get("property"), spec.get("description"), is_primary=(i == 0))
            t.fields[f.field_id] = f
        v = View(new_id("vew", 7), default_view_name or "表格", "grid")
        t.views[v.view_id] = v
        base.tables[t.table_id] = t
        return t

    def new_record(self, table: Table, values: dict[str, Any], by: str, now: int | None = None) -> Record:
        ts = self.clock() if now is None else now
        rec = Record(new_id("rec", 7), values, ts, by, ts, by, table.next_auto)
        while rec.record_id in table.records:
            rec.record_id = new_id("rec", 9)
        table.next_auto += 1
        table.records[rec.record_id] = rec
        table.version += 1
        return rec

    # -- persistence --------------------------------------------------------------------
    def to_json(self) -> dict[str, Any]:
        out = []
        for b in self.bases.values():
            d = asdict(b)
            for t in d["tables"].values():
                t["busy"] = False
            out.append(d)
        return {"bases": out}

    @classmethod
    def from_json(cls, data: dict[str, Any], clock: Callable[[], int] | None = None) -> "BitableStore":
        st = cls(clock)
        for bd in data.get("bases", []):
            tables = {}
            for tid, td in bd.pop("tables", {}).items():
                t = Table(td["table_id"], td["name"], revision=td.get("revision", 1),
                          next_auto=td.get("next_auto", 1), version=td.get("version", 0))
                t.fields = {k: Field(**v) for k, v in td.get("fields", {}).items()}
                t.views = {k: View(**v) for k, v in td.get("views", {}).items()}
                t.records = {k: Record(**v) for k, v in td.get("records", {}).items()}
                tables[tid] = t
            base = Base(**bd)
            base.tables = tables
            st.bases[base.app_token] = base
        return st

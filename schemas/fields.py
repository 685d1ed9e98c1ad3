"""Field and table declarations: one object says both the Python attribute and the Feishu field.

Everything else (provisioning, record mapping, write-back, drift checks) reads these specs, so the
Chinese field names appear exactly once in the code base: in `gtm.schemas.tables`.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum, IntEnum
from typing import Any


class FieldType(IntEnum):
    """Feishu Bitable field type ids (docs/feishu-api.md §3.1)."""

    TEXT = 1
    NUMBER = 2
    SINGLE_SELECT = 3
    MULTI_SELECT = 4
    DATETIME = 5
    CHECKBOX = 7
    USER = 11
    PHONE = 13
    URL = 15
    ATTACHMENT = 17
    SINGLE_LINK = 18
    LOOKUP = 19
    FORMULA = 20
    DUPLEX_LINK = 21
    LOCATION = 22
    GROUP_CHAT = 23
    CREATED_TIME = 1001
    MODIFIED_TIME = 1002
    CREATED_USER = 1003
    MODIFIED_USER = 1004
    AUTO_NUMBER = 1005


class Kind(str, Enum):
    """What a field holds, finer than the Feishu type (progress and currency are numbers)."""

    TEXT = "text"
    NUMBER = "number"
    INTEGER = "integer"
    PROGRESS = "progress"  # a fraction 0..1 in Feishu, shown as %
    CURRENCY = "currency"
    SELECT = "select"
    MULTI_SELECT = "multi_select"
    DATE = "date"  # a calendar day; Feishu stores midnight of the Base's timezone in ms
    DATETIME = "datetime"  # an instant (ms epoch)
    CHECKBOX = "checkbox"
    USER = "user"  # exactly one person (first of the list; more is a data problem)
    USERS = "users"
    URL = "url"
    LINK = "link"  # link to records of another table (by table key)
    GROUP_CHAT = "group_chat"
    MODIFIED_TIME = "modified_time"


KIND_TYPE: dict[Kind, tuple[FieldType, str | None]] = {
    Kind.TEXT: (FieldType.TEXT, "Text"),
    Kind.NUMBER: (FieldType.NUMBER, "Number"),
    Kind.INTEGER: (FieldType.NUMBER, "Number"),
    Kind.PROGRESS: (FieldType.NUMBER, "Progress"),
    Kind.CURRENCY: (FieldType.NUMBER, "Currency"),
    Kind.SELECT: (FieldType.SINGLE_SELECT, "SingleSelect"),
    Kind.MULTI_SELECT: (FieldType.MULTI_SELECT, "MultiSelect"),
    Kind.DATE: (FieldType.DATETIME, "DateTime"),
    Kind.DATETIME: (FieldType.DATETIME, "DateTime"),
    Kind.CHECKBOX: (FieldType.CHECKBOX, "Checkbox"),
    Kind.USER: (FieldType.USER, "User"),
    Kind.USERS: (FieldType.USER, "User"),
    Kind.URL: (FieldType.URL, "Url"),
    Kind.LINK: (FieldType.SINGLE_LINK, "SingleLink"),
    Kind.GROUP_CHAT: (FieldType.GROUP_CHAT, "GroupChat"),
    Kind.MODIFIED_TIME: (FieldType.MODIFIED_TIME, "ModifiedTime"),
}


class Writer(str, Enum):
    """Who owns a field's value. The service never writes a USER field on its own initiative."""

    USER = "user"  # people type it; the service writes it only on a person's explicit card action
    SERVICE = "service"  # computed by the service (偏差(天), 风险评分, 升级级别, 整体状态 …)
    SHARED = "shared"  # people own it, the service may set one computed value (状态 → 延期)


@dataclass(frozen=True)
class Option:
    """A select option with its Feishu colour index (0–54)."""

    name: str
    color: int
    en: str = ""


@dataclass(frozen=True)
class FieldSpec:
    """One Bitable field. `attr` is the Python attribute, `name` the Feishu field name."""

    attr: str
    name: str
    kind: Kind
    options: tuple[Option, ...] = ()
    link_table: str | None = None  # table key of the linked table, for Kind.LINK
    writer: Writer = Writer.USER
    required: bool = False
    en: str = ""  # English label, for cards in English
    description: str = ""
    # earlier Feishu names of this field (a Base made by an older release is adopted by them)
    aliases: tuple[str, ...] = ()
    currency: str = "CNY"  # ISO code shown by a currency field (the template's money unit)

    @property
    def type(self) -> FieldType:
        return KIND_TYPE[self.kind][0]

    @property
    def ui_type(self) -> str | None:
        return KIND_TYPE[self.kind][1]

    @property
    def option_names(self) -> tuple[str, ...]:
        return tuple(o.name for o in self.options)

    def create_body(self, table_ids: dict[str, str] | None = None) -> dict[str, Any]:
        """The body of a create/update-field request (a link field needs its target table's id)."""
        body: dict[str, Any] = {"field_name": self.name, "type": int(self.type)}
        if self.ui_type:
            body["ui_type"] = self.ui_type
        prop = self.property(table_ids)
        if prop is not None:
            body["property"] = prop
        elif self.kind is Kind.LINK:
            raise ValueError(f"link field {self.name} needs table {self.link_table} to exist first")
        if self.description:
            body["description"] = {"text": self.description, "disable_sync": True}
        return body

    def property(self, table_ids: dict[str, str] | None = None) -> dict[str, Any] | None:
        """The Feishu `property` for create/update; link fields need the target table id."""
        k = self.kind
        if k in (Kind.SELECT, Kind.MULTI_SELECT):
            return {"options": [{"name": o.name, "color": o.color} for o in self.options]}
        if k is Kind.NUMBER:
            return {"formatter": "0.0"}
        if k is Kind.INTEGER:
            return {"formatter": "0"}
        if k is Kind.CURRENCY:
            return {"formatter": "0.00", "currency_code": self.currency}
        if k is Kind.PROGRESS:
            return {"formatter": "0%", "range_customize": False}
        if k is Kind.DATE:
            return {"date_formatter": "yyyy/MM/dd", "auto_fill": False}
        if k is Kind.DATETIME:
            return {"date_formatter": "yyyy-MM-dd HH:mm", "auto_fill": False}
        if k is Kind.USER:
            return {"multiple": False}
        if k is Kind.USERS:
            return {"multiple": True}
        if k is Kind.GROUP_CHAT:
            return {"multiple": True}
        if k is Kind.MODIFIED_TIME:
            return {"date_formatter": "yyyy-MM-dd HH:mm"}
        if k is Kind.LINK:
            target = (table_ids or {}).get(self.link_table or "")
            return {"table_id": target, "multiple": True} if target else None
        return None


class ViewType(str, Enum):
    GRID = "grid"
    KANBAN = "kanban"
    GANTT = "gantt"
    GALLERY = "gallery"
    FORM = "form"


@dataclass(frozen=True)
class ViewFilter:
    """A view filter condition on a field (by attr); `value` uses the search-filter strings."""

    attr: str
    operator: str
    value: tuple[str, ...] = ()


@dataclass(frozen=True)
class ViewSpec:
    name: str
    type: ViewType = ViewType.GRID
    filters: tuple[ViewFilter, ...] = ()
    conjunction: str = "and"
    en: str = ""


@dataclass(frozen=True)
class TableSpec:
    """One Bitable table: its key (Python), its Feishu name, fields (first = primary) and views."""

    key: str
    name: str
    fields: tuple[FieldSpec, ...]
    views: tuple[ViewSpec, ...] = ()
    en: str = ""
    single_row: bool = False  # the 项目 table holds one row

    def __post_init__(self) -> None:
        attrs = [f.attr for f in self.fields]
        names = [f.name for f in self.fields]
        if len(set(attrs)) != len(attrs) or len(set(names)) != len(names):
            raise ValueError(f"duplicate field in table spec {self.key}")

    @property
    def primary(self) -> FieldSpec:
        return self.fields[0]

    def field(self, attr: str) -> FieldSpec:
        for f in self.fields:
            if f.attr == attr:
                return f
        raise KeyError(f"{self.key}.{attr}")

    def by_name(self, name: str) -> FieldSpec | None:
        for f in self.fields:
            if f.name == name:
                return f
        return None

    def service_fields(self) -> tuple[FieldSpec, ...]:
        return tuple(f for f in self.fields if f.writer is not Writer.USER)


@dataclass
class TableRegistry:
    """The ordered set of tables of a plan; link targets must come before their users."""

    tables: tuple[TableSpec, ...] = field(default_factory=tuple)

    def __iter__(self):
        return iter(self.tables)

    def __getitem__(self, key: str) -> TableSpec:
        for t in self.tables:
            if t.key == key:
                return t
        raise KeyError(key)

    def keys(self) -> list[str]:
        return [t.key for t in self.tables]

"""Where one project's plan lives in Feishu: the Base token and the ids of its tables and fields.

Provisioning produces it (and stores it in the project registry); the reader, mirror, write-back
and bot consume it. Field ids let us detect a renamed field; names are used for record I/O
because Feishu record `fields` are keyed by field name.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from gtm.schemas.fields import TableSpec
from gtm.schemas.tables import PLAN_TABLES


@dataclass
class BaseBinding:
    slug: str
    app_token: str
    table_ids: dict[str, str] = field(default_factory=dict)  # table key -> tbl…
    field_ids: dict[str, dict[str, str]] = field(default_factory=dict)  # table key -> attr -> fld…
    view_ids: dict[str, dict[str, str]] = field(default_factory=dict)  # table key -> view name -> vew…
    # the Feishu field name currently used for an attr, when a user renamed it (table -> attr -> name)
    field_names: dict[str, dict[str, str]] = field(default_factory=dict)
    # fields the rules need that drifted beyond following (deleted / retyped), as `FieldGap` dicts
    gaps: list[dict] = field(default_factory=list)
    timezone: str = "Asia/Shanghai"
    base_url: str = ""

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def table_id(self, key: str) -> str:
        try:
            return self.table_ids[key]
        except KeyError:
            raise KeyError(f"project {self.slug}: table {PLAN_TABLES[key].name} is not provisioned "
                           f"(run `gtm init --project {self.slug} --repair`)") from None

    def table_key(self, table_id: str) -> str | None:
        return next((k for k, v in self.table_ids.items() if v == table_id), None)

    def field_name(self, table_key: str, attr: str) -> str:
        """The Feishu field name for an attr (the spec name unless the user renamed it)."""
        return self.field_names.get(table_key, {}).get(attr) or PLAN_TABLES[table_key].field(attr).name

    def spec(self, key: str) -> TableSpec:
        return PLAN_TABLES[key]

    @classmethod
    def from_row(cls, row) -> "BaseBinding":
        """From a `gtm.sync.store.registry.ProjectRow`."""
        ids = row.field_ids or {}
        return cls(slug=row.slug, app_token=row.base_token, table_ids=dict(row.table_ids or {}),
                   field_ids={k: dict(v) for k, v in ids.items() if not k.startswith("_")},
                   view_ids={k: dict(v) for k, v in (row.view_ids or {}).items()},
                   field_names={k: dict(v) for k, v in ids.get("_names", {}).items()},
                   gaps=[dict(g) for g in ids.get("_drift", [])],
                   timezone=row.timezone, base_url=row.base_url)

    def to_row_fields(self) -> dict:
        """Column values for `ProjectRow` (field renames kept under field_ids['_names'])."""
        return {"base_token": self.app_token, "table_ids": dict(self.table_ids),
                "field_ids": {**{k: dict(v) for k, v in self.field_ids.items()},
                              "_names": {k: dict(v) for k, v in self.field_names.items()},
                              "_drift": [dict(g) for g in self.gaps]},
                "view_ids": {k: dict(v) for k, v in self.view_ids.items()},
                "timezone": self.timezone, "base_url": self.base_url}

"""Write-back: put the service's computed values into the Base without ever overwriting a person.

Two steps, so the first can be tested and logged without I/O:
- `plan_writes` (pure): drop values that already equal the mirror, refuse user-owned fields, group
  per table into batch_update chunks.
- `apply`: just before writing, batch_get the target records and skip any whose
  last_modified_time moved since our read (someone edited it; the next cycle re-evaluates), then
  batch_update and record the result in the mirror. Applying the same plan twice writes nothing
  the second time, because the mirror already holds the values.

`write_user_action` is the other door: a person pressed a card button, so their intent is written
at once (user-owned fields allowed) with one update call.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Iterable

from gtm.schemas.decisions import CellWrite
from gtm.schemas.fields import FieldSpec, Kind, Writer
from gtm.schemas.plan import Person
from gtm.schemas.tables import PLAN_TABLES
from gtm.sync.feishu.errors import FeishuError, NotFound
from gtm.sync.reader import ReadResult
from gtm.sync.records import EncodeError, canonical, canonical_value, encode_value, write_to_read

log = logging.getLogger(__name__)

DEFAULT_BATCH_LIMIT = 500  # Settings.batch_limit; Feishu documents 500 (older) or 1,000 (newer)


class WriteRefused(ValueError):
    """The code asked to write a field the service must not write (a programming error)."""


class WriteBackError(RuntimeError):
    """A write Feishu refused for a reason retrying cannot fix; the message names table and field."""

    def __init__(self, message: str, *, table: str, fields: list[str], cause: FeishuError | None = None):
        super().__init__(message)
        self.table = table
        self.fields = fields
        self.cause = cause


@dataclass
class TableWrites:
    """Pending cell changes of one table: record_id → {field name: write-format value}."""

    table: str
    records: dict[str, dict[str, Any]] = field(default_factory=dict)
    expected_ms: dict[str, int] = field(default_factory=dict)  # mirror's last_modified_time per record
    people: dict[str, Person] = field(default_factory=dict)  # names of people written, for the mirror

    @property
    def cells(self) -> int:
        return sum(len(v) for v in self.records.values())


@dataclass
class WritePlan:
    tables: dict[str, TableWrites] = field(default_factory=dict)
    batch_limit: int = DEFAULT_BATCH_LIMIT
    unchanged: int = 0  # writes dropped because the Base already holds the value
    missing: list[CellWrite] = field(default_factory=list)  # record not in the mirror (deleted?)

    @property
    def records(self) -> int:
        return sum(len(t.records) for t in self.tables.values())

    @property
    def cells(self) -> int:
        return sum(t.cells for t in self.tables.values())

    @property
    def count(self) -> int:
        """Cells this plan would write (for run summaries)."""
        return self.cells

    def chunks(self, table_key: str) -> list[list[str]]:
        ids = list(self.tables[table_key].records)
        return [ids[i:i + self.batch_limit] for i in range(0, len(ids), self.batch_limit)]

    @property
    def calls(self) -> int:
        """batch_update calls this plan needs (at most; conflicts can only reduce it)."""
        return sum(len(self.chunks(k)) for k in self.tables)

    def is_empty(self) -> bool:
        return not self.tables


@dataclass
class WriteReport:
    written_records: int = 0
    written_cells: int = 0
    conflicts: list[tuple[str, str]] = field(default_factory=list)  # (table, record_id) a person edited
    vanished: list[tuple[str, str]] = field(default_factory=list)  # deleted before we wrote
    update_calls: int = 0
    get_calls: int = 0

    @property
    def calls(self) -> int:
        return self.update_calls + self.get_calls


def _check_writable(spec_key: str, f: FieldSpec) -> None:
    spec = PLAN_TABLES[spec_key]
    if f.writer is Writer.USER:
        raise WriteRefused(f"refusing to write {spec.name}.{f.name} ({spec_key}.{f.attr}): the field "
                           f"belongs to people; only an explicit card action may write it")
    if f.kind is Kind.MODIFIED_TIME:
        raise WriteRefused(f"{spec.name}.{f.name} ({spec_key}.{f.attr}) is maintained by Feishu and read only")


def plan_writes(writes: Iterable[CellWrite], mirror, batch_limit: int = DEFAULT_BATCH_LIMIT) -> WritePlan:
    """The minimal set of cell changes for `writes` against the mirror (pure apart from reading it)."""
    plan = WritePlan(batch_limit=max(1, int(batch_limit)))
    tz = mirror.binding.tz
    # last write per cell wins; keep order of first appearance
    wanted: dict[str, dict[tuple[str, str], Any]] = {}
    for w in writes:
        try:
            spec = PLAN_TABLES[w.table]
        except KeyError:
            raise WriteRefused(f"unknown table {w.table!r} in a planned write") from None
        try:
            f = spec.field(w.attr)
        except KeyError:
            raise WriteRefused(f"table {spec.name} ({w.table}) has no field {w.attr!r}") from None
        _check_writable(w.table, f)
        wanted.setdefault(w.table, {})[(w.record_id, w.attr)] = w.value
    for table_key, cells in wanted.items():
        spec = PLAN_TABLES[table_key]
        current = mirror.raw_records(table_key, {rid for rid, _ in cells})
        tw = TableWrites(table_key)
        for (rid, attr), value in cells.items():
            f = spec.field(attr)
            name = mirror.binding.field_name(table_key, attr)
            where = f"{spec.name}.{f.name} ({rid})"
            raw = current.get(rid)
            if raw is None:
                plan.missing.append(CellWrite(table=table_key, record_id=rid, attr=attr, value=value))
                continue
            try:
                target = canonical_value(f, value, tz)
                encoded = encode_value(f, value, tz, where=where)
            except EncodeError as exc:
                raise WriteRefused(str(exc)) from None
            if canonical(f, raw["fields"].get(name), tz) == target:
                plan.unchanged += 1
                continue
            tw.records.setdefault(rid, {})[name] = encoded
            tw.expected_ms[rid] = int(raw.get("last_modified_time") or 0)
            for p in (value if isinstance(value, list) else [value]):
                if isinstance(p, Person) and p.name:
                    tw.people[p.open_id] = p
        if tw.records:
            plan.tables[table_key] = tw
    return plan


def _read_cells(table_key: str, cells: dict[str, Any], people: dict[str, Person]) -> dict[str, Any]:
    spec = PLAN_TABLES[table_key]
    out = {}
    for name, encoded in cells.items():
        f = spec.by_name(name) or _renamed(table_key, name)
        out[name] = write_to_read(f, encoded, people) if f else encoded
    return out


_RENAMES: dict[tuple[str, str], FieldSpec] = {}


def _renamed(table_key: str, name: str) -> FieldSpec | None:
    return _RENAMES.get((table_key, name))


def _remember_names(binding, table_key: str) -> None:
    for attr, name in (binding.field_names or {}).get(table_key, {}).items():
        _RENAMES[(table_key, name)] = PLAN_TABLES[table_key].field(attr)


def _missing_fields(gateway, binding, table_key: str, sent: set[str]) -> list[str]:
    """Which of the field names we sent the table no longer has (one schema read, error path only)."""
    names = set(gateway.bitable.field_names(binding.app_token, binding.table_id(table_key)))
    return sorted(sent - names)


def _refusal(gateway, binding, table_key: str, sent: set[str], exc: FeishuError) -> WriteBackError:
    spec = PLAN_TABLES[table_key]
    fields = sorted(sent)
    if isinstance(exc, NotFound) and exc.code == 1254045:
        try:
            fields = _missing_fields(gateway, binding, table_key, sent) or fields
        except FeishuError:
            pass
        msg = (f"写回失败：表「{spec.name}」中找不到字段 {'、'.join(fields)}（可能被改名或删除；"
               f"运行 `gtm init --project {binding.slug} --repair` 修复）。"
               f" / write-back failed: table {spec.name} ({table_key}) has no field "
               f"{', '.join(fields)} (renamed or deleted?); Feishu said: {exc}")
    else:
        msg = (f"写回失败：表「{spec.name}」字段 {'、'.join(fields)}：{exc.msg}（代码 {exc.code}）。"
               f" / write-back to table {spec.name} ({table_key}), fields {', '.join(fields)} failed: {exc}")
    return WriteBackError(msg, table=table_key, fields=fields, cause=exc)


def apply(plan: WritePlan, mirror, gateway=None) -> WriteReport:
    """Write the plan: skip records a person touched since our read, then batch_update the rest."""
    gw = gateway or mirror.gw
    binding = mirror.binding
    report = WriteReport()
    for table_key, tw in plan.tables.items():
        _remember_names(binding, table_key)
        spec = PLAN_TABLES[table_key]
        table_id = binding.table_id(table_key)
        fresh = mirror.reader.batch_get(table_key, list(tw.records))
        report.get_calls += fresh.calls
        now_ms = {r["record_id"]: int(r.get("last_modified_time") or 0) for r in fresh.records}
        ready: list[str] = []
        conflicts: list[str] = []
        vanished: list[str] = []
        for rid in tw.records:
            if rid not in now_ms:
                vanished.append(rid)
            elif now_ms[rid] != tw.expected_ms.get(rid):
                conflicts.append(rid)
            else:
                ready.append(rid)
        report.conflicts += [(table_key, rid) for rid in conflicts]
        report.vanished += [(table_key, rid) for rid in vanished]
        if conflicts or vanished:
            # let the mirror see the person's version now, so the next plan starts from it
            touched = [r for r in fresh.records if r["record_id"] in set(conflicts)]
            mirror.merge_read(table_key, ReadResult(records=touched), gone=vanished)
        for i in range(0, len(ready), plan.batch_limit):
            chunk = ready[i:i + plan.batch_limit]
            # None values stay: None (JSON null) is how Feishu clears a cell (e.g. 偏差(天) when a
            # date moved later)
            records = [{"record_id": rid, "fields": tw.records[rid]} for rid in chunk]
            sent = {name for rid in chunk for name in tw.records[rid]}
            try:
                modified = gw.bitable.batch_update(binding.app_token, table_id, records, context=spec.name)
            except FeishuError as exc:
                raise _refusal(gw, binding, table_key, sent, exc) from exc
            report.update_calls += 1
            mirror.apply_written(table_key, {rid: _read_cells(table_key, tw.records[rid], tw.people)
                                             for rid in chunk}, modified)
            report.written_records += len(chunk)
            report.written_cells += sum(len(tw.records[rid]) for rid in chunk)
    if report.conflicts:
        log.info("write-back skipped %d record(s) edited by people since the last read", len(report.conflicts))
    return report


def write_back(writes: Iterable[CellWrite], mirror, gateway=None,
               batch_limit: int = DEFAULT_BATCH_LIMIT) -> tuple[WritePlan, WriteReport]:
    """plan_writes + apply, for callers that do not need to inspect the plan in between."""
    plan = plan_writes(writes, mirror, batch_limit)
    return plan, apply(plan, mirror, gateway)


def write_user_action(mirror, table_key: str, record_id: str, values: dict[str, Any],
                      actor_open_id: str) -> dict[str, Any]:
    """A person's explicit action from a card (e.g. 标记完成): one update call, user fields allowed.

    Returns the fields written (by Feishu field name). The actor is logged for the audit trail.
    """
    spec = PLAN_TABLES[table_key]
    binding = mirror.binding
    _remember_names(binding, table_key)
    tz = binding.tz
    fields: dict[str, Any] = {}
    people: dict[str, Person] = {}
    for attr, value in values.items():
        try:
            f = spec.field(attr)
        except KeyError:
            raise WriteRefused(f"table {spec.name} ({table_key}) has no field {attr!r}") from None
        if f.kind is Kind.MODIFIED_TIME:
            raise WriteRefused(f"{spec.name}.{f.name} is maintained by Feishu and read only")
        try:
            fields[binding.field_name(table_key, attr)] = encode_value(
                f, value, tz, where=f"{spec.name}.{f.name} ({record_id})")
        except EncodeError as exc:
            raise WriteRefused(str(exc)) from None
        for p in (value if isinstance(value, list) else [value]):
            if isinstance(p, Person) and p.name:
                people[p.open_id] = p
    table_id = binding.table_id(table_key)
    gw = mirror.gw
    log.info("card action by %s: %s %s ← %s", actor_open_id, spec.name, record_id, sorted(fields))
    try:
        rec = gw.bitable.update_record(binding.app_token, table_id, record_id, fields, context=spec.name)
    except FeishuError as exc:
        raise _refusal(gw, binding, table_key, set(fields), exc) from exc
    lm = rec.get("last_modified_time")
    mirror.apply_written(table_key, {record_id: _read_cells(table_key, fields, people)},
                         {record_id: int(lm)} if lm else None)
    return fields

"""The local mirror of a project's Base: refreshes cheaply from Feishu and decodes into a snapshot.

Why a mirror: checks run every 30 minutes on plans of tens of thousands of records, and Feishu
allows 20 reads per second. Keeping the raw records locally lets a check cost one search call
per quiet table (incremental refresh), lets write-back diff against what Feishu holds, and lets
the bot answer from local data. A periodic full reconcile catches deletions (which an incremental
read cannot see) and anything the incremental read might have missed.
"""
from __future__ import annotations

import gc
import json
import logging
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Iterable

from sqlalchemy import Text, delete, insert, select, type_coerce, update
from sqlalchemy.exc import IntegrityError

from gtm.schemas.fields import Kind
from gtm.schemas.plan import LIST_BY_TABLE, DataProblem, PlanSnapshot, Record
from gtm.schemas.tables import PLAN_TABLES
from gtm.sync.binding import BaseBinding
from gtm.sync.reader import Reader, ReadResult
from gtm.sync.records import decoder_for, short_repr
from gtm.sync.store.base import Store
from gtm.sync.store.mirror import MirrorRecord, MirrorTable

log = logging.getLogger(__name__)

DEFAULT_RECONCILE_INTERVAL = timedelta(hours=24)


@dataclass
class TableRefresh:
    """What one table's refresh did."""

    table: str
    mode: str  # "full" | "incremental" | "records"
    read: int = 0  # records returned by Feishu
    changed: int = 0  # new records or records whose fields changed
    deleted: int = 0
    calls: int = 0
    problems: int = 0  # data problems in the records read
    total: int = 0  # records in the mirror afterwards


@dataclass
class RefreshReport:
    tables: list[TableRefresh] = field(default_factory=list)
    full: bool = False

    def _sum(self, attr: str) -> int:
        return sum(getattr(t, attr) for t in self.tables)

    @property
    def read(self) -> int:
        return self._sum("read")

    @property
    def changed(self) -> int:
        return self._sum("changed")

    @property
    def deleted(self) -> int:
        return self._sum("deleted")

    @property
    def calls(self) -> int:
        return self._sum("calls")

    def table(self, key: str) -> TableRefresh:
        return next(t for t in self.tables if t.table == key)


@dataclass
class _Decoded:
    version: int
    rows: list[Record]
    problems: list[DataProblem]


class Mirror:
    """One project's mirror. `store` holds the rows; `gateway`/`binding` reach the Base."""

    def __init__(self, store: Store, gateway, binding: BaseBinding, *,
                 reconcile_interval: timedelta = DEFAULT_RECONCILE_INTERVAL,
                 tables: Iterable[str] | None = None) -> None:
        self.store = store
        self.gw = gateway
        self.binding = binding
        self.slug = binding.slug
        self.reader = Reader(gateway, binding)
        self.reconcile_interval = reconcile_interval
        # tables that are provisioned (a partially provisioned Base still syncs what exists)
        self.table_keys = [k for k in (tables or PLAN_TABLES.keys()) if k in binding.table_ids]
        self._cache: dict[str, _Decoded] = {}
        self._lock = threading.Lock()

    # -- refresh ----------------------------------------------------------------------------
    def refresh(self, now: datetime, full: bool = False) -> RefreshReport:
        """Bring the mirror up to date: incremental per table, or a full reconcile when asked,
        when a table was never read, or when its last full read is older than the interval."""
        report = RefreshReport(full=full)
        states = self._states()
        for key in self.table_keys:
            st = states.get(key)
            due = (st is None or st.watermark_ms is None or st.last_full_at is None
                   or now - st.last_full_at >= self.reconcile_interval)
            if full or due:
                report.tables.append(self._full(key, now))
            else:
                report.tables.append(self._incremental(key, st.watermark_ms, now))
        report.full = full or all(t.mode == "full" for t in report.tables)
        return report

    def _full(self, key: str, now: datetime) -> TableRefresh:
        res = self.reader.read_all(key)
        return self._merge(key, res, now, mode="full", authoritative=True)

    def _incremental(self, key: str, watermark_ms: int, now: datetime) -> TableRefresh:
        res = self.reader.read_modified_since(key, watermark_ms, known=lambda: self._known_ms(key))
        return self._merge(key, res, now, mode="incremental")

    def refresh_records(self, table_key: str, record_ids: Iterable[str],
                        now: datetime | None = None) -> TableRefresh:
        """Re-read just these records (a record-changed event): batch_get, drop deleted ones."""
        ids = list(dict.fromkeys(record_ids))
        if not ids:
            return TableRefresh(table_key, "records")
        res = self.reader.batch_get(table_key, ids)
        return self._merge(table_key, res, now, mode="records", gone=res.absent)

    def merge_read(self, key: str, res: ReadResult, gone: Iterable[str] = ()) -> TableRefresh:
        """Fold records read elsewhere (e.g. write-back's pre-write check) into the mirror."""
        return self._merge(key, res, None, mode="records", gone=gone)

    def _merge(self, key: str, res: ReadResult, now: datetime | None, *, mode: str,
               authoritative: bool = False, gone: Iterable[str] = ()) -> TableRefresh:
        """Write what was read into the mirror; `authoritative` = the read saw every record.

        A concurrent merge (an event's refresh_records during a scheduled refresh) can insert the
        same record first; the unique key refuses ours and the merge is simply redone."""
        gone = list(gone)
        try:
            return self._merge_once(key, res, now, mode=mode, authoritative=authoritative, gone=gone)
        except IntegrityError:
            return self._merge_once(key, res, now, mode=mode, authoritative=authoritative, gone=gone)

    def _merge_once(self, key: str, res: ReadResult, now: datetime | None, *, mode: str,
                    authoritative: bool, gone: list[str]) -> TableRefresh:
        out = TableRefresh(key, mode, read=len(res.records), calls=res.calls)
        spec = PLAN_TABLES[key]
        dec = decoder_for(spec, self.binding.tz, self.binding)
        by_id = {r["record_id"]: r for r in res.records if r.get("record_id")}
        with self.store.session() as s:
            existing = {row.record_id: (row.id, row.fields, row.modified_ms) for row in s.execute(
                select(MirrorRecord.record_id, MirrorRecord.id, MirrorRecord.fields, MirrorRecord.modified_ms)
                .where(MirrorRecord.project == self.slug, MirrorRecord.table_key == key))}
            inserts, updates = [], []
            for rid, raw in by_id.items():
                fields = raw.get("fields") or {}
                lm = int(raw.get("last_modified_time") or 0)
                old = existing.get(rid)
                if old is None:
                    inserts.append({"project": self.slug, "table_key": key, "record_id": rid,
                                    "fields": fields, "modified_ms": lm})
                elif old[1] != fields or old[2] != lm:
                    updates.append({"id": old[0], "fields": fields, "modified_ms": lm})
                    if old[1] == fields:
                        continue  # only the modified time moved (e.g. our own write echoed back)
                else:
                    continue
                out.changed += 1
                out.problems += len(dec.decode(raw)[1])
            removed = set(gone) & existing.keys()
            if authoritative:
                removed |= existing.keys() - by_id.keys()
            if inserts:
                s.execute(insert(MirrorRecord), inserts)
            if updates:
                s.execute(update(MirrorRecord), updates)
            if removed:
                ids = [existing[r][0] for r in removed]
                for i in range(0, len(ids), 500):
                    s.execute(delete(MirrorRecord).where(MirrorRecord.id.in_(ids[i:i + 500])))
            out.deleted = len(removed)
            out.total = len(existing) + len(inserts) - len(removed)
            st = s.get(MirrorTable, (self.slug, key))
            if st is None:
                st = MirrorTable(project=self.slug, table_key=key, version=0, record_count=0, last_calls=0)
                s.add(st)
            st.table_id = self.binding.table_ids.get(key, "")
            if out.changed or out.deleted or len(updates):
                st.version = (st.version or 0) + 1
            seen = [int(r.get("last_modified_time") or 0) for r in by_id.values()]
            if seen and mode != "records":
                st.watermark_ms = max([st.watermark_ms or 0, *seen])
            elif authoritative and st.watermark_ms is None:
                st.watermark_ms = 0
            st.record_count = out.total
            st.last_calls = res.calls
            if now is not None and mode != "records":
                st.last_refresh_at = now
                if authoritative:
                    st.last_full_at = now
        return out

    def _known_ms(self, key: str) -> dict[str, int]:
        with self.store.session() as s:
            return dict(s.execute(select(MirrorRecord.record_id, MirrorRecord.modified_ms).where(
                MirrorRecord.project == self.slug, MirrorRecord.table_key == key)).all())

    def _states(self) -> dict[str, MirrorTable]:
        with self.store.session() as s:
            return {st.table_key: st for st in s.scalars(
                select(MirrorTable).where(MirrorTable.project == self.slug))}

    # -- access for write-back ---------------------------------------------------------------
    def raw_records(self, table_key: str, record_ids: Iterable[str] | None = None) -> dict[str, dict[str, Any]]:
        """record_id → {"record_id", "fields", "last_modified_time"} from the mirror."""
        q = select(MirrorRecord.record_id, MirrorRecord.fields, MirrorRecord.modified_ms).where(
            MirrorRecord.project == self.slug, MirrorRecord.table_key == table_key)
        wanted = None if record_ids is None else set(record_ids)
        out: dict[str, dict[str, Any]] = {}
        with self.store.session() as s:
            if wanted is not None and len(wanted) <= 500:
                q = q.where(MirrorRecord.record_id.in_(wanted))
            for rid, fields, lm in s.execute(q):
                if wanted is None or rid in wanted:
                    out[rid] = {"record_id": rid, "fields": fields or {}, "last_modified_time": lm}
        return out

    def apply_written(self, table_key: str, changes: dict[str, dict[str, Any]],
                      modified: dict[str, int] | None = None) -> None:
        """Record values we wrote: `changes` maps record_id → {field name: read-format cell or None}."""
        if not changes:
            return
        modified = modified or {}
        with self.store.session() as s:
            rows = {r.record_id: r for r in s.scalars(select(MirrorRecord).where(
                MirrorRecord.project == self.slug, MirrorRecord.table_key == table_key,
                MirrorRecord.record_id.in_(list(changes))))} if len(changes) <= 500 else {
                r.record_id: r for r in s.scalars(select(MirrorRecord).where(
                    MirrorRecord.project == self.slug, MirrorRecord.table_key == table_key))
                if r.record_id in changes}
            for rid, cells in changes.items():
                row = rows.get(rid)
                if row is None:
                    continue
                fields = dict(row.fields or {})
                for name, cell in cells.items():
                    if cell is None:
                        fields.pop(name, None)
                    else:
                        fields[name] = cell
                row.fields = fields
                if rid in modified:
                    row.modified_ms = modified[rid]
            st = s.get(MirrorTable, (self.slug, table_key))
            if st is not None:
                st.version = (st.version or 0) + 1

    # -- snapshot ------------------------------------------------------------------------------
    def versions(self) -> dict[str, int]:
        with self.store.session() as s:
            return dict(s.execute(select(MirrorTable.table_key, MirrorTable.version)
                                  .where(MirrorTable.project == self.slug)).all())

    def _decoded(self, key: str, version: int) -> _Decoded:
        with self._lock:
            hit = self._cache.get(key)
        if hit is not None and hit.version == version:
            return hit
        dec = decoder_for(PLAN_TABLES[key], self.binding.tz, self.binding)
        rows: list[Record] = []
        problems: list[DataProblem] = []
        # Decoding allocates many small objects that all stay alive; the cyclic GC would rescan
        # the growing heap again and again (several times slower), so pause it for the loop.
        gc_was_on = gc.isenabled()
        gc.disable()
        try:
            # raw column values (JSON text on SQLite, already parsed on PostgreSQL): the ORM's
            # per-row JSON processing costs more than the decoding itself
            q = (select(MirrorRecord.record_id, type_coerce(MirrorRecord.fields, Text), MirrorRecord.modified_ms)
                 .where(MirrorRecord.project == self.slug, MirrorRecord.table_key == key)
                 .order_by(MirrorRecord.id))
            with self.store.engine.connect() as conn:
                result = conn.execute(q).all()
            loads = json.loads
            for rid, fields, lm in result:
                if isinstance(fields, (str, bytes)):
                    fields = loads(fields)
                model, probs = dec.decode({"record_id": rid, "fields": fields, "last_modified_time": lm})
                rows.append(model)
                if probs:
                    problems.extend(probs)
        finally:
            if gc_was_on:
                gc.enable()
        entry = _Decoded(version, rows, problems)
        with self._lock:
            self._cache[key] = entry
        return entry

    def snapshot(self, now: datetime | None = None) -> PlanSnapshot:
        """The mirror decoded into domain models, with every data problem (cell and cross-table).

        Decoded tables are cached by mirror version, so a snapshot of an unchanged mirror costs one
        small query. Row models are shared between snapshots: treat them as read-only.
        """
        versions = self.versions()
        snap = PlanSnapshot(project_slug=self.slug, read_at=now)
        problems: list[DataProblem] = []
        ids: dict[str, set[str]] = {}
        rows_by_table: dict[str, list[Record]] = {}
        for key in self.table_keys:
            d = self._decoded(key, versions.get(key, 0))
            rows_by_table[key] = d.rows
            ids[key] = {r.record_id for r in d.rows}
            problems.extend(d.problems)
            if key == "project":
                if d.rows:
                    snap.project = d.rows[0]  # type: ignore[assignment]
                if len(d.rows) > 1:
                    problems.append(DataProblem(
                        table="project", record_id=d.rows[1].record_id, field="",
                        value=f"{len(d.rows)} rows",
                        reason=f"项目表应只有一行，现有 {len(d.rows)} 行（使用第一行）",
                        reason_en=f"the project table should have one row, it has {len(d.rows)} (using the first)"))
            else:
                setattr(snap, LIST_BY_TABLE[key], list(d.rows))
        problems.extend(self._link_problems(rows_by_table, ids))
        snap.problems = problems
        return snap

    def _link_problems(self, rows_by_table: dict[str, list[Record]], ids: dict[str, set[str]]
                       ) -> list[DataProblem]:
        """Links pointing at records that are not in the mirror (deleted, or another table)."""
        out: list[DataProblem] = []
        for key, rows in rows_by_table.items():
            for f in PLAN_TABLES[key].fields:
                if f.kind is not Kind.LINK or f.link_table not in ids:
                    continue
                targets = ids[f.link_table]
                for r in rows:
                    for target in getattr(r, f.attr) or ():
                        if target not in targets:
                            out.append(DataProblem(
                                table=key, record_id=r.record_id, field=f.attr, value=short_repr(target),
                                reason=f"关联的{PLAN_TABLES[f.link_table].name}记录不存在",
                                reason_en=f"linked {PLAN_TABLES[f.link_table].en} record does not exist"))
        return out

    def counts(self) -> dict[str, int]:
        with self.store.session() as s:
            return dict(s.execute(select(MirrorTable.table_key, MirrorTable.record_count)
                                  .where(MirrorTable.project == self.slug)).all())

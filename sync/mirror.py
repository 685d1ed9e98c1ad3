"""The local mirror of a project's Base: refreshes cheaply from Feishu and decodes into a snapshot.

Why a mirror: checks run every 30 minutes on plans of tens of thousands of records, and Feishu
allows 20 reads per second. Keeping the raw records locally lets a check cost one search call
per quiet table (incremental refresh), lets write-back diff against what Feishu holds, and lets
the bot answer from local data. A periodic full reconcile catches deletions (which an incremental
read cannot see) and anything the incremental read might have missed.

One module (~530 lines) on purpose: `Mirror` is one object whose refresh, merge, write-back
bookkeeping and snapshot share one lock, one version counter per table and one decoded cache;
split across files, each half would reach into the other's private state.
"""
from __future__ import annotations

import heapq
import itertools
import json
import logging
import threading
from array import array
from bisect import bisect_left
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from operator import itemgetter
from typing import Any, Callable, Iterable, Iterator, Mapping

import orjson
from sqlalchemy import Text, delete, func, insert, or_, select, type_coerce, update
from sqlalchemy.exc import IntegrityError

from gtm.schemas.fields import FieldSpec, Kind
from gtm.schemas.plan import LIST_BY_TABLE, DataProblem, FieldGap, PlanSnapshot, Record
from gtm.schemas.tables import PLAN_TABLES
from gtm.sync.binding import BaseBinding
from gtm.sync.drift import DriftReport, check_drift, save_drift
from gtm.sync.feishu.gateway import paused_gc
from gtm.sync.reader import Reader, ReadResult
from gtm.sync.records import RecordDecoder, decoder_for, short_repr
from gtm.sync.store.base import Store
from gtm.sync.store.mirror import MirrorChange, MirrorRecord, MirrorTable

log = logging.getLogger(__name__)

DEFAULT_RECONCILE_INTERVAL = timedelta(hours=24)
MERGE_CHUNK = 500  # records already read are handed to the merge in pages of this size
MERGE_BATCH = 1_000  # records compared and written per transaction (two pages: fewer commits,
# and little left to do once the last page is in)
LOOKUP_CHUNK = 500  # record ids per stored-row lookup
CHANGE_LOG = 64  # changes per table whose record ids are remembered (`Mirror._note`, `MirrorChange`)
LOGGED_IDS = 1_000  # a change that touched more records is logged as "too many to list"
PATCH_SHARE = 0.2  # at most this share of a table changed: re-decode those rows, not the table


def stored_fields(text: str | bytes) -> Any:
    """A stored row's fields from its JSON text: orjson (about 2.5 times faster than `json.loads`
    on these rows: 0.2 s instead of 0.5 s of `gtm serve`'s start-up at 100,000 records), with the
    standard library's reading as the fallback for the text orjson refuses (NaN, Infinity). One
    difference is left: orjson reads an integer beyond 64 bits as a float; Feishu's number cells
    are doubles and its timestamps milliseconds, so the mirror never stores one."""
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return json.loads(text)


def _chunks(records: list[dict[str, Any]], size: int = MERGE_CHUNK) -> Iterator[list[dict[str, Any]]]:
    """Records already read, in merge-sized pages (at least one, possibly empty)."""
    if not records:
        yield []
    for i in range(0, len(records), size):
        yield records[i:i + size]


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


_serials = itertools.count(1)


@dataclass
class _Decoded:
    """One table decoded, as of `version`: read-only once made, shared by snapshots."""

    version: int
    rows: list[Record]
    problems: list[DataProblem]
    pks: array  # the rows' store ids (their order), for `Mirror._patched`
    at: list[int]  # the row position of each problem (`problems[i]` is about `rows[at[i]]`)
    serial: int = field(default_factory=lambda: next(_serials))
    # made from the decode `base` by replacing the rows at `moved` (positions, ascending), the
    # record ids unchanged: what `Mirror._link_problems` needs to redo only those rows' links
    base: int = 0
    moved: tuple[int, ...] = ()
    same_ids_as: int = 0  # the serial of the decode whose record ids these rows have (0: its own)

    @property
    def ids_key(self) -> int:
        """Equal for two decodes whose rows have the same record ids (the targets of links)."""
        return self.same_ids_as or self.serial


@dataclass
class _Links:
    """A table's link problems, per link field in row order as (row position, problem), and what
    they were found against: the table's decode and the target tables' record ids (`ids_key`)."""

    serial: int
    targets: tuple[int, ...]
    by_field: list[list[tuple[int, DataProblem]]]


_store_order = itemgetter(0)  # of (store id or row position, …) pairs


def _touched_between(logged: Mapping[int, Iterable[str] | None], old: int, new: int) -> set[str] | None:
    """The record ids the changes that made versions `old + 1` … `new` touched, from a log of
    version → ids; None when one of them is missing or was too large to list (None), or when
    `new` is not past `old`: then only a full decode is right."""
    if new <= old:
        return None
    touched: set[str] = set()
    for v in range(old + 1, new + 1):
        ids = logged.get(v)
        if ids is None:
            return None
        touched.update(ids)
    return touched


def _links_of(key: str, f: FieldSpec, rows: list[Record], places: Iterable[int], targets: set[str]
              ) -> list[tuple[int, DataProblem]]:
    """(row position, problem) of each link of field `f` in the rows at `places` (ascending)
    that points at no record of `targets`."""
    out: list[tuple[int, DataProblem]] = []
    attr = f.attr
    for i in places:
        r = rows[i]
        for target in getattr(r, attr) or ():
            if target not in targets:
                out.append((i, DataProblem(
                    table=key, record_id=r.record_id, field=attr, value=short_repr(target),
                    reason=f"关联的{PLAN_TABLES[f.link_table].name}记录不存在",
                    reason_en=f"linked {PLAN_TABLES[f.link_table].en} record does not exist")))
    return out


def _decode_rows(stored: Iterable[Any], dec: RecordDecoder) -> Iterator[tuple[int, Record, list[DataProblem]]]:
    """(store id, model, data problems) of each stored row (`Mirror._query`'s columns): the JSON
    text parsed where the driver left it text (SQLite), then decoded."""
    for pk, rid, fields, lm in stored:
        if isinstance(fields, (str, bytes)):
            fields = stored_fields(fields)
        yield (pk, *dec.decode_stored(rid, fields, lm))


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
        self._links: dict[str, _Links] = {}  # per table: its link problems (`_link_problems`)
        # per table: version → the record ids the change that made it touched (this process's
        # own changes, the last CHANGE_LOG): a snapshot after them re-decodes just those rows
        self._log: dict[str, dict[int, frozenset[str]]] = {}
        self._lock = threading.Lock()
        self._listeners: list[Callable[["Mirror"], None]] = []
        self._batch = threading.local()  # per thread: refresh depth, and whether a change is pending

    # -- change notification -------------------------------------------------------------------
    def subscribe(self, listener: Callable[["Mirror"], None]) -> None:
        """Call `listener(mirror)` after every committed change of the mirror's rows (on the
        changing thread). The answer cache uses it to rebuild off the chat path."""
        self._listeners.append(listener)

    @contextmanager
    def _one_notice(self) -> Iterator[None]:
        """Within: changes are noted, and listeners are called once at the end (a full refresh of
        nine tables rebuilds the answers once, not nine times)."""
        b = self._batch
        b.depth = getattr(b, "depth", 0) + 1
        try:
            yield
        finally:
            b.depth -= 1
            if b.depth == 0 and getattr(b, "pending", False):
                b.pending = False
                self._changed()

    def _changed(self) -> None:
        b = self._batch
        if getattr(b, "depth", 0):
            b.pending = True
            return
        for listener in list(self._listeners):
            try:
                listener(self)
            except Exception:  # noqa: BLE001 - the change is stored; a listener's failure is its own
                log.exception("mirror %s: change listener failed", self.slug)

    def rebind(self, binding: BaseBinding) -> None:
        """Use a newer binding of the same Base (field renames followed, drift gaps changed)."""
        if binding == self.binding:
            return
        self.binding = binding
        self.reader = Reader(self.gw, binding)
        with self._lock:
            self._cache.clear()

    def check_schema(self, now: datetime, full: bool = False) -> DriftReport:
        """Compare the Base's fields with the spec (schema drift), save the result, then refresh:
        tables whose field names changed are re-read in full under the new names."""
        drift = check_drift(self.gw, self.binding, list(self.table_keys))
        save_drift(self.store, self.binding, drift)
        if drift.changed_tables:
            with self._lock:
                for key in drift.changed_tables:
                    self._cache.pop(key, None)
        return drift

    # -- refresh ----------------------------------------------------------------------------
    def refresh(self, now: datetime, full: bool = False, *, tables_full: Iterable[str] = (),
                progress: Callable[[str, int, int], None] | None = None) -> RefreshReport:
        """Bring the mirror up to date: incremental per table, or a full reconcile when asked,
        when a table was never read, or when its last full read is older than the interval.
        `progress(table_key, done, total)` is called before each table (the CLI's progress bar)."""
        report = RefreshReport(full=full)
        states = self._states()
        forced = set(tables_full)
        with self._one_notice():
            for i, key in enumerate(self.table_keys):
                if progress is not None:
                    progress(key, i, len(self.table_keys))
                st = states.get(key)
                due = (key in forced or st is None or st.watermark_ms is None or st.last_full_at is None
                       or now - st.last_full_at >= self.reconcile_interval)
                if full or due:
                    report.tables.append(self._full(key, now))
                else:
                    report.tables.append(self._incremental(key, st.watermark_ms, now))
        report.full = full or all(t.mode == "full" for t in report.tables)
        return report

    def _full(self, key: str, now: datetime) -> TableRefresh:
        # page by page: each page is folded into the store as it arrives, so a full read of a
        # large table holds one page of records, not all of them
        res = ReadResult()
        return self._merge(key, self.reader.pages_all(key, result=res), res, now, mode="full",
                           authoritative=True)

    def _incremental(self, key: str, watermark_ms: int, now: datetime) -> TableRefresh:
        res = self.reader.read_modified_since(key, watermark_ms, known=lambda: self._known_ms(key))
        return self._merge(key, _chunks(res.records), res, now, mode="incremental")

    def refresh_records(self, table_key: str, record_ids: Iterable[str],
                        now: datetime | None = None) -> TableRefresh:
        """Re-read just these records (a record-changed event): batch_get, drop deleted ones."""
        ids = list(dict.fromkeys(record_ids))
        if not ids:
            return TableRefresh(table_key, "records")
        res = self.reader.batch_get(table_key, ids)
        return self._merge(table_key, _chunks(res.records), res, now, mode="records", gone=res.absent)

    def merge_read(self, key: str, res: ReadResult, gone: Iterable[str] = ()) -> TableRefresh:
        """Fold records read elsewhere (e.g. write-back's pre-write check) into the mirror."""
        return self._merge(key, _chunks(res.records), res, None, mode="records", gone=gone)

    def _merge(self, key: str, pages: Iterable[list[dict[str, Any]]], res: ReadResult, now: datetime | None,
               *, mode: str, authoritative: bool = False, gone: Iterable[str] = ()) -> TableRefresh:
        """Write what was read into the mirror; `authoritative` = the read saw every record.

        Pages are folded in as they arrive: every `MERGE_BATCH` records are compared with the
        stored rows and written in a short transaction of their own (a batch that changed something
        bumps the table version with it, so a cached decode never outlives the rows it was made
        from), so a full read holds a few pages, never the whole table; deletions and the table's bookkeeping (watermark,
        count, refresh times) follow once the read is complete, so an interrupted full read
        deletes nothing and moves no watermark. A concurrent merge (an event's refresh_records
        during a scheduled refresh) can insert the same record first; the unique key refuses ours
        and that step is simply redone."""
        out = TableRefresh(key, mode)
        dec = decoder_for(PLAN_TABLES[key], self.binding.tz, self.binding)
        seen: set[str] | None = set() if authoritative else None
        newest: int | None = None
        batch: dict[str, dict[str, Any]] = {}
        bumped = [False]

        def flush() -> None:
            with paused_gc():
                try:
                    changed, problems, bump = self._merge_batch(key, batch, dec)
                except IntegrityError:
                    changed, problems, bump = self._merge_batch(key, batch, dec)
            out.changed += changed
            out.problems += problems
            bumped[0] = bumped[0] or bump
            batch.clear()

        for page in pages:
            out.read += len(page)
            for r in page:
                rid = r.get("record_id")
                if not rid:
                    continue
                batch[rid] = r  # a record read twice: its first place, its last state
                lm = int(r.get("last_modified_time") or 0)
                if newest is None or lm > newest:
                    newest = lm
                if seen is not None:
                    seen.add(rid)
            del page
            if len(batch) >= MERGE_BATCH:
                flush()
        if batch:
            flush()
        out.calls = res.calls
        gone = list(dict.fromkeys(gone))
        try:
            self._finish(key, out, res.calls, now, mode=mode, seen=seen, gone=gone, newest=newest)
        except IntegrityError:
            self._finish(key, out, res.calls, now, mode=mode, seen=seen, gone=gone, newest=newest)
        if bumped[0] or out.deleted:
            self._changed()
        return out

    def _merge_batch(self, key: str, by_id: dict[str, dict[str, Any]], dec) -> tuple[int, int, bool]:
        """Insert new and update changed records of a batch of pages, in one transaction;
        (changed, data problems among them, whether the table's version moved).

        Stored rows are compared as their JSON text with the incoming fields serialised the way
        the store writes them, so an unchanged record costs one `json.dumps` instead of decoding
        the stored JSON (a differing text, e.g. keys in another order after our own write, falls
        back to comparing the decoded values, and the row is rewritten in the read's order)."""
        dumps = self._dumps
        changed = problems = 0
        with self.store.session() as s:
            ids = list(by_id)
            stored: dict[str, tuple[int, Any, int]] = {}
            for i in range(0, len(ids), LOOKUP_CHUNK):
                stored.update((rid, (pk, old, ms)) for rid, pk, old, ms in s.execute(
                    select(MirrorRecord.record_id, MirrorRecord.id, type_coerce(MirrorRecord.fields, Text),
                           MirrorRecord.modified_ms)
                    .where(MirrorRecord.project == self.slug, MirrorRecord.table_key == key,
                           MirrorRecord.record_id.in_(ids[i:i + LOOKUP_CHUNK]))))
            inserts, updates = [], []
            bump = False
            touched: list[str] = []  # records whose decoded row changes (for `_decoded`'s patch)
            for rid, raw in by_id.items():
                fields = raw.get("fields") or {}
                lm = int(raw.get("last_modified_time") or 0)
                old = stored.get(rid)
                if old is None:
                    inserts.append({"project": self.slug, "table_key": key, "record_id": rid,
                                    "fields": fields, "modified_ms": lm})
                else:
                    pk, old_fields, old_ms = old
                    if isinstance(old_fields, (str, bytes)):
                        text_same = old_fields == dumps(fields)
                        same = text_same or stored_fields(old_fields) == fields
                    else:  # already decoded by the driver (PostgreSQL's json type)
                        text_same = same = old_fields == fields
                    if same and old_ms == lm:
                        if not text_same:
                            updates.append({"id": pk, "fields": fields})  # same values, canonical text
                        continue
                    updates.append({"id": pk, "fields": fields, "modified_ms": lm})
                    touched.append(rid)
                    bump = True
                    if same:
                        continue  # only the modified time moved (e.g. our own write echoed back)
                changed += 1
                problems += dec.count_problems(raw)
            if inserts:
                s.execute(insert(MirrorRecord.__table__), inserts)  # Core: no ORM bookkeeping per row
                touched += [row["record_id"] for row in inserts]
                bump = True
            if updates:
                # an ORM bulk update by primary key wants one set of keys per statement
                for keys in ({"id", "fields", "modified_ms"}, {"id", "fields"}):
                    batch = [u for u in updates if u.keys() == keys]
                    if batch:
                        s.execute(update(MirrorRecord), batch)
            version = self._bump(s, key, touched) if bump else None
        if version is not None:
            self._note(key, version, touched)
        return changed, problems, bump

    def _finish(self, key: str, out: TableRefresh, calls: int, now: datetime | None, *, mode: str,
                seen: set[str] | None, gone: list[str], newest: int | None) -> None:
        """Deletions (records gone, or not seen by an authoritative read) and the table's bookkeeping."""
        with self.store.session() as s:
            where = (MirrorRecord.project == self.slug, MirrorRecord.table_key == key)
            removed: list[int] = []
            removed_ids: list[str] = []
            count = select(func.count()).select_from(MirrorRecord).where(*where)
            if seen is not None and (gone or int(s.scalar(count) or 0) != len(seen)):
                # every record seen is stored by now, so equal counts mean nothing else is: the
                # scan for unseen rows (tens of ms for 10,000) is needed only when they differ
                gone_set = set(gone)
                for pk, rid in s.execute(select(MirrorRecord.id, MirrorRecord.record_id).where(*where)):
                    if rid not in seen or rid in gone_set:
                        removed.append(pk)
                        removed_ids.append(rid)
            elif gone:
                for i in range(0, len(gone), 500):
                    for pk, rid in s.execute(select(MirrorRecord.id, MirrorRecord.record_id).where(
                            *where, MirrorRecord.record_id.in_(gone[i:i + 500]))):
                        removed.append(pk)
                        removed_ids.append(rid)
            for i in range(0, len(removed), 500):
                s.execute(delete(MirrorRecord).where(MirrorRecord.id.in_(removed[i:i + 500])))
            out.deleted = len(removed)
            out.total = int(s.scalar(count) or 0)
            version = self._bump(s, key, removed_ids) if removed else None
            st = self._state_row(s, key)
            st.table_id = self.binding.table_ids.get(key, "")
            if newest is not None and mode != "records":
                st.watermark_ms = max(st.watermark_ms or 0, newest)
            elif seen is not None and st.watermark_ms is None:
                st.watermark_ms = 0
            st.record_count = out.total
            st.last_calls = calls
            if now is not None and mode != "records":
                st.last_refresh_at = now
                if seen is not None:
                    st.last_full_at = now
        if version is not None:
            self._note(key, version, removed_ids)

    def _bump(self, s, key: str, touched: list[str]) -> int:
        """Move the table's version on by one in the store, atomically (two replicas changing one
        table at once get a version each, never the same one: each cached decode then knows it
        is behind), and log which records the change touched under that version for every
        replica (`MirrorChange`; the last CHANGE_LOG per table); the new version. Part of the
        caller's transaction, so the version and its log entry commit together."""
        self._state_row(s, key)
        s.flush()  # a state row made just now exists for the update below
        t = MirrorTable.__table__
        row = (t.c.project == self.slug, t.c.table_key == key)
        step = update(t).where(*row).values(version=func.coalesce(t.c.version, 0) + 1)
        if s.get_bind().dialect.update_returning:
            version = int(s.execute(step.returning(t.c.version)).scalar_one())
        else:
            s.execute(step)  # SQLite before 3.35: the row stays locked until the commit
            version = int(s.execute(select(t.c.version).where(*row)).scalar_one())
        c = MirrorChange.__table__
        # older than the log keeps, and any entry at or past this version (a store whose versions
        # started again, e.g. restored from a backup, must not keep another change's ids under it)
        s.execute(delete(c).where(c.c.project == self.slug, c.c.table_key == key,
                                  or_(c.c.version <= version - CHANGE_LOG, c.c.version >= version)))
        s.execute(insert(c).values(project=self.slug, table_key=key, version=version,
                                   record_ids=sorted(set(touched)) if len(touched) <= LOGGED_IDS else None))
        return version

    def _note(self, key: str, version: int, record_ids: Iterable[str]) -> None:
        """Remember (once committed) which records the change that made `version` touched, so the
        next snapshot re-decodes those rows only (`_decoded`)."""
        with self._lock:
            log = self._log.setdefault(key, {})
            log[version] = frozenset(record_ids)
            while len(log) > CHANGE_LOG:
                del log[min(log)]

    def _state_row(self, s, key: str) -> MirrorTable:
        st = s.get(MirrorTable, (self.slug, key))
        if st is None:
            st = MirrorTable(project=self.slug, table_key=key, version=0, record_count=0, last_calls=0)
            s.add(st)
        return st

    @property
    def _dumps(self):
        """The JSON serialiser the store writes the `fields` column with (SQLAlchemy's default)."""
        return getattr(self.store.engine.dialect, "_json_serializer", None) or json.dumps

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
            written = [rid for rid in changes if rid in rows]
            version = (self._bump(s, table_key, written) if s.get(MirrorTable, (self.slug, table_key)) is not None
                       else None)
        if version is not None:
            self._note(table_key, version, written)
        self._changed()

    # -- snapshot ------------------------------------------------------------------------------
    def versions(self) -> dict[str, int]:
        with self.store.session() as s:
            return dict(s.execute(select(MirrorTable.table_key, MirrorTable.version)
                                  .where(MirrorTable.project == self.slug)).all())

    def _decoded(self, key: str, version: int) -> _Decoded:
        """The table's rows decoded, as of `version` (the rows read may be newer: the store moves
        on meanwhile). After a change to a few of its rows — this process's own (`_note`) or, as
        the store's change log has it, another replica's (`_logged_since`) — only those rows are
        read and decoded again (`_patched`: a one-cell edit of a 100,000-row table costs
        milliseconds, not a second); otherwise — a change the log cannot list, a large change, a
        version other than the next ones (a store restored from a backup) — the table."""
        with self._lock:
            hit = self._cache.get(key)
            touched = self._touched_since(key, hit.version, version) if hit is not None else None
        if hit is not None and hit.version == version:
            return hit
        if hit is not None and touched is None and version > hit.version:
            touched = self._logged_since(key, hit.version, version)  # another replica's change
        dec = decoder_for(PLAN_TABLES[key], self.binding.tz, self.binding)
        if hit is not None and touched is not None and len(touched) <= PATCH_SHARE * len(hit.rows):
            entry = self._patched(key, hit, touched, version, dec)
        else:
            entry = self._decode_table(key, version, dec)
        with self._lock:
            self._cache[key] = entry
        return entry

    def _touched_since(self, key: str, old: int, new: int) -> set[str] | None:
        """The record ids this process's changes touched from version `old` to `new`; None when
        one of those versions is not its own (or forgotten): then only a full decode is right.
        Caller holds the lock."""
        return _touched_between(self._log.get(key, {}), old, new)

    def _logged_since(self, key: str, old: int, new: int) -> set[str] | None:
        """The record ids the changes from version `old` to `new` touched, as the store's change
        log has them (whichever replica made them); None when one is missing (pruned, or a change
        too large to list): then only a full decode is right."""
        if new - old > CHANGE_LOG:
            return None
        c = MirrorChange.__table__
        with self.store.engine.connect() as conn:
            logged = dict(conn.execute(select(c.c.version, c.c.record_ids).where(
                c.c.project == self.slug, c.c.table_key == key, c.c.version > old, c.c.version <= new)).all())
        return _touched_between(logged, old, new)

    def _query(self, key: str):
        """The table's stored rows (store id, record id, fields, modified ms) in store order: raw
        column values (JSON text on SQLite, already parsed on PostgreSQL), because the ORM's
        per-row JSON processing costs more than the decoding itself."""
        return (select(MirrorRecord.id, MirrorRecord.record_id, type_coerce(MirrorRecord.fields, Text),
                       MirrorRecord.modified_ms)
                .where(MirrorRecord.project == self.slug, MirrorRecord.table_key == key)
                .order_by(MirrorRecord.id))

    def _decode_table(self, key: str, version: int, dec: RecordDecoder) -> _Decoded:
        rows: list[Record] = []
        pks = array("q")
        problems: list[DataProblem] = []
        at: list[int] = []
        # Decoding allocates many small objects that all stay alive; the cyclic GC would rescan
        # the growing heap again and again (several times slower), so pause it for the loop.
        with paused_gc():
            # streamed in batches: the stored JSON of a large table is never all in memory at once
            with self.store.engine.connect() as conn:
                for pk, model, probs in _decode_rows(conn.execution_options(yield_per=1000).execute(self._query(key)), dec):
                    if probs:
                        problems.extend(probs)
                        at.extend([len(rows)] * len(probs))
                    rows.append(model)
                    pks.append(pk)
        return _Decoded(version, rows, problems, pks, at)

    def _patched(self, key: str, hit: _Decoded, touched: set[str], version: int, dec: RecordDecoder) -> _Decoded:
        """`hit` with the `touched` records read and decoded again (gone ones dropped, new ones
        placed): the same rows, order and problems a full decode gives."""
        fresh: list[tuple[int, Record, list[DataProblem]]] = []
        ids = sorted(touched)
        with self.store.engine.connect() as conn:
            for i in range(0, len(ids), LOOKUP_CHUNK):
                fresh += _decode_rows(conn.execute(
                    self._query(key).where(MirrorRecord.record_id.in_(ids[i:i + LOOKUP_CHUNK]))), dec)
        fresh.sort(key=_store_order)
        return self._replaced(hit, fresh, touched, version) or self._merged(hit, fresh, touched, version)

    @staticmethod
    def _replaced(hit: _Decoded, fresh: list[tuple[int, Record, list[DataProblem]]], touched: set[str],
                  version: int) -> _Decoded | None:
        """The usual edit: every touched record is still there, in its place (no record came or
        went). The rows list is copied and those places replaced; the record ids stay the same
        set, so the decode says which rows moved (`_link_problems` redoes only theirs). None when
        a record came or went (`_merged`)."""
        if len(fresh) != len(touched):
            return None
        places: list[int] = []
        for pk, row, _ in fresh:
            i = bisect_left(hit.pks, pk)
            if i == len(hit.pks) or hit.pks[i] != pk or hit.rows[i].record_id != row.record_id:
                return None
            places.append(i)
        rows = list(hit.rows)
        for i, (_, row, _) in zip(places, fresh):
            rows[i] = row
        moved = set(places)
        kept = [(i, p) for i, p in zip(hit.at, hit.problems) if i not in moved]
        made = [(i, p) for i, (_, _, probs) in zip(places, fresh) for p in probs]
        merged = list(heapq.merge(kept, made, key=_store_order)) if made else kept
        return _Decoded(version, rows, [p for _, p in merged], hit.pks, [i for i, _ in merged],
                        base=hit.serial, moved=tuple(places), same_ids_as=hit.ids_key)

    @staticmethod
    def _merged(hit: _Decoded, fresh: list[tuple[int, Record, list[DataProblem]]], touched: set[str],
                version: int) -> _Decoded:
        """`_patched` when records came or went: the kept rows and the fresh ones merged in store order."""
        problems_of: dict[str, list[DataProblem]] = {}
        for p in hit.problems:
            if p.record_id not in touched:
                problems_of.setdefault(p.record_id, []).append(p)
        for _, row, probs in fresh:
            if probs:
                problems_of[row.record_id] = probs
        rows: list[Record] = []
        pks = array("q")
        problems: list[DataProblem] = []
        at: list[int] = []
        kept = ((pk, row) for pk, row in zip(hit.pks, hit.rows) if row.record_id not in touched)
        for pk, row in heapq.merge(kept, ((pk, row) for pk, row, _ in fresh), key=_store_order):
            if problems_of:
                probs = problems_of.pop(row.record_id, ())
                problems.extend(probs)
                at.extend([len(rows)] * len(probs))
            rows.append(row)
            pks.append(pk)
        return _Decoded(version, rows, problems, pks, at)

    def snapshot(self, now: datetime | None = None) -> PlanSnapshot:
        """The mirror decoded into domain models, with every data problem (cell and cross-table).

        Decoded tables are cached by mirror version, so a snapshot of an unchanged mirror costs one
        small query. Row models are shared between snapshots: treat them as read-only.
        """
        versions = self.versions()
        snap = PlanSnapshot(project_slug=self.slug, read_at=now)
        problems: list[DataProblem] = []
        decoded: dict[str, _Decoded] = {}
        for key in self.table_keys:
            d = decoded[key] = self._decoded(key, versions.get(key, 0))
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
        problems.extend(self._link_problems(decoded))
        snap.problems = snap.labelled(problems)  # each names the row's own ID or name
        snap.blind = [FieldGap(**g) for g in self.binding.gaps]
        return snap

    def _link_problems(self, decoded: dict[str, _Decoded]) -> list[DataProblem]:
        """Links pointing at records that are not in the mirror (deleted, or another table): per
        table, field by field, in row order. Kept per table with what they were found against;
        after an edit that left every table's record ids as they were, only the edited rows'
        links are looked at again (a 100,000-row table's walk costs ~80 ms). The record-id sets
        are made for the call and let go (a 100,000-row table's is 4 MB)."""
        out: list[DataProblem] = []
        sets: dict[str, set[str]] = {}

        def ids(key: str) -> set[str]:
            if key not in sets:
                sets[key] = {r.record_id for r in decoded[key].rows}
            return sets[key]

        for key, d in decoded.items():
            fields = [f for f in PLAN_TABLES[key].fields if f.kind is Kind.LINK and f.link_table in decoded]
            if not fields:
                continue
            targets = tuple(decoded[f.link_table].ids_key for f in fields)
            with self._lock:
                known = self._links.get(key)
            same_targets = known is not None and known.targets == targets
            if same_targets and known.serial == d.serial:
                links = known
            elif same_targets and known.serial == d.base:
                moved = set(d.moved)
                links = _Links(d.serial, targets, [
                    list(heapq.merge([x for x in old if x[0] not in moved],
                                     _links_of(key, f, d.rows, d.moved, ids(f.link_table)), key=_store_order))
                    for f, old in zip(fields, known.by_field)])
            else:
                links = _Links(d.serial, targets, [_links_of(key, f, d.rows, range(len(d.rows)), ids(f.link_table))
                                                   for f in fields])
            with self._lock:
                self._links[key] = links
            for found in links.by_field:
                out.extend(p for _, p in found)
        return out

    def counts(self) -> dict[str, int]:
        with self.store.session() as s:
            return dict(s.execute(select(MirrorTable.table_key, MirrorTable.record_count)
                                  .where(MirrorTable.project == self.slug)).all())

"""`BitableService`: the Bitable state (`sb.bitable`) and what the routes, the control API and tests share.

Lookups raise Feishu's errors (1254040 base, 1254041 table, 1254043 record); `writing` holds a
table's write flag (1254291 for a second write, SandboxConfig `write_conflicts`/`bitable_write_ms`);
`act_create`/`act_update`/`act_delete` act as a person (permission-checked) and emit
`drive.file.bitable_record_changed_v1` to the apps that subscribed to the base; `remember_query`
/`recall_query` keep search results for paging (a page token is an offset into the id list).
"""
from __future__ import annotations

import asyncio
import base64
import contextlib
import copy
import json
import threading
import time
from collections import OrderedDict
from typing import TYPE_CHECKING, Any, AsyncIterator, Iterator

from gtm.sandbox.bitable import access
from gtm.sandbox.bitable.store import DUPLEX_LINK, MULTI_SELECT, SINGLE_LINK, SINGLE_SELECT, Base, BitableStore, Field, Record, Table
from gtm.sandbox.bitable.values import ValueContext, read_value, write_record
from gtm.sandbox.errors import ApiError
from gtm.sandbox.state import new_id

if TYPE_CHECKING:
    from gtm.sandbox.server import Sandbox

EVENT_TYPE = "drive.file.bitable_record_changed_v1"


class BitableService:
    """The Bitable state plus helpers shared by the HTTP routes, the control API and tests."""

    def __init__(self, sb: "Sandbox") -> None:
        self.sb = sb
        raw = sb.world.extra.get("bitable")
        if isinstance(raw, BitableStore):
            self.store = raw
        elif isinstance(raw, dict):
            self.store = BitableStore.from_json(raw)
        else:
            self.store = BitableStore()
        self.store.clock = self._now
        sb.world.extra["bitable"] = self.store
        self.fixed_now_ms: int | None = None  # tests pin the clock (records' times, date keywords)
        self._queries: OrderedDict[str, tuple[str, list[str]]] = OrderedDict()
        self._qlock = threading.Lock()
        self._outbox: list[tuple[str, dict[str, Any]]] = []

    # -- time ----------------------------------------------------------------------------
    def _now(self) -> int:
        return self.fixed_now_ms if self.fixed_now_ms is not None else int(time.time() * 1000)

    def clock(self) -> int:
        return self._now()

    def load_json(self, data: dict[str, Any]) -> None:
        self.store = BitableStore.from_json(data, self._now)
        self.sb.world.extra["bitable"] = self.store

    # -- lookups (raise Feishu errors) ---------------------------------------------------
    def base(self, app_token: str) -> Base:
        b = self.store.bases.get(app_token)
        if b is None:
            raise ApiError(1254040, f"BaseTokenNotFound: {app_token}")
        return b

    def table(self, app_token: str, table_id: str) -> tuple[Base, Table]:
        b = self.base(app_token)
        t = b.tables.get(table_id)
        if t is None:
            raise ApiError(1254041, f"TableIdNotFound: {table_id}")
        return b, t

    @staticmethod
    def record_in(table: Table, record_id: str) -> Record:
        rec = table.records.get(record_id)
        if rec is None:
            raise ApiError(1254043, f"RecordIdNotFound: {record_id}")
        return rec

    def find_table(self, app_token: str, name: str) -> Table | None:
        b = self.store.bases.get(app_token)
        return next((t for t in b.tables.values() if t.name == name), None) if b else None

    def ctx(self, base: Base, user_id_type: str = "open_id") -> ValueContext:
        if user_id_type not in ("open_id", "union_id", "user_id"):
            raise ApiError(1254001, f"WrongRequestBody: user_id_type {user_id_type!r}")
        return ValueContext(self.sb.world, base, user_id_type)

    # -- read format ---------------------------------------------------------------------
    def record_out(self, table: Table, rec: Record, ctx: ValueContext, fields: list[Field] | None = None,
                   automatic: bool = False, legacy_links: bool = False) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for f in fields if fields is not None else table.fields.values():
            v = read_value(f, rec, ctx)
            if v is None:
                continue
            if legacy_links and f.type in (SINGLE_LINK, DUPLEX_LINK):
                v = self._legacy_link(ctx.base, f, v["link_record_ids"])
            out[f.name] = v
        d: dict[str, Any] = {"record_id": rec.record_id, "id": rec.record_id, "fields": out}
        if automatic:
            d.update(created_by=ctx.person(rec.created_by), created_time=rec.created_time,
                     last_modified_by=ctx.person(rec.modified_by), last_modified_time=rec.modified_time)
        return d

    def _legacy_link(self, base: Base, f: Field, ids: list[str]) -> list[dict[str, Any]]:
        """Deprecated list/get link shape: [{"record_ids","table_id","text","text_arr","type"}]."""
        tid = (f.property or {}).get("table_id", "")
        t = base.tables.get(tid)
        texts = []
        if t is not None and (p := t.primary()) is not None:
            for i in ids:
                r = t.records.get(i)
                texts.append(str(r.values.get(p.field_id, "")) if r else "")
        return [{"record_ids": ids, "table_id": tid, "text": ",".join(texts), "text_arr": texts, "type": "text"}]

    # -- writes ---------------------------------------------------------------------------
    @contextlib.asynccontextmanager
    async def writing(self, table: Table) -> AsyncIterator[None]:
        """Hold the table's write flag for the duration of a write (1254291 for a second one)."""
        with self.sb.world.lock:
            if table.busy and self.sb.config.write_conflicts:
                raise ApiError(1254291, "Write conflict: another write to this table is in progress (LockNotObtainedError)")
            table.busy = True
        try:
            ms = float(getattr(self.sb.config, "bitable_write_ms", 0.0) or 0.0)
            if ms > 0:
                await asyncio.sleep(ms / 1000.0)
            yield
        finally:
            table.busy = False

    @contextlib.contextmanager
    def writing_sync(self, table: Table) -> Iterator[None]:
        if table.busy and self.sb.config.write_conflicts:
            raise ApiError(1254291, "Write conflict: another write to this table is in progress (LockNotObtainedError)")
        table.busy = True
        try:
            yield
        finally:
            table.busy = False

    @contextlib.contextmanager
    def all_or_nothing(self, table: Table) -> Iterator[None]:
        """Undo option creation (a side effect of validation) when a batch fails."""
        saved = {fid: copy.deepcopy(f.property) for fid, f in table.fields.items()
                 if f.type in (SINGLE_SELECT, MULTI_SELECT)}
        try:
            yield
        except ApiError:
            for fid, prop in saved.items():
                if fid in table.fields:
                    table.fields[fid].property = prop
            raise

    def apply_update(self, table: Table, rec: Record, stored: dict[str, Any], by: str) -> None:
        for fid, v in stored.items():
            if v is None:
                rec.values.pop(fid, None)
            else:
                rec.values[fid] = v
        rec.modified_time = self._now()
        rec.modified_by = by
        table.version += 1

    # -- Python API for the control API and other test areas -------------------------------
    def bases(self) -> list[dict[str, Any]]:
        with self.sb.world.lock:
            return [{"app_token": b.app_token, "name": b.name, "tenant_key": b.tenant_key,
                     "owner_app_id": b.owner_app_id, "is_advanced": b.is_advanced, "time_zone": b.time_zone,
                     "tables": [t.to_api() for t in b.tables.values()]} for b in self.store.bases.values()]

    def fields(self, app_token: str, table_id: str) -> list[dict[str, Any]]:
        with self.sb.world.lock:
            b, t = self.table(app_token, table_id)
            return [f.to_api(t, b) for f in t.fields.values()]

    def records(self, app_token: str, table_id: str, automatic: bool = True) -> list[dict[str, Any]]:
        """Every record of a table in read format (fields by name), in insertion order."""
        with self.sb.world.lock:
            b, t = self.table(app_token, table_id)
            ctx = self.ctx(b)
            return [self.record_out(t, r, ctx, automatic=automatic) for r in t.records.values()]

    def record(self, app_token: str, table_id: str, record_id: str) -> dict[str, Any]:
        with self.sb.world.lock:
            b, t = self.table(app_token, table_id)
            r = self.record_in(t, record_id)
            return self.record_out(t, r, self.ctx(b), automatic=True)

    def _snapshot(self, table: Table, rec: Record, ctx: ValueContext, only: set[str] | None = None) -> list[dict]:
        out = []
        for f in table.fields.values():
            if only is not None and f.field_id not in only:
                continue
            v = read_value(f, rec, ctx)
            if v is None:
                continue
            item: dict[str, Any] = {"field_id": f.field_id, "field_value": json.dumps(v, ensure_ascii=False)}
            if isinstance(v, list) and v and isinstance(v[0], dict) and "en_name" in v[0]:
                item["field_identity_value"] = {"users": [{"user_id": {"open_id": p["id"]}, "name": p["name"],
                                                           "en_name": p["en_name"], "avatar_url": p["avatar_url"]}
                                                          for p in v]}
            out.append(item)
        return out

    def _emit(self, base: Base, table: Table, open_id: str, actions: list[dict[str, Any]]) -> None:
        """Queue the record-change event; `_flush` delivers it once the world lock is released."""
        if not base.subscribers:
            return
        u = self.sb.world.users.get(open_id)
        op = {"open_id": open_id, "user_id": u.user_id if u else "", "union_id": u.union_id if u else ""}
        subs = []
        for app_id in base.subscribers:
            a = self.sb.world.apps.get(app_id)
            if a:
                subs.append({"open_id": a.bot_open_id, "user_id": "", "union_id": ""})
        event = {"file_token": base.app_token, "file_type": "bitable", "table_id": table.table_id,
                 "revision": table.version, "operator_id": op, "action_list": actions,
                 "subscriber_id_list": subs, "update_time": self._now() // 1000}
        for app_id in list(base.subscribers):
            self._outbox.append((app_id, copy.deepcopy(event)))

    def _flush(self) -> None:
        emit = getattr(self.sb, "emit_event", None)
        with self.sb.world.lock:
            items, self._outbox[:] = list(self._outbox), []
        if emit is None:
            return
        for app_id, event in items:
            emit(app_id, EVENT_TYPE, event)

    def _act_create(self, open_id: str, app_token: str, table_id: str, fields_by_name: dict[str, Any]) -> dict[str, Any]:
        """Create a record as a person (permission-checked, emits record_added)."""
        with self.sb.world.lock:
            b, t = self.table(app_token, table_id)
            access.require(self.sb, app_token, open_id, "add", table_id)
            ctx = self.ctx(b)
            with self.writing_sync(t), self.all_or_nothing(t):
                stored = {k: v for k, v in write_record(fields_by_name, t.fields, ctx).items() if v is not None}
                rec = self.store.new_record(t, stored, open_id)
            after = self._snapshot(t, rec, ctx)
            out = self.record_out(t, rec, ctx, automatic=True)
            self._emit(b, t, open_id, [{"record_id": rec.record_id, "action": "record_added",
                                        "before_value": [], "after_value": after}])
            return out

    def _act_update(self, open_id: str, app_token: str, table_id: str, record_id: str,
                   fields_by_name: dict[str, Any]) -> dict[str, Any]:
        """Edit a record as a person: permission-checked (rec_rule too), sets last_modified_*, emits."""
        with self.sb.world.lock:
            b, t = self.table(app_token, table_id)
            rec = self.record_in(t, record_id)
            access.require(self.sb, app_token, open_id, "edit", table_id, rec)
            ctx = self.ctx(b)
            with self.writing_sync(t), self.all_or_nothing(t):
                stored = write_record(fields_by_name, t.fields, ctx)
                before = self._snapshot(t, rec, ctx, set(stored))
                self.apply_update(t, rec, stored, open_id)
            after = self._snapshot(t, rec, ctx, set(stored))
            out = self.record_out(t, rec, ctx, automatic=True)
            self._emit(b, t, open_id, [{"record_id": rec.record_id, "action": "record_edited",
                                        "before_value": before, "after_value": after}])
            return out

    def _act_delete(self, open_id: str, app_token: str, table_id: str, record_id: str) -> None:
        with self.sb.world.lock:
            b, t = self.table(app_token, table_id)
            rec = self.record_in(t, record_id)
            access.require(self.sb, app_token, open_id, "delete", table_id, rec)
            ctx = self.ctx(b)
            before = self._snapshot(t, rec, ctx)
            with self.writing_sync(t):
                del t.records[record_id]
                t.version += 1
            self._emit(b, t, open_id, [{"record_id": record_id, "action": "record_deleted",
                                        "before_value": before, "after_value": []}])

    def act_create(self, open_id: str, app_token: str, table_id: str, fields_by_name: dict[str, Any]) -> dict[str, Any]:
        """Create a record as a person (permission-checked; emits record_added to subscribers)."""
        try:
            return self._act_create(open_id, app_token, table_id, fields_by_name)
        finally:
            self._flush()

    def act_update(self, open_id: str, app_token: str, table_id: str, record_id: str,
                   fields_by_name: dict[str, Any]) -> dict[str, Any]:
        """Edit a record as a person: permission-checked (rec_rule too), sets last_modified_*, emits."""
        try:
            return self._act_update(open_id, app_token, table_id, record_id, fields_by_name)
        finally:
            self._flush()

    def act_delete(self, open_id: str, app_token: str, table_id: str, record_id: str) -> None:
        """Delete a record as a person (permission-checked; emits record_deleted)."""
        try:
            self._act_delete(open_id, app_token, table_id, record_id)
        finally:
            self._flush()

    def set_modified(self, app_token: str, table_id: str, record_id: str, ms: int, by: str | None = None) -> None:
        """Test switch: pretend the record was last modified at `ms` (and by `by`)."""
        with self.sb.world.lock:
            _, t = self.table(app_token, table_id)
            rec = self.record_in(t, record_id)
            rec.modified_time = int(ms)
            if by:
                rec.modified_by = by
            t.version += 1

    def delete_base(self, app_token: str) -> None:
        with self.sb.world.lock:
            self.base(app_token)
            del self.store.bases[app_token]

    def delete_table(self, app_token: str, table_id: str) -> None:
        with self.sb.world.lock:
            b, _ = self.table(app_token, table_id)
            del b.tables[table_id]

    def add_member(self, app_token: str, member_type: str, member_id: str, perm: str = "edit") -> None:
        """Grant drive permission without HTTP (tests)."""
        with self.sb.world.lock:
            b = self.base(app_token)
            m = access.validate_member(self.sb, {"member_type": member_type, "member_id": member_id, "perm": perm})
            b.members = [x for x in b.members if not (x["member_type"] == member_type and x["member_id"] == member_id)]
            b.members.append(m)

    def can(self, app_token: str, open_id: str, action: str, table_id: str | None = None,
            record_id: str | None = None) -> bool:
        with self.sb.world.lock:
            rec = None
            if record_id and table_id:
                _, t = self.table(app_token, table_id)
                rec = t.records.get(record_id)
            return access.can(self.sb, app_token, open_id, action, table_id, rec)

    # -- search sessions ----------------------------------------------------------------
    def remember_query(self, table_id: str, ids: list[str]) -> str:
        qid = new_id("", 12)
        with self._qlock:
            self._queries[qid] = (table_id, ids)
            while len(self._queries) > 32:
                self._queries.popitem(last=False)
        return qid

    def recall_query(self, token: str, table_id: str) -> tuple[str, int, list[str]]:
        try:
            qid, off = base64.urlsafe_b64decode(token.encode() + b"==").decode().split(":")
            offset = int(off)
        except (ValueError, UnicodeDecodeError):
            raise ApiError(1254002, f"Fail: invalid page_token {token!r}")
        with self._qlock:
            hit = self._queries.get(qid)
            if hit is not None:
                self._queries.move_to_end(qid)
        if hit is None or hit[0] != table_id or offset < 0:
            raise ApiError(1254002, f"Fail: page_token {token!r} is unknown or expired")
        return qid, offset, hit[1]


def query_token(qid: str, offset: int) -> str:
    """The page token of a remembered search result at `offset` (read back by `recall_query`)."""
    return base64.urlsafe_b64encode(f"{qid}:{offset}".encode()).decode().rstrip("=")

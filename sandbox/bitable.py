"""Bitable v1 routes (docs/feishu-api.md §2) and `sb.bitable`, the Python face of the same data.

Choices where the docs are UNCONFIRMED (see also bitable_values / bitable_filter / permissions):
- HTTP status: 200 for the 12540xx codes except those documented with 400/403 (docs/feishu-api.md §5.3).
- page_size above the maximum (search/list 500, fields/views/tables 100) answers 400 1254011,
  like page_size ≤ 0; list-tables and list-views default to 20.
- an invalid or expired page_token answers 1254002; search page tokens are offsets into the id
  list computed for the first page (a paging session); records deleted since are skipped.
- `client_token` must look like a UUID (else 1254037); the same token with another body → 1255006.
- a base/table/record that does not exist → 1254040/1254041/1254043 (HTTP 200).
- updating a field with exactly its current definition answers 1254606 DataNotChange.
- changing a field's type clears its cells (Feishu converts; the sandbox does not).
- a write while another write to the same table is in flight → 1254291 (SandboxConfig
  `write_conflicts`; `bitable_write_ms` makes every write take that long, so tests can collide).
"""
from __future__ import annotations

import asyncio
import base64
import contextlib
import copy
import hashlib
import json
import re
import threading
import time
from collections import OrderedDict
from typing import TYPE_CHECKING, Any, Iterator

from aiohttp import web

from gtm.sandbox import permissions
from gtm.sandbox.auth import authenticate
from gtm.sandbox.bitable_filter import compile_filter, compile_view_filter, sort_ids
from gtm.sandbox.bitable_store import (
    DEFAULT_UI, DUPLEX_LINK, MAX_FIELDS, MAX_TABLES, MAX_VIEWS, MULTI_SELECT, PRIMARY_TYPES, SINGLE_LINK,
    SINGLE_SELECT, VIEW_TYPES, Base, BitableStore, Field, Record, Table, View)
from gtm.sandbox.bitable_values import ValueContext, read_value, write_record
from gtm.sandbox.errors import ApiError, ok, read_json
from gtm.sandbox.state import App, new_id

if TYPE_CHECKING:
    from gtm.sandbox.server import Sandbox

P = "/open-apis/bitable/v1/apps"
UUID_RE = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
EVENT_TYPE = "drive.file.bitable_record_changed_v1"


def _page_size(request: web.Request, default: int, maximum: int) -> int:
    raw = request.query.get("page_size")
    if raw in (None, ""):
        return default
    try:
        n = int(raw)
    except ValueError:
        raise ApiError(1254011, f"page_size must be an integer, got {raw!r}", 400)
    if n <= 0 or n > maximum:
        raise ApiError(1254011, f"page_size must be between 1 and {maximum}, got {n}", 400)
    return n


def _page(items: list[Any], request: web.Request, default: int, maximum: int, key: str) -> dict[str, Any]:
    """Page a small list (tables, fields, views); the token is the last id of the previous page."""
    size = _page_size(request, default, maximum)
    tok = request.query.get("page_token") or ""
    start = 0
    if tok:
        ids = [i[key] for i in items]
        if tok not in ids:
            raise ApiError(1254002, f"Fail: invalid page_token {tok!r}")
        start = ids.index(tok) + 1
    chunk = items[start:start + size]
    more = start + size < len(items)
    out: dict[str, Any] = {"items": chunk, "has_more": more, "total": len(items)}
    if more:
        out["page_token"] = chunk[-1][key]
    return out




def _norm_description(d: Any) -> dict[str, Any] | None:
    if d in (None, "", {}):
        return None
    if isinstance(d, str):
        return {"text": d, "disable_sync": False}
    if isinstance(d, dict):
        return {"text": str(d.get("text", "")), "disable_sync": bool(d.get("disable_sync", False))}
    raise ApiError(1254001, "WrongRequestBody: description must be a string or {text, disable_sync}")


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
    async def writing(self, table: Table):
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
            r = t.records.get(record_id)
            if r is None:
                raise ApiError(1254043, f"RecordIdNotFound: {record_id}")
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
            permissions.require(self.sb, app_token, open_id, "add", table_id)
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
            rec = t.records.get(record_id)
            if rec is None:
                raise ApiError(1254043, f"RecordIdNotFound: {record_id}")
            permissions.require(self.sb, app_token, open_id, "edit", table_id, rec)
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
            rec = t.records.get(record_id)
            if rec is None:
                raise ApiError(1254043, f"RecordIdNotFound: {record_id}")
            permissions.require(self.sb, app_token, open_id, "delete", table_id, rec)
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
            rec = t.records.get(record_id)
            if rec is None:
                raise ApiError(1254043, f"RecordIdNotFound: {record_id}")
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
            m = permissions.validate_member(self.sb, {"member_type": member_type, "member_id": member_id, "perm": perm})
            b.members = [x for x in b.members if not (x["member_type"] == member_type and x["member_id"] == member_id)]
            b.members.append(m)

    def can(self, app_token: str, open_id: str, action: str, table_id: str | None = None,
            record_id: str | None = None) -> bool:
        with self.sb.world.lock:
            rec = None
            if record_id and table_id:
                _, t = self.table(app_token, table_id)
                rec = t.records.get(record_id)
            return permissions.can(self.sb, app_token, open_id, action, table_id, rec)

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


def _token(qid: str, offset: int) -> str:
    return base64.urlsafe_b64encode(f"{qid}:{offset}".encode()).decode().rstrip("=")


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


def register(app: web.Application, sb: "Sandbox") -> None:
    svc = BitableService(sb)
    sb.bitable = svc  # type: ignore[attr-defined]
    lock = sb.world.lock
    cfg = sb.config

    def table_of(request: web.Request) -> tuple[Base, Table]:
        """The base and table named by the route (…/apps/:app_token/tables/:table_id/…)."""
        return svc.table(request.match_info["app_token"], request.match_info["table_id"])

    def access(a: App, base: Base, action: str, table_id: str | None = None, rec: Record | None = None) -> None:
        if base.tenant_key != a.tenant_key:
            raise permissions.denied("the base belongs to another tenant")
        permissions.require(sb, base.app_token, a.bot_open_id, action, table_id, rec)

    def idem_key(a: App, request: web.Request) -> str | None:
        tok = request.query.get("client_token")
        if not tok:
            return None
        if not UUID_RE.match(tok):
            raise ApiError(1254037, f"client_token {tok!r} is not a UUID")
        return f"{a.app_id}|{request.path}|{tok}"

    def idem_get(key: str | None, body: dict[str, Any]) -> Any:
        if key is None:
            return None
        digest = hashlib.sha1(json.dumps(body, sort_keys=True, ensure_ascii=False).encode()).hexdigest()
        hit = svc.store.client_tokens.get(key)
        if hit is None:
            return None
        if hit[0] != digest:
            raise ApiError(1255006, "client_token was already used with a different request")
        return hit[1]

    def idem_put(key: str | None, body: dict[str, Any], data: Any) -> None:
        if key is not None:
            digest = hashlib.sha1(json.dumps(body, sort_keys=True, ensure_ascii=False).encode()).hexdigest()
            svc.store.client_tokens[key] = (digest, data)

    # -- apps ------------------------------------------------------------------------------
    async def create_app(request: web.Request) -> web.Response:
        a = authenticate(request, sb)
        body = await read_json(request)
        name = body.get("name") or "未命名多维表格"
        if not isinstance(name, str) or len(name) > 255:
            raise ApiError(1254001, "WrongRequestBody: name must be a string of at most 255 characters")
        tz = body.get("time_zone") or getattr(cfg, "bitable_time_zone", "Asia/Shanghai")
        with lock:
            b = svc.store.create_base(name, a.tenant_key, a.app_id, body.get("folder_token") or "", tz)
            tenant = sb.world.tenants.get(a.tenant_key)
            domain = tenant.domain if tenant else "sandbox"
            data = {"app": {"app_token": b.app_token, "name": b.name, "folder_token": b.folder_token,
                            "url": f"https://{domain}.feishu.cn/base/{b.app_token}",
                            "default_table_id": next(iter(b.tables)), "time_zone": b.time_zone}}
        return ok(data)

    async def get_app(request: web.Request) -> web.Response:
        a = authenticate(request, sb)
        with lock:
            b = svc.base(request.match_info["app_token"])
            access(a, b, "view")
            return ok({"app": {"app_token": b.app_token, "name": b.name, "revision": b.revision,
                               "is_advanced": b.is_advanced, "time_zone": b.time_zone, "formula_type": 0}})

    async def update_app(request: web.Request) -> web.Response:
        a = authenticate(request, sb)
        body = await read_json(request)
        with lock:
            b = svc.base(request.match_info["app_token"])
            if a.app_id != b.owner_app_id and permissions.member_level(sb, b, a.bot_open_id) < 3:
                raise permissions.denied("only a manager may change the base")
            if "is_advanced" in body and body["is_advanced"] is not None:
                tenant = sb.world.tenants.get(b.tenant_key)
                if body["is_advanced"] and tenant is not None and not tenant.advanced_permissions:
                    raise ApiError(1254306, "the tenant's plan does not include advanced permissions", 403)
                b.is_advanced = bool(body["is_advanced"])
            if body.get("name"):
                b.name = str(body["name"])
            b.revision += 1
            return ok({"app": {"app_token": b.app_token, "name": b.name, "is_advanced": b.is_advanced,
                               "time_zone": b.time_zone}})

    app.router.add_post(P, create_app)
    app.router.add_get(P + "/{app_token}", get_app)
    app.router.add_put(P + "/{app_token}", update_app)

    # -- tables ----------------------------------------------------------------------------
    def build_fields(specs: Any, base: Base) -> list[dict[str, Any]]:
        if not isinstance(specs, list) or not specs:
            raise ApiError(1254001, "WrongRequestBody: fields must be a non-empty list")
        names = set()
        out = []
        for i, s in enumerate(specs):
            s = validate_field_spec(s, base, None)
            if s["field_name"] in names:
                raise ApiError(1254014, f"FieldNameDuplicated: {s['field_name']!r}")
            names.add(s["field_name"])
            if i == 0 and s["type"] not in PRIMARY_TYPES:
                raise ApiError(1254001, f"WrongRequestBody: the first (primary) field {s['field_name']!r} "
                                        f"cannot have type {s['type']}")
            out.append(s)
        return out

    def check_table_name(base: Base, name: Any, skip: str | None = None) -> str:
        if not isinstance(name, str) or not name.strip():
            raise ApiError(1254001, "WrongRequestBody: table name is required")
        if len(name) > 100 or any(ch in name for ch in "[]/\\?*:"):
            raise ApiError(1254001, f"WrongRequestBody: invalid table name {name!r}")
        if any(t.name == name and t.table_id != skip for t in base.tables.values()):
            raise ApiError(1254013, f"TableNameDuplicated: {name!r}")
        return name

    async def list_tables(request: web.Request) -> web.Response:
        a = authenticate(request, sb)
        with lock:
            b = svc.base(request.match_info["app_token"])
            access(a, b, "view")
            items = [t.to_api() for t in b.tables.values()]
        return ok(_page(items, request, 20, 100, "table_id"))

    async def create_table(request: web.Request) -> web.Response:
        a = authenticate(request, sb)
        body = await read_json(request)
        spec = body.get("table")
        if not isinstance(spec, dict):
            raise ApiError(1254001, "WrongRequestBody: 'table' is required")
        with lock:
            b = svc.base(request.match_info["app_token"])
            access(a, b, "edit")
            name = check_table_name(b, spec.get("name"))
            if len(b.tables) >= MAX_TABLES:
                raise ApiError(1254100, f"TableExceedLimit: at most {MAX_TABLES} tables")
            if spec.get("default_view_name") and not spec.get("fields"):
                raise ApiError(1254001, "WrongRequestBody: default_view_name needs fields")
            fields = build_fields(spec["fields"], b) if spec.get("fields") else None
            t = svc.store.create_table(b, name, fields, spec.get("default_view_name"))
            after_field_create(b, t, list(t.fields.values()))
            b.revision += 1
            return ok({"table_id": t.table_id, "default_view_id": next(iter(t.views)),
                       "field_id_list": list(t.fields)})

    async def batch_create_tables(request: web.Request) -> web.Response:
        a = authenticate(request, sb)
        body = await read_json(request)
        with lock:
            b = svc.base(request.match_info["app_token"])
            access(a, b, "edit")
            specs = body.get("tables") or []
            names = [check_table_name(b, s.get("name")) for s in specs]
            if len(set(names)) != len(names):
                raise ApiError(1254013, "TableNameDuplicated: the request repeats a name")
            if len(b.tables) + len(names) > MAX_TABLES:
                raise ApiError(1254100, f"TableExceedLimit: at most {MAX_TABLES} tables")
            ids = [svc.store.create_table(b, n, None).table_id for n in names]
            return ok({"table_ids": ids})

    async def patch_table(request: web.Request) -> web.Response:
        a = authenticate(request, sb)
        body = await read_json(request)
        with lock:
            b, t = table_of(request)
            access(a, b, "edit", t.table_id)
            t.name = check_table_name(b, body.get("name"), t.table_id)
            t.revision += 1
            return ok({"name": t.name})

    async def delete_table(request: web.Request) -> web.Response:
        a = authenticate(request, sb)
        with lock:
            b, t = table_of(request)
            access(a, b, "edit", t.table_id)
            del b.tables[t.table_id]
        return ok({})

    async def batch_delete_tables(request: web.Request) -> web.Response:
        a = authenticate(request, sb)
        body = await read_json(request)
        ids = body.get("table_ids") or []
        if not isinstance(ids, list) or not 1 <= len(ids) <= 50:
            raise ApiError(1254001, "WrongRequestBody: table_ids must hold 1-50 ids")
        with lock:
            b = svc.base(request.match_info["app_token"])
            access(a, b, "edit")
            for tid in ids:
                if tid not in b.tables:
                    raise ApiError(1254041, f"TableIdNotFound: {tid}")
            for tid in ids:
                del b.tables[tid]
        return ok({})

    T = P + "/{app_token}/tables"
    app.router.add_get(T, list_tables)
    app.router.add_post(T, create_table)
    app.router.add_post(T + "/batch_create", batch_create_tables)
    app.router.add_post(T + "/batch_delete", batch_delete_tables)
    app.router.add_patch(T + "/{table_id}", patch_table)
    app.router.add_delete(T + "/{table_id}", delete_table)

    # -- fields ------------------------------------------------------------------------------
    def validate_field_spec(s: Any, base: Base, old: Field | None) -> dict[str, Any]:
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

    async def list_fields(request: web.Request) -> web.Response:
        a = authenticate(request, sb)
        with lock:
            b, t = table_of(request)
            access(a, b, "view", t.table_id)
            items = [f.to_api(t, b) for f in t.fields.values()]
            vid = request.query.get("view_id")
            if vid:
                v = t.views.get(vid)
                if v is None:
                    raise ApiError(1254042, f"ViewIdNotFound: {vid}")
                hidden = set((v.property or {}).get("hidden_fields") or [])
                items = [i for i in items if i["field_id"] not in hidden]
        return ok(_page(items, request, 20, 100, "field_id"))

    async def create_field(request: web.Request) -> web.Response:
        a = authenticate(request, sb)
        body = await read_json(request)
        with lock:
            b, t = table_of(request)
            access(a, b, "edit", t.table_id)
            key = idem_key(a, request)
            if (hit := idem_get(key, body)) is not None:
                return ok(hit)
        async with svc.writing(t):
            with lock:
                s = validate_field_spec(body, b, None)
                if t.field_by_name(s["field_name"]):
                    raise ApiError(1254014, f"FieldNameDuplicated: {s['field_name']!r}")
                if len(t.fields) >= MAX_FIELDS:
                    raise ApiError(1254105, f"ColumnExceedLimit: at most {MAX_FIELDS} fields")
                f = Field(new_id("fld", 7), s["field_name"], s["type"], s["ui_type"], s["property"], s["description"])
                t.fields[f.field_id] = f
                after_field_create(b, t, [f])
                t.revision += 1
                data = {"field": f.to_api(t, b)}
                idem_put(key, body, data)
        return ok(data)

    async def update_field(request: web.Request) -> web.Response:
        a = authenticate(request, sb)
        body = await read_json(request)
        with lock:
            b, t = table_of(request)
            access(a, b, "edit", t.table_id)
            f = t.fields.get(request.match_info["field_id"])
            if f is None:
                raise ApiError(1254044, f"FieldIdNotFound: {request.match_info['field_id']}")
        async with svc.writing(t):
            with lock:
                s = validate_field_spec(body, b, f)
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
                data = {"field": f.to_api(t, b)}
        return ok(data)

    async def delete_field(request: web.Request) -> web.Response:
        a = authenticate(request, sb)
        with lock:
            b, t = table_of(request)
            access(a, b, "edit", t.table_id)
            f = t.fields.get(request.match_info["field_id"])
            if f is None:
                raise ApiError(1254044, f"FieldIdNotFound: {request.match_info['field_id']}")
            if f.is_primary:
                raise ApiError(1254046, f"the primary field {f.name!r} cannot be deleted")
        async with svc.writing(t):
            with lock:
                del t.fields[f.field_id]
                for r in t.records.values():
                    r.values.pop(f.field_id, None)
                for v in t.views.values():
                    hf = (v.property or {}).get("hidden_fields")
                    if hf and f.field_id in hf:
                        hf.remove(f.field_id)
                t.version += 1
                t.revision += 1
        return ok({"field_id": f.field_id, "deleted": True})

    F = T + "/{table_id}/fields"
    app.router.add_get(F, list_fields)
    app.router.add_post(F, create_field)
    app.router.add_put(F + "/{field_id}", update_field)
    app.router.add_delete(F + "/{field_id}", delete_field)

    # -- views -------------------------------------------------------------------------------
    def check_view_name(t: Table, name: Any, skip: str | None = None) -> str:
        if not isinstance(name, str) or not name.strip():
            raise ApiError(1254021, "EmptyViewName: view_name is required")
        if len(name) > 100 or "[" in name or "]" in name:
            raise ApiError(1254022, f"InvalidViewName: {name!r} (≤100 characters, no [ ])")
        if any(v.name == name and v.view_id != skip for v in t.views.values()):
            raise ApiError(1254020, f"ViewNameDuplicated: {name!r}")
        return name

    def view_of(t: Table, request: web.Request) -> View:
        v = t.views.get(request.match_info["view_id"])
        if v is None:
            raise ApiError(1254042, f"ViewIdNotFound: {request.match_info['view_id']}")
        return v

    async def list_views(request: web.Request) -> web.Response:
        a = authenticate(request, sb)
        with lock:
            b, t = table_of(request)
            access(a, b, "view", t.table_id)
            items = [v.to_api() for v in t.views.values()]
        return ok(_page(items, request, 20, 100, "view_id"))

    async def create_view(request: web.Request) -> web.Response:
        a = authenticate(request, sb)
        body = await read_json(request)
        with lock:
            b, t = table_of(request)
            access(a, b, "edit", t.table_id)
        async with svc.writing(t):
            with lock:
                name = check_view_name(t, body.get("view_name"))
                vtype = body.get("view_type") or "grid"
                if vtype not in VIEW_TYPES:
                    raise ApiError(1254019, f"InvalidViewType: {vtype!r}")
                if len(t.views) >= MAX_VIEWS:
                    raise ApiError(1254101, f"ViewExceedLimit: at most {MAX_VIEWS} views")
                v = View(new_id("vew", 7), name, vtype)
                t.views[v.view_id] = v
                data = {"view": v.to_api()}
        return ok(data)

    async def get_view(request: web.Request) -> web.Response:
        a = authenticate(request, sb)
        with lock:
            b, t = table_of(request)
            access(a, b, "view", t.table_id)
            return ok({"view": view_of(t, request).to_api(full=True)})

    async def patch_view(request: web.Request) -> web.Response:
        a = authenticate(request, sb)
        body = await read_json(request)
        with lock:
            b, t = table_of(request)
            access(a, b, "edit", t.table_id)
            v = view_of(t, request)
        async with svc.writing(t):
            with lock:
                if body.get("view_name") is not None:
                    v.name = check_view_name(t, body["view_name"], v.view_id)
                prop = body.get("property") or {}
                newp = dict(v.property or {})
                if "filter_info" in prop:
                    fi = prop["filter_info"]
                    if fi:
                        conds = []
                        for c in fi.get("conditions") or []:
                            f = t.fields.get(c.get("field_id", ""))
                            if f is None:
                                raise ApiError(1254009, f"WrongFieldId: filter condition field {c.get('field_id')!r}")
                            val = c.get("value")
                            if val is not None and not isinstance(val, str):
                                val = json.dumps(val, ensure_ascii=False)
                            conds.append({"field_id": f.field_id, "operator": c.get("operator", "is"),
                                          "value": val, "condition_id": c.get("condition_id") or new_id("con", 7),
                                          "field_type": f.type})
                        fi = {"conjunction": fi.get("conjunction") or "and", "conditions": conds}
                        compile_view_filter(fi, t, svc.ctx(b), svc.clock())  # validates operators/values
                    newp["filter_info"] = fi
                if "hidden_fields" in prop:
                    hidden = list(prop["hidden_fields"] or [])
                    for fid in hidden:
                        if fid not in t.fields:
                            raise ApiError(1254009, f"WrongFieldId: hidden field {fid!r}")
                    newp["hidden_fields"] = hidden
                if "hierarchy_config" in prop:
                    newp["hierarchy_config"] = prop["hierarchy_config"]
                v.property = newp
                data = {"view": v.to_api(full=True)}
        return ok(data)

    async def delete_view(request: web.Request) -> web.Response:
        a = authenticate(request, sb)
        with lock:
            b, t = table_of(request)
            access(a, b, "edit", t.table_id)
            v = view_of(t, request)
            if len(t.views) == 1:
                raise ApiError(1254008, "EmptyView: a table keeps at least one view")
        async with svc.writing(t):
            with lock:
                t.views.pop(v.view_id, None)
        return ok({})

    V = T + "/{table_id}/views"
    app.router.add_get(V, list_views)
    app.router.add_post(V, create_view)
    app.router.add_get(V + "/{view_id}", get_view)
    app.router.add_patch(V + "/{view_id}", patch_view)
    app.router.add_delete(V + "/{view_id}", delete_view)

    # -- records: reads ----------------------------------------------------------------------
    def pick_fields(t: Table, names: Any) -> list[Field] | None:
        if names is None:
            return None
        if not isinstance(names, list) or len(names) > 200:
            raise ApiError(1254024, "InvalidFieldNames: field_names must be a list of ≤200 names")
        out = []
        for n in names:
            f = t.field_by_name(n) if isinstance(n, str) else None
            if f is None:
                raise ApiError(1254045, f"FieldNameNotFound: {n!r}")
            out.append(f)
        return out

    def visible(a: App, b: Base, t: Table) -> Any:
        """A record filter for apps that do not own the base (roles may hide rows)."""
        if a.app_id == b.owner_app_id or not b.is_advanced:
            return None
        return lambda r: permissions.can(sb, b.app_token, a.bot_open_id, "view", t.table_id, r)

    async def search(request: web.Request) -> web.Response:
        a = authenticate(request, sb)
        body = await read_json(request)
        size = _page_size(request, 20, 500)
        uid_type = request.query.get("user_id_type", "open_id")
        token = request.query.get("page_token") or ""
        with lock:
            b, t = table_of(request)
            access(a, b, "view", t.table_id)
            ctx = svc.ctx(b, uid_type)
            fields = pick_fields(t, body.get("field_names"))
            if token:
                qid, offset, ids = svc.recall_query(token, t.table_id)
            else:
                flt = body.get("filter")
                if flt and len(json.dumps(flt, ensure_ascii=False)) > 2000:
                    raise ApiError(1254107, "FilterLengthExceedLimit: the filter is longer than 2000 characters")
                sort = body.get("sort") or []
                if not isinstance(sort, list) or len(sort) > 100:
                    raise ApiError(1254016, "InvalidSort: sort must be a list of ≤100 entries")
                if sort and len(json.dumps(sort, ensure_ascii=False)) > 1000:
                    raise ApiError(1254108, "SortLengthExceedLimit: the sort is longer than 1000 characters")
                now = svc.clock()
                preds = [p for p in (compile_filter(flt, t, ctx, now), visible(a, b, t)) if p is not None]
                vid = body.get("view_id")
                if vid:
                    v = t.views.get(vid)
                    if v is None:
                        raise ApiError(1254042, f"ViewIdNotFound: {vid}")
                    vp = compile_view_filter((v.property or {}).get("filter_info"), t, ctx, now)
                    if vp is not None:
                        preds.append(vp)
                recs = t.records
                if not preds:
                    ids = list(recs)
                elif len(preds) == 1:
                    p0 = preds[0]
                    ids = [rid for rid, r in recs.items() if p0(r)]
                else:
                    ids = [rid for rid, r in recs.items() if all(p(r) for p in preds)]
                if sort:
                    sort_ids(ids, t, sort, ctx)
                qid, offset = svc.remember_query(t.table_id, ids), 0
            auto = bool(body.get("automatic_fields"))
            items = []
            recs = t.records
            for rid in ids[offset:offset + size]:
                r = recs.get(rid)
                if r is not None:
                    items.append(svc.record_out(t, r, ctx, fields, auto))
            more = offset + size < len(ids)
            out: dict[str, Any] = {"items": items, "has_more": more, "total": len(ids)}
            if more:
                out["page_token"] = _token(qid, offset + size)
        return ok(out)

    LEGACY_EQ = re.compile(r'^CurrentValue\.\[(.+?)\]\s*=\s*"(.*)"$')

    async def list_records(request: web.Request) -> web.Response:
        """Deprecated list: supports `CurrentValue.[name]="text"` filters and legacy link shapes."""
        a = authenticate(request, sb)
        size = _page_size(request, 20, 500)
        q = request.query
        uid_type = q.get("user_id_type", "open_id")
        with lock:
            b, t = table_of(request)
            access(a, b, "view", t.table_id)
            ctx = svc.ctx(b, uid_type)
            names = None
            if q.get("field_names"):
                try:
                    names = json.loads(q["field_names"])
                except ValueError:
                    raise ApiError(1254024, "InvalidFieldNames: field_names must be a JSON list")
            fields = pick_fields(t, names)
            if q.get("page_token"):
                qid, offset, ids = svc.recall_query(q["page_token"], t.table_id)
            else:
                flt = q.get("filter", "")
                if len(flt) > 2000:
                    raise ApiError(1254107, "FilterLengthExceedLimit")
                ids = list(t.records)
                if flt:
                    m = LEGACY_EQ.match(flt.strip())
                    if not m:
                        raise ApiError(1254018, "InvalidFilter: the sandbox understands CurrentValue.[name]=\"text\" only")
                    f = t.field_by_name(m.group(1))
                    if f is None:
                        raise ApiError(1254045, f"FieldNameNotFound: {m.group(1)!r}")
                    from gtm.sandbox.bitable_values import compare_value
                    want = m.group(2)
                    ids = [i for i in ids if str(compare_value(f, t.records[i], ctx) or "") == want]
                vid = q.get("view_id")
                if vid:
                    v = t.views.get(vid)
                    if v is None:
                        raise ApiError(1254042, f"ViewIdNotFound: {vid}")
                    vp = compile_view_filter((v.property or {}).get("filter_info"), t, ctx, svc.clock())
                    if vp is not None:
                        ids = [i for i in ids if vp(t.records[i])]
                qid, offset = svc.remember_query(t.table_id, ids), 0
            auto = q.get("automatic_fields") == "true"
            items = [svc.record_out(t, t.records[i], ctx, fields, auto, legacy_links=True)
                     for i in ids[offset:offset + size] if i in t.records]
            more = offset + size < len(ids)
            out: dict[str, Any] = {"items": items, "has_more": more, "total": len(ids)}
            if more:
                out["page_token"] = _token(qid, offset + size)
        return ok(out)

    async def get_record(request: web.Request) -> web.Response:
        a = authenticate(request, sb)
        with lock:
            b, t = table_of(request)
            r = t.records.get(request.match_info["record_id"])
            if r is None:
                raise ApiError(1254043, f"RecordIdNotFound: {request.match_info['record_id']}")
            access(a, b, "view", t.table_id, r)
            ctx = svc.ctx(b, request.query.get("user_id_type", "open_id"))
            auto = request.query.get("automatic_fields") == "true"
            return ok({"record": svc.record_out(t, r, ctx, None, auto, legacy_links=True)})

    async def batch_get(request: web.Request) -> web.Response:
        a = authenticate(request, sb)
        body = await read_json(request)
        ids = body.get("record_ids")
        if not isinstance(ids, list) or not 1 <= len(ids) <= 100 or not all(isinstance(i, str) for i in ids):
            raise ApiError(1254001, "WrongRequestBody: record_ids must hold 1-100 record ids")
        with lock:
            b, t = table_of(request)
            access(a, b, "view", t.table_id)
            ctx = svc.ctx(b, body.get("user_id_type") or "open_id")
            auto = bool(body.get("automatic_fields"))
            recs, forbidden, absent = [], [], []
            vis = visible(a, b, t)
            for rid in ids:
                r = t.records.get(rid)
                if r is None:
                    absent.append(rid)
                elif vis is not None and not vis(r):
                    forbidden.append(rid)
                else:
                    d = svc.record_out(t, r, ctx, None, auto)
                    if body.get("with_shared_url"):
                        d["shared_url"] = f"https://sandbox.feishu.cn/record/{rid}"
                    recs.append(d)
        return ok({"records": recs, "forbidden_record_ids": forbidden, "absent_record_ids": absent})

    # -- records: writes -----------------------------------------------------------------------
    def echo(rec: Record, fields: dict[str, Any]) -> dict[str, Any]:
        return {"fields": fields, "id": rec.record_id, "record_id": rec.record_id}

    async def create_record(request: web.Request) -> web.Response:
        a = authenticate(request, sb)
        body = await read_json(request)
        with lock:
            b, t = table_of(request)
            access(a, b, "add", t.table_id)
            key = idem_key(a, request)
            if (hit := idem_get(key, body)) is not None:
                return ok(hit)
            ctx = svc.ctx(b, request.query.get("user_id_type", "open_id"))
        fields = body.get("fields")
        if fields is None:
            fields = {}
        async with svc.writing(t):
            with lock:
                if t.table_id not in b.tables:
                    raise ApiError(1254041, f"TableIdNotFound: {t.table_id}")
                with svc.all_or_nothing(t):
                    stored = write_record(fields, t.fields, ctx)
                rec = svc.store.new_record(t, {k: v for k, v in stored.items() if v is not None}, a.bot_open_id)
                data = {"record": echo(rec, fields)}
                idem_put(key, body, data)
        return ok(data)

    async def update_record(request: web.Request) -> web.Response:
        a = authenticate(request, sb)
        body = await read_json(request)
        with lock:
            b, t = table_of(request)
            rec = t.records.get(request.match_info["record_id"])
            if rec is None:
                raise ApiError(1254043, f"RecordIdNotFound: {request.match_info['record_id']}")
            access(a, b, "edit", t.table_id, rec)
            ctx = svc.ctx(b, request.query.get("user_id_type", "open_id"))
        fields = body.get("fields") or {}
        async with svc.writing(t):
            with lock:
                if rec.record_id not in t.records:
                    raise ApiError(1254043, f"RecordIdNotFound: {rec.record_id}")
                with svc.all_or_nothing(t):
                    stored = write_record(fields, t.fields, ctx)
                svc.apply_update(t, rec, stored, a.bot_open_id)
                data = {"record": echo(rec, fields)}
        return ok(data)

    async def delete_record(request: web.Request) -> web.Response:
        a = authenticate(request, sb)
        with lock:
            b, t = table_of(request)
            rid = request.match_info["record_id"]
            rec = t.records.get(rid)
            if rec is None:
                raise ApiError(1254043, f"RecordIdNotFound: {rid}")
            access(a, b, "delete", t.table_id, rec)
        async with svc.writing(t):
            with lock:
                if t.records.pop(rid, None) is None:
                    raise ApiError(1254043, f"RecordIdNotFound: {rid}")
                t.version += 1
        return ok({"deleted": True, "record_id": rid})

    def batch_list(body: dict[str, Any], limit: int) -> list[Any]:
        recs = body.get("records")
        if not isinstance(recs, list) or not recs:
            raise ApiError(1254001, "WrongRequestBody: records must be a non-empty list")
        if len(recs) > limit:
            raise ApiError(1254104, f"RecordAddOnceExceedLimit: at most {limit} records per call, got {len(recs)}")
        return recs

    async def batch_create(request: web.Request) -> web.Response:
        a = authenticate(request, sb)
        body = await read_json(request)
        recs = batch_list(body, cfg.batch_limit)
        with lock:
            b, t = table_of(request)
            access(a, b, "add", t.table_id)
            key = idem_key(a, request)
            if (hit := idem_get(key, body)) is not None:
                return ok(hit)
            ctx = svc.ctx(b, request.query.get("user_id_type", "open_id"))
        async with svc.writing(t):
            with lock:
                by_name = {f.name: f for f in t.fields.values()}
                with svc.all_or_nothing(t):
                    converted = []
                    for i, r in enumerate(recs):
                        if not isinstance(r, dict):
                            raise ApiError(1254001, f"WrongRequestBody: records[{i}] must be an object")
                        try:
                            converted.append(write_record(r.get("fields") or {}, t.fields, ctx, by_name))
                        except ApiError as e:
                            e.msg = f"records[{i}]: {e.msg}"
                            raise
                out = []
                now = svc.clock()
                for r, stored in zip(recs, converted):
                    rec = svc.store.new_record(t, {k: v for k, v in stored.items() if v is not None},
                                               a.bot_open_id, now)
                    out.append(echo(rec, r.get("fields") or {}))
                data = {"records": out}
                idem_put(key, body, data)
        return ok(data)

    async def batch_update(request: web.Request) -> web.Response:
        a = authenticate(request, sb)
        body = await read_json(request)
        recs = batch_list(body, cfg.batch_limit)
        with lock:
            b, t = table_of(request)
            access(a, b, "edit", t.table_id)
            ctx = svc.ctx(b, request.query.get("user_id_type", "open_id"))
        async with svc.writing(t):
            with lock:
                by_name = {f.name: f for f in t.fields.values()}
                targets = []
                with svc.all_or_nothing(t):
                    for i, r in enumerate(recs):
                        rid = r.get("record_id") if isinstance(r, dict) else None
                        rec = t.records.get(rid or "")
                        if rec is None:
                            raise ApiError(1254043, f"RecordIdNotFound: records[{i}] {rid!r}")
                        permissions.require(sb, b.app_token, a.bot_open_id, "edit", t.table_id, rec)
                        try:
                            targets.append((rec, r.get("fields") or {},
                                            write_record(r.get("fields") or {}, t.fields, ctx, by_name)))
                        except ApiError as e:
                            e.msg = f"records[{i}] ({rid}): {e.msg}"
                            raise
                out = []
                for rec, fields, stored in targets:
                    svc.apply_update(t, rec, stored, a.bot_open_id)
                    out.append(echo(rec, fields))
        return ok({"records": out})

    async def batch_delete(request: web.Request) -> web.Response:
        a = authenticate(request, sb)
        body = await read_json(request)
        ids = batch_list(body, 500)
        if not all(isinstance(i, str) for i in ids):
            raise ApiError(1254001, "WrongRequestBody: records must be a list of record id strings")
        with lock:
            b, t = table_of(request)
            access(a, b, "delete", t.table_id)
        async with svc.writing(t):
            with lock:
                for rid in ids:
                    rec = t.records.get(rid)
                    if rec is None:
                        raise ApiError(1254043, f"RecordIdNotFound: {rid}")
                    permissions.require(sb, b.app_token, a.bot_open_id, "delete", t.table_id, rec)
                for rid in ids:
                    t.records.pop(rid, None)
                t.version += 1
        return ok({"records": [{"deleted": True, "record_id": rid} for rid in ids]})

    R = T + "/{table_id}/records"
    app.router.add_post(R + "/search", search)
    app.router.add_post(R + "/batch_get", batch_get)
    app.router.add_post(R + "/batch_create", batch_create)
    app.router.add_post(R + "/batch_update", batch_update)
    app.router.add_post(R + "/batch_delete", batch_delete)
    app.router.add_get(R, list_records)
    app.router.add_post(R, create_record)
    app.router.add_get(R + "/{record_id}", get_record)
    app.router.add_put(R + "/{record_id}", update_record)
    app.router.add_delete(R + "/{record_id}", delete_record)

    # -- drive file subscription (record-change events) ----------------------------------------
    S = "/open-apis/drive/v1/files/{file_token}"

    def sub_base(request: web.Request, a: App) -> Base:
        if request.query.get("file_type") != "bitable":
            raise ApiError(1061002, "params error: file_type must be bitable in the sandbox", 400)
        b = svc.store.bases.get(request.match_info["file_token"])
        if b is None:
            raise ApiError(1061003, f"not found: {request.match_info['file_token']}", 404)
        access(a, b, "view")
        return b

    async def subscribe(request: web.Request) -> web.Response:
        a = authenticate(request, sb)
        with lock:
            b = sub_base(request, a)
            if not permissions.can_manage(sb, b, a):  # only the owner or a 可管理 member may subscribe
                raise ApiError(1061004, "forbidden: only the owner or a manager (full_access) of the file "
                                        "may subscribe to its events", 403)
            if a.app_id not in b.subscribers:
                b.subscribers.append(a.app_id)
        return ok({})

    async def get_subscribe(request: web.Request) -> web.Response:
        a = authenticate(request, sb)
        with lock:
            b = sub_base(request, a)
            return ok({"is_subscribe": a.app_id in b.subscribers})

    async def delete_subscribe(request: web.Request) -> web.Response:
        a = authenticate(request, sb)
        with lock:
            b = sub_base(request, a)
            if a.app_id in b.subscribers:
                b.subscribers.remove(a.app_id)
        return ok({})

    app.router.add_post(S + "/subscribe", subscribe)
    app.router.add_get(S + "/get_subscribe", get_subscribe)
    app.router.add_delete(S + "/delete_subscribe", delete_subscribe)

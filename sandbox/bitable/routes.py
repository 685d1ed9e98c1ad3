"""One route decorator for the Bitable API: the preamble every route shares, written once.

A resource module declares its routes on a `Routes` table; each route says what it needs and its
handler gets a `Call` with that already resolved. The steps run in this order, which decides the
answer to a request with several problems, so it is the same for every route:

1. the tenant token (`authenticate`: 99991661 missing, 99991663 unknown or expired);
2. `body=True`: the JSON object body (1254000 otherwise);
3. `page=(default, maximum)`: the `page_size` query parameter (400 1254011);
4. `check`: the route's own validation of the request alone (body, query), before any lookup;
then, holding `World.lock`:
5. what the path names: `{app_token}` the base (1254040), `{table_id}` the table (1254041),
   `{record_id}` the record (1254043);
6. `need`: the caller may do that action (`view`, `add`, `edit`, `delete`) on the base, table and
   record: same tenant, then drive members and advanced roles (`access.require`, 403 1254302);
7. `{field_id}` the field (1254044), `{view_id}` the view (1254042): after the access check, since
   fields and views carry no permission of their own;
8. `idempotent=True`: the `client_token` query parameter (1254037 when not a UUID); a replay
   answers the first request's data, the same token with another body 1255006;
9. `ctx=True`: the value context for the `user_id_type` query parameter (1254001 when unknown);
10. `guard`: the route's last checks on the resolved objects, before anything changes.

The handler returns the `data` of Feishu's `{"code": 0, "msg": "success", "data": …}`. A read (and
any route without `write=True`) runs under the same lock. A `write=True` route releases the lock,
takes the table's write flag (`BitableService.writing`: 1254291 while another write holds it) and
runs under the lock again. An idempotent route's data is remembered under its token before the
lock is released.
"""
from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Awaitable, Callable, Literal

from aiohttp import web

from gtm.sandbox.auth import authenticate
from gtm.sandbox.bitable import access
from gtm.sandbox.bitable.service import BitableService
from gtm.sandbox.bitable.store import Base, Field, Record, Table, View
from gtm.sandbox.bitable.values import ValueContext
from gtm.sandbox.errors import ApiError, ok, read_json
from gtm.sandbox.state import App

if TYPE_CHECKING:
    from gtm.sandbox.server import Sandbox

APPS = "/open-apis/bitable/v1/apps"
TABLES = APPS + "/{app_token}/tables"
TABLE = TABLES + "/{table_id}"
UUID_RE = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")

Data = dict[str, Any]  # the `data` member of a success answer
Action = Literal["view", "add", "edit", "delete"]  # what `access.require` checks


def _unresolved(what: str, param: str) -> RuntimeError:
    return RuntimeError(f"this route resolves no {what}: its path has no {param}")


@dataclass
class Call:
    """One request with what its route asked for already resolved (see the module docstring)."""

    request: web.Request
    svc: BitableService
    caller: App  # the app behind the tenant token
    body: dict[str, Any]
    page_size: int = 0
    client_key: str | None = None  # the idempotency key (app, path, client_token), when given
    _base: Base | None = None
    _table: Table | None = None
    _record: Record | None = None
    _field: Field | None = None
    _view: View | None = None
    _ctx: ValueContext | None = None

    @property
    def sb(self) -> "Sandbox":
        return self.svc.sb

    @property
    def query(self) -> Mapping[str, str]:
        return self.request.query

    @property
    def base(self) -> Base:
        if self._base is None:
            raise _unresolved("base", "{app_token}")
        return self._base

    @property
    def table(self) -> Table:
        if self._table is None:
            raise _unresolved("table", "{table_id}")
        return self._table

    @property
    def record(self) -> Record:
        if self._record is None:
            raise _unresolved("record", "{record_id}")
        return self._record

    @property
    def field(self) -> Field:
        if self._field is None:
            raise _unresolved("field", "{field_id}")
        return self._field

    @property
    def view(self) -> View:
        if self._view is None:
            raise _unresolved("view", "{view_id}")
        return self._view

    @property
    def ctx(self) -> ValueContext:
        if self._ctx is None:
            raise RuntimeError("this route resolves no value context: declare it with ctx=True")
        return self._ctx


Handler = Callable[[Call], Data]
Check = Callable[[Call], None]


@dataclass(frozen=True)
class Spec:
    """What a route needs resolved before its handler runs (see the module docstring)."""

    need: Action | None = None
    body: bool = False
    page: tuple[int, int] | None = None
    check: Check | None = None
    idempotent: bool = False
    ctx: bool = False
    guard: Check | None = None
    write: bool = False


class Routes:
    """The routes of one resource module, mounted on the app by `gtm.sandbox.bitable.register`:

        routes = Routes()

        @routes.route("GET", VIEWS + "/{view_id}", need="view")
        def get_view(c: Call) -> Data:
            return {"view": c.view.to_api(full=True)}  # table, access and view already checked
    """

    def __init__(self) -> None:
        self._routes: list[tuple[str, str, Spec, Handler]] = []

    def route(self, method: str, path: str, *, need: Action | None = None, body: bool = False,
              page: tuple[int, int] | None = None, check: Check | None = None, idempotent: bool = False,
              ctx: bool = False, guard: Check | None = None, write: bool = False) -> Callable[[Handler], Handler]:
        spec = Spec(need, body, page, check, idempotent, ctx, guard, write)

        def add(handler: Handler) -> Handler:
            self._routes.append((method, path, spec, handler))
            return handler

        return add

    def mount(self, app: web.Application, svc: BitableService) -> None:
        """Add the routes, in declaration order (aiohttp matches resources in that order)."""
        for method, path, spec, handler in self._routes:
            endpoint = _endpoint(svc, spec, handler)
            if method == "GET":
                app.router.add_get(path, endpoint)  # answers HEAD as well, like every GET route here
            else:
                app.router.add_route(method, path, endpoint)


def _endpoint(svc: BitableService, spec: Spec, handler: Handler) -> Callable[[web.Request], Awaitable[web.Response]]:
    lock = svc.sb.world.lock

    async def endpoint(request: web.Request) -> web.Response:
        call = Call(request, svc, authenticate(request, svc.sb), await read_json(request) if spec.body else {})
        if spec.page is not None:
            call.page_size = page_size(request, *spec.page)
        if spec.check is not None:
            spec.check(call)
        with lock:
            replay = _resolve(call, spec)
            if replay is not None:
                return ok(replay)
            if not spec.write:
                data = handler(call)
                _remember(call, data)
                return ok(data)
        async with svc.writing(call.table):
            with lock:
                data = handler(call)
                _remember(call, data)
        return ok(data)

    return endpoint


def _resolve(c: Call, spec: Spec) -> Data | None:
    """Steps 5-10 of the module docstring; the remembered data when the request is a replay."""
    m, svc = c.request.match_info, c.svc
    if "table_id" in m:
        c._base, c._table = svc.table(m["app_token"], m["table_id"])
    elif "app_token" in m:
        c._base = svc.base(m["app_token"])
    if "record_id" in m:
        c._record = svc.record_in(c.table, m["record_id"])
    if spec.need is not None:
        require_access(c.sb, c.caller, c.base, spec.need, c._table.table_id if c._table else None, c._record)
    if "field_id" in m:
        c._field = c.table.fields.get(m["field_id"])
        if c._field is None:
            raise ApiError(1254044, f"FieldIdNotFound: {m['field_id']}")
    if "view_id" in m:
        c._view = c.table.views.get(m["view_id"])
        if c._view is None:
            raise ApiError(1254042, f"ViewIdNotFound: {m['view_id']}")
    if spec.idempotent:
        c.client_key = _client_key(c)
        if (hit := _replay(c)) is not None:
            return hit
    if spec.ctx:
        c._ctx = svc.ctx(c.base, c.query.get("user_id_type", "open_id"))
    if spec.guard is not None:
        spec.guard(c)
    return None


def require_access(sb: "Sandbox", caller: App, base: Base, action: Action, table_id: str | None = None,
                   rec: Record | None = None) -> None:
    """The caller's app may do `action` on the base (table, record): same tenant, then `access.require`."""
    if base.tenant_key != caller.tenant_key:
        raise access.denied("the base belongs to another tenant")
    access.require(sb, base.app_token, caller.bot_open_id, action, table_id, rec)


# -- idempotency (client_token) -------------------------------------------------------------------
def _digest(body: dict[str, Any]) -> str:
    return hashlib.sha1(json.dumps(body, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


def _client_key(c: Call) -> str | None:
    tok = c.query.get("client_token")
    if not tok:
        return None
    if not UUID_RE.match(tok):
        raise ApiError(1254037, f"client_token {tok!r} is not a UUID")
    return f"{c.caller.app_id}|{c.request.path}|{tok}"


def _replay(c: Call) -> Data | None:
    if c.client_key is None:
        return None
    hit = c.svc.store.client_tokens.get(c.client_key)
    if hit is None:
        return None
    if hit[0] != _digest(c.body):
        raise ApiError(1255006, "client_token was already used with a different request")
    return hit[1]


def _remember(c: Call, data: Data) -> None:
    if c.client_key is not None:
        c.svc.store.client_tokens[c.client_key] = (_digest(c.body), data)


# -- paging ----------------------------------------------------------------------------------------
def page_size(request: web.Request, default: int, maximum: int) -> int:
    """The `page_size` query parameter: 1..maximum, `default` when absent (else 400 1254011)."""
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


def page(items: list[dict[str, Any]], request: web.Request, default: int, maximum: int, key: str) -> Data:
    """Page a small list (tables, fields, views); the token is the last id of the previous page."""
    size = page_size(request, default, maximum)
    tok = request.query.get("page_token") or ""
    start = 0
    if tok:
        ids = [i[key] for i in items]
        if tok not in ids:
            raise ApiError(1254002, f"Fail: invalid page_token {tok!r}")
        start = ids.index(tok) + 1
    chunk = items[start:start + size]
    more = start + size < len(items)
    out: Data = {"items": chunk, "has_more": more, "total": len(items)}
    if more:
        out["page_token"] = chunk[-1][key]
    return out

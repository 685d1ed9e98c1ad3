"""Who may see or edit a Base: drive permission members and Bitable advanced roles (docs/feishu-api.md §10).

Rules (`can`):
- the app that created the base has full access; so does anyone with a `full_access` member entry;
- a person (or another app, member_type `appid`) needs a member entry: directly (openid, userid,
  unionid, email) or through a group chat they are in (openchat); `view` < `edit` < `full_access`;
- with advanced permissions on, a person in one or more custom roles gets what the roles allow
  per table (`table_perm` 0 none / 1 read / 2 edit / 4 admin) and per record (`rec_rule`: records
  matching the conditions are editable, the rest get `other_perm` 0 hidden / 1 read-only); a person
  in no custom role falls back to the built-in read/edit role of their member entry.
  "Rows where the member is the owner" is a v2 rule (`/open-apis/base/v2/apps/:app_token/roles`):
  `contains` on a person field with no values; v2 refuses is/isNot or values on a person field. A
  literal value (such as a "CurrentUser" keyword) is just text and matches no person.
  `allow_add_record`/`allow_delete_record` default to true.
Codes (UNCONFIRMED for drive, chosen from the drive error family): unknown member or bad
parameter → 400 1063001; caller may not manage members → 403 1063002; unknown token → 404 1063005.
Bitable: denied → 403 1254302; tenant plan without advanced permissions → 403 1254306 (enabling
it or any roles call); roles call on a base whose advanced permissions are off → 403 1254304.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aiohttp import web

from gtm.sandbox.auth import authenticate
from gtm.sandbox.errors import ApiError, ok, read_json
from gtm.sandbox.state import App, new_id

if TYPE_CHECKING:
    from gtm.sandbox.bitable.store import Base, Record
    from gtm.sandbox.server import Sandbox

LEVEL = {"view": 1, "edit": 2, "full_access": 3}
MEMBER_TYPES = {"openid", "unionid", "userid", "email", "openchat", "opendepartmentid", "groupid", "appid"}
ROLE_ID_TYPES = {"open_id", "union_id", "user_id", "chat_id", "department_id", "open_department_id"}
MAX_ROLES = 30


def denied(what: str = "") -> ApiError:
    return ApiError(1254302, "Permission denied" + (f": {what}" if what else ""), 403)


# -- member resolution ------------------------------------------------------------------------
def _member_matches(sb: "Sandbox", m: dict[str, Any], open_id: str) -> bool:
    w = sb.world
    mt, mid = m.get("member_type"), m.get("member_id")
    if mt == "openid":
        return mid == open_id
    if mt == "appid":
        app = w.apps.get(mid or "")
        return app is not None and open_id in (app.bot_open_id, app.app_id)
    if mt == "openchat":
        chat = w.chats.get(mid or "")
        return chat is not None and not chat.dissolved and open_id in chat.members
    u = w.users.get(open_id)
    if u is None:
        return False
    return (mt == "userid" and u.user_id == mid) or (mt == "unionid" and u.union_id == mid) or \
        (mt == "email" and bool(u.email) and u.email.lower() == str(mid).lower())


def member_level(sb: "Sandbox", base: "Base", open_id: str) -> int:
    return max((LEVEL.get(m.get("perm", ""), 0) for m in base.members if _member_matches(sb, m, open_id)),
               default=0)


def can_manage(sb: "Sandbox", base: "Base", app: App) -> bool:
    """Owner or 可管理 (full_access) member: what Feishu requires to subscribe to a file's events
    or to manage its collaborators."""
    return app.app_id == base.owner_app_id or member_level(sb, base, app.bot_open_id) >= 3


def validate_member(sb: "Sandbox", body: dict[str, Any]) -> dict[str, Any]:
    """Check a permission member body and return its stored form; unknown ids → 1063001."""
    w = sb.world
    mt, mid, perm = body.get("member_type"), body.get("member_id"), body.get("perm")
    if mt not in MEMBER_TYPES or not isinstance(mid, str) or not mid:
        raise ApiError(1063001, f"Invalid parameter: member_type {mt!r} / member_id {mid!r}", 400)
    if perm not in LEVEL:
        raise ApiError(1063001, f"Invalid parameter: perm must be view, edit or full_access, got {perm!r}", 400)
    known = {
        "openid": lambda: mid in w.users,
        "userid": lambda: any(u.user_id == mid for u in w.users.values()),
        "unionid": lambda: any(u.union_id == mid for u in w.users.values()),
        "email": lambda: any(u.email and u.email.lower() == mid.lower() for u in w.users.values()),
        "openchat": lambda: mid in w.chats,
        "appid": lambda: mid in w.apps,
    }.get(mt, lambda: True)()
    if not known:
        raise ApiError(1063001, f"Invalid parameter: member {mt}:{mid} does not exist", 400)
    kind = {"openchat": "chat", "opendepartmentid": "department", "groupid": "group"}.get(mt, "user")
    return {"member_type": mt, "member_id": mid, "perm": perm, "type": body.get("type") or kind}


def _member_name(sb: "Sandbox", m: dict[str, Any]) -> str:
    w = sb.world
    mt, mid = m["member_type"], m["member_id"]
    if mt == "openchat":
        return w.chats[mid].name if mid in w.chats else ""
    if mt == "appid":
        return w.apps[mid].name if mid in w.apps else ""
    for u in w.users.values():
        if mid in (u.open_id, u.user_id, u.union_id, u.email):
            return u.name
    return ""


# -- roles ------------------------------------------------------------------------------------
def roles_of(sb: "Sandbox", base: "Base", open_id: str) -> list[dict[str, Any]]:
    u = sb.world.users.get(open_id)
    out = []
    for r in base.roles.values():
        for m in r["members"]:
            if m.get("open_id") == open_id or (u and m.get("user_id") and m.get("user_id") == u.user_id) or \
                    (m.get("chat_id") and open_id in getattr(sb.world.chats.get(m["chat_id"]), "members", [])):
                out.append(r["role"])
                break
    return out


def _table_role(role: dict[str, Any], base: "Base", table_id: str) -> dict[str, Any] | None:
    name = base.tables[table_id].name if table_id in base.tables else None
    for tr in role.get("table_roles") or []:
        if tr.get("table_id") == table_id or (name and tr.get("table_name") == name):
            return tr
    return None


PERSON_TYPES = (11, 1003)  # 人员, 创建人: the fields a "rows where the member is …" rule reads


def _is_current_member(c: dict[str, Any]) -> bool:
    """A person-field condition `contains` with no values: "the member acting now" (§10, v2)."""
    return c.get("field_type") in PERSON_TYPES and c.get("operator") == "contains" and not c.get("value")


def _rec_rule_matches(sb: "Sandbox", base: "Base", table_id: str, rule: dict[str, Any], record: "Record",
                      open_id: str) -> bool:
    """Whether `record` satisfies the rule for `open_id`. A literal value (such as the old
    "CurrentUser" keyword) is just a value: it matches a cell holding that text, never a person."""
    from gtm.sandbox.bitable.filters import compile_filter
    from gtm.sandbox.bitable.values import ValueContext

    table = base.tables[table_id]
    results = []
    for c in rule.get("conditions") or []:
        if _is_current_member(c):
            f = table.field_by_name(c.get("field_name", ""))
            if f is None:
                results.append(False)
            elif f.type == 1003:
                results.append(record.created_by == open_id)
            else:
                results.append(open_id in (record.values.get(f.field_id) or []))
            continue
        pred = compile_filter({"conjunction": "and", "conditions": [c]}, table, ValueContext(sb.world, base),
                              sb.bitable.clock())
        results.append(True if pred is None else pred(record))
    if not results:
        return True
    return any(results) if (rule.get("conjunction") or "and") == "or" else all(results)


def _role_allows(sb: "Sandbox", role: dict[str, Any], base: "Base", open_id: str, action: str,
                 table_id: str | None, record: "Record | None") -> bool:
    if table_id is None:
        perms = [tr.get("table_perm", 0) for tr in role.get("table_roles") or []]
        return any(p >= (2 if action in ("edit", "add", "delete") else 1) for p in perms)
    tr = _table_role(role, base, table_id)
    if tr is None:
        return False
    perm = int(tr.get("table_perm") or 0)
    if perm >= 4:
        return True
    need = 1 if action == "view" else 2
    if perm < need:
        return False
    if action == "add":
        return tr.get("allow_add_record", True) is not False
    if record is None:
        return True
    rule = tr.get("rec_rule")
    if rule and rule.get("conditions"):
        if not _rec_rule_matches(sb, base, table_id, rule, record, open_id):
            return action == "view" and int(rule.get("other_perm") or 0) >= 1
    if action == "delete":
        return tr.get("allow_delete_record", True) is not False
    return True


def can(sb: "Sandbox", app_token: str, open_id: str, action: str, table_id: str | None = None,
        record: "Record | None" = None) -> bool:
    """Whether `open_id` (a person, or an app's bot open_id/app_id) may `action` ("view"|"edit"|
    "add"|"delete") the base, a table of it, or one record of that table."""
    base = sb.bitable.store.bases.get(app_token)
    if base is None:
        return False
    owner = sb.world.apps.get(base.owner_app_id)
    if owner is not None and open_id in (owner.bot_open_id, owner.app_id):
        return True
    if not sb.config.enforce_permissions:
        return True
    level = member_level(sb, base, open_id)
    if level >= 3:
        return True
    need = 1 if action == "view" else 2
    if not base.is_advanced:
        return level >= need
    roles = roles_of(sb, base, open_id)
    if not roles:
        return level >= need
    return any(_role_allows(sb, r, base, open_id, action, table_id, record) for r in roles)


def require(sb: "Sandbox", app_token: str, open_id: str, action: str, table_id: str | None = None,
            record: "Record | None" = None) -> None:
    if not can(sb, app_token, open_id, action, table_id, record):
        where = f" table {table_id}" if table_id else ""
        rec = f" record {record.record_id}" if record is not None else ""
        raise denied(f"{open_id} may not {action}{where}{rec}")


# -- HTTP ---------------------------------------------------------------------------------------


def _drive_base(sb: "Sandbox", request: web.Request, app: App, manage: bool) -> "Base":
    token = request.match_info["token"]
    if request.query.get("type") not in ("bitable", None) and request.query.get("type") != "bitable":
        raise ApiError(1063001, f"Invalid parameter: type {request.query.get('type')!r} (the sandbox knows bitable)", 400)
    if "type" not in request.query:
        raise ApiError(1063001, "Invalid parameter: query parameter 'type' is required", 400)
    base = sb.bitable.store.bases.get(token)
    if base is None or base.tenant_key != app.tenant_key:
        raise ApiError(1063005, f"Resource is deleted or does not exist: {token}", 404)
    if manage and not can_manage(sb, base, app):
        raise ApiError(1063002, "Permission denied: the app may not manage members of this base", 403)
    return base


def _public_member(sb: "Sandbox", m: dict[str, Any]) -> dict[str, Any]:
    return dict(m, name=_member_name(sb, m), avatar="", external_label=False)


def _roles_base(sb: "Sandbox", request: web.Request, app: App) -> "Base":
    base = sb.bitable.base(request.match_info["app_token"])
    tenant = sb.world.tenants.get(base.tenant_key)
    if tenant is not None and not tenant.advanced_permissions:
        raise ApiError(1254306, "the tenant's plan does not include advanced permissions", 403)
    if not base.is_advanced:
        raise ApiError(1254304, "advanced permissions are not enabled on this base", 403)
    if app.app_id != base.owner_app_id and member_level(sb, base, app.bot_open_id) < 3:
        raise denied("only a manager may change roles")
    return base


def _normalise_role(sb: "Sandbox", base: "Base", body: dict[str, Any], role_id: str,
                    version: int = 1) -> dict[str, Any]:
    name = body.get("role_name")
    if not isinstance(name, str) or not name.strip():
        raise ApiError(1254001, "WrongRequestBody: role_name is required")
    trs = []
    for tr in body.get("table_roles") or []:
        tr = dict(tr)
        t = base.tables.get(tr.get("table_id", "")) if tr.get("table_id") else \
            next((x for x in base.tables.values() if x.name == tr.get("table_name")), None)
        if t is None:
            raise ApiError(1254041, f"TableIdNotFound: role table {tr.get('table_id') or tr.get('table_name')!r}")
        tr["table_id"], tr["table_name"] = t.table_id, t.name
        if int(tr.get("table_perm", 0)) not in (0, 1, 2, 4):
            raise ApiError(1254001, "WrongRequestBody: table_perm must be 0, 1, 2 or 4")
        for c in (tr.get("rec_rule") or {}).get("conditions") or []:
            f = t.field_by_name(c.get("field_name", ""))
            if f is None:
                raise ApiError(1254045, f"FieldNameNotFound: rec_rule field {c.get('field_name')!r}")
            c["field_type"] = f.type
            if version == 2 and f.type in PERSON_TYPES:
                if c.get("operator") in ("is", "isNot"):
                    raise ApiError(1254001, f"WrongRequestBody: operator {c.get('operator')!r} is not allowed on "
                                            f"person field {f.name!r}; use contains with no values")
                if c.get("value"):
                    raise ApiError(1254001, f"WrongRequestBody: person field {f.name!r} takes no values "
                                            f"(contains with no values means the current member)")
                c["value"] = None
        trs.append(tr)
    return {"role_id": role_id, "role_name": name, "table_roles": trs, "block_roles": body.get("block_roles") or [],
            "version": version}


def _role_member(sb: "Sandbox", id_type: str, mid: str) -> dict[str, Any]:
    w = sb.world
    if id_type not in ROLE_ID_TYPES:
        raise ApiError(1254001, f"WrongRequestBody: member_id_type {id_type!r}")
    if id_type == "chat_id":
        chat = w.chats.get(mid)
        if chat is None:
            raise ApiError(1254001, f"WrongRequestBody: unknown chat {mid!r}")
        return {"member_type": "chat", "member_id": mid, "chat_id": mid, "member_name": chat.name}
    if id_type in ("department_id", "open_department_id"):
        return {"member_type": "department", "member_id": mid, id_type: mid, "member_name": ""}
    attr = {"open_id": "open_id", "user_id": "user_id", "union_id": "union_id"}[id_type]
    u = next((u for u in w.users.values() if getattr(u, attr) == mid), None)
    if u is None:
        raise ApiError(1254001, f"WrongRequestBody: unknown {id_type} {mid!r}")
    return {"member_type": "user", "member_id": mid, "open_id": u.open_id, "user_id": u.user_id,
            "union_id": u.union_id, "member_name": u.name, "member_en_name": u.en_name}


def register(app: web.Application, sb: "Sandbox") -> None:
    lock = sb.world.lock
    D = "/open-apis/drive/v1/permissions/{token}/members"
    R = "/open-apis/bitable/v1/apps/{app_token}/roles"
    R2 = "/open-apis/base/v2/apps/{app_token}/roles"  # advanced permissions v2 (same roles, v2 rules)

    async def add_member(request: web.Request) -> web.Response:
        a = authenticate(request, sb)
        body = await read_json(request)
        with lock:
            base = _drive_base(sb, request, a, manage=True)
            m = _upsert(base, validate_member(sb, body))
        return ok({"member": m})

    def _upsert(base: "Base", m: dict[str, Any]) -> dict[str, Any]:
        for old in base.members:
            if old["member_type"] == m["member_type"] and old["member_id"] == m["member_id"]:
                old.update(m)
                return dict(old)
        base.members.append(m)
        return dict(m)

    async def batch_members(request: web.Request) -> web.Response:
        a = authenticate(request, sb)
        body = await read_json(request)
        with lock:
            base = _drive_base(sb, request, a, manage=True)
            members = [validate_member(sb, m) for m in body.get("members") or []]
            if not members:
                raise ApiError(1063001, "Invalid parameter: members is empty", 400)
            out = [_public_member(sb, _upsert(base, m)) for m in members]
        return ok({"members": out})

    async def list_members(request: web.Request) -> web.Response:
        a = authenticate(request, sb)
        with lock:
            base = _drive_base(sb, request, a, manage=False)
            if not can(sb, base.app_token, a.bot_open_id, "view"):
                raise ApiError(1063002, "Permission denied", 403)
            items = [_public_member(sb, m) for m in base.members]
        return ok({"items": items})

    async def auth_member(request: web.Request) -> web.Response:
        a = authenticate(request, sb)
        action = request.query.get("action", "")
        if action not in ("view", "edit", "share", "comment", "export", "copy", "print", "manage_public"):
            raise ApiError(1063001, f"Invalid parameter: action {action!r}", 400)
        with lock:
            base = _drive_base(sb, request, a, manage=False)
            if action == "manage_public":  # changing the sharing settings: owner or 可管理 only
                result = can_manage(sb, base, a)
            else:
                result = can(sb, base.app_token, a.bot_open_id, "view" if action in ("view", "copy", "print") else "edit")
        return ok({"auth_result": result})

    async def delete_member(request: web.Request) -> web.Response:
        a = authenticate(request, sb)
        mt = request.query.get("member_type", "")
        mid = request.match_info["member_id"]
        with lock:
            base = _drive_base(sb, request, a, manage=True)
            before = len(base.members)
            base.members = [m for m in base.members if not (m["member_id"] == mid and m["member_type"] == mt)]
            if len(base.members) == before:
                raise ApiError(1063001, f"Invalid parameter: {mt}:{mid} is not a member", 400)
        return ok({})

    async def update_member(request: web.Request) -> web.Response:
        a = authenticate(request, sb)
        body = await read_json(request)
        body["member_id"] = request.match_info["member_id"]
        with lock:
            base = _drive_base(sb, request, a, manage=True)
            m = _upsert(base, validate_member(sb, body))
        return ok({"member": m})

    app.router.add_post(D, add_member)
    app.router.add_get(D, list_members)
    app.router.add_post(D + "/batch_create", batch_members)
    app.router.add_get(D + "/auth", auth_member)
    app.router.add_delete(D + "/{member_id}", delete_member)
    app.router.add_put(D + "/{member_id}", update_member)

    # -- roles ----------------------------------------------------------------------------
    def _version(request: web.Request) -> int:
        return 2 if request.path.startswith("/open-apis/base/v2/") else 1

    async def create_role(request: web.Request) -> web.Response:
        a = authenticate(request, sb)
        body = await read_json(request)
        with lock:
            base = _roles_base(sb, request, a)
            if len(base.roles) >= MAX_ROLES:
                raise ApiError(1254110, f"RoleExceedLimit: at most {MAX_ROLES} custom roles")
            if any(r["role"]["role_name"] == body.get("role_name") for r in base.roles.values()):
                raise ApiError(1254001, f"WrongRequestBody: role name {body.get('role_name')!r} exists")
            role = _normalise_role(sb, base, body, new_id("rol", 7), _version(request))
            base.roles[role["role_id"]] = {"role": role, "members": []}
        return ok({"role": role})

    async def list_roles(request: web.Request) -> web.Response:
        a = authenticate(request, sb)
        with lock:
            base = _roles_base(sb, request, a)
            items = [r["role"] for r in base.roles.values()]
        return ok({"items": items, "has_more": False, "total": len(items)})

    def _role(base: "Base", request: web.Request) -> dict[str, Any]:
        r = base.roles.get(request.match_info["role_id"])
        if r is None:
            raise ApiError(1254001, f"WrongRequestBody: role {request.match_info['role_id']!r} not found")
        return r

    async def update_role(request: web.Request) -> web.Response:
        a = authenticate(request, sb)
        body = await read_json(request)
        with lock:
            base = _roles_base(sb, request, a)
            r = _role(base, request)
            r["role"] = _normalise_role(sb, base, body, r["role"]["role_id"], _version(request))
        return ok({"role": r["role"]})

    async def delete_role(request: web.Request) -> web.Response:
        a = authenticate(request, sb)
        with lock:
            base = _roles_base(sb, request, a)
            _role(base, request)
            del base.roles[request.match_info["role_id"]]
        return ok({})

    async def add_role_member(request: web.Request) -> web.Response:
        a = authenticate(request, sb)
        body = await read_json(request)
        id_type = request.query.get("member_id_type", "open_id")
        with lock:
            base = _roles_base(sb, request, a)
            r = _role(base, request)
            m = _role_member(sb, id_type, str(body.get("member_id", "")))
            if not any(x["member_id"] == m["member_id"] for x in r["members"]):
                r["members"].append(m)
        return ok({})

    async def batch_role_members(request: web.Request) -> web.Response:
        a = authenticate(request, sb)
        body = await read_json(request)
        with lock:
            base = _roles_base(sb, request, a)
            r = _role(base, request)
            new = [_role_member(sb, x.get("type", "open_id"), str(x.get("id", ""))) for x in body.get("member_list") or []]
            for m in new:
                if not any(x["member_id"] == m["member_id"] for x in r["members"]):
                    r["members"].append(m)
        return ok({})

    async def list_role_members(request: web.Request) -> web.Response:
        a = authenticate(request, sb)
        with lock:
            base = _roles_base(sb, request, a)
            items = [dict(m) for m in _role(base, request)["members"]]
        return ok({"items": items, "has_more": False, "total": len(items)})

    async def delete_role_member(request: web.Request) -> web.Response:
        a = authenticate(request, sb)
        mid = request.match_info["member_id"]
        with lock:
            base = _roles_base(sb, request, a)
            r = _role(base, request)
            before = len(r["members"])
            r["members"] = [m for m in r["members"]
                            if mid not in (m.get("member_id"), m.get("open_id"), m.get("user_id"), m.get("union_id"))]
            if len(r["members"]) == before:
                raise ApiError(1254001, f"WrongRequestBody: {mid!r} is not a member of the role")
        return ok({})

    app.router.add_post(R, create_role)
    app.router.add_get(R, list_roles)
    app.router.add_put(R + "/{role_id}", update_role)
    app.router.add_delete(R + "/{role_id}", delete_role)
    app.router.add_post(R + "/{role_id}/members", add_role_member)
    app.router.add_get(R + "/{role_id}/members", list_role_members)
    app.router.add_post(R + "/{role_id}/members/batch_create", batch_role_members)
    app.router.add_delete(R + "/{role_id}/members/{member_id}", delete_role_member)
    app.router.add_post(R2, create_role)
    app.router.add_get(R2, list_roles)
    app.router.add_put(R2 + "/{role_id}", update_role)

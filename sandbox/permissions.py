"""The routes that manage who may see or edit a Base (docs/feishu-api.md §10): drive permission
members (`/open-apis/drive/v1/permissions/{token}/members`) and Bitable advanced roles (v1
`/open-apis/bitable/v1/apps/:app_token/roles`, v2 `/open-apis/base/v2/apps/:app_token/roles`).

The rules these members and roles feed (`can`, `require`) live in `gtm.sandbox.bitable.access`,
beside the data they read; this module only changes members and roles. v2 roles differ in one
rule: "rows where the member is the owner" is `contains` on a person field with no values, and v2
refuses is/isNot or values on a person field.
Codes (UNCONFIRMED for drive, chosen from the drive error family): unknown member or bad
parameter → 400 1063001; caller may not manage members → 403 1063002; unknown token → 404 1063005.
Bitable: denied → 403 1254302; tenant plan without advanced permissions → 403 1254306 (enabling
it or any roles call); roles call on a base whose advanced permissions are off → 403 1254304.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aiohttp import web

from gtm.sandbox.auth import authenticate
from gtm.sandbox.bitable.access import PERSON_TYPES, can, can_manage, denied, member_level, validate_member
from gtm.sandbox.bitable.store import Base
from gtm.sandbox.errors import ApiError, ok, read_json
from gtm.sandbox.state import App, new_id

if TYPE_CHECKING:
    from gtm.sandbox.server import Sandbox

ROLE_ID_TYPES = {"open_id", "union_id", "user_id", "chat_id", "department_id", "open_department_id"}
MAX_ROLES = 30


# -- drive members ------------------------------------------------------------------------------
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


def _drive_base(sb: "Sandbox", request: web.Request, app: App, manage: bool) -> Base:
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


def _roles_base(sb: "Sandbox", request: web.Request, app: App) -> Base:
    base = sb.bitable.base(request.match_info["app_token"])
    tenant = sb.world.tenants.get(base.tenant_key)
    if tenant is not None and not tenant.advanced_permissions:
        raise ApiError(1254306, "the tenant's plan does not include advanced permissions", 403)
    if not base.is_advanced:
        raise ApiError(1254304, "advanced permissions are not enabled on this base", 403)
    if app.app_id != base.owner_app_id and member_level(sb, base, app.bot_open_id) < 3:
        raise denied("only a manager may change roles")
    return base


def _normalise_role(sb: "Sandbox", base: Base, body: dict[str, Any], role_id: str,
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

    def _upsert(base: Base, m: dict[str, Any]) -> dict[str, Any]:
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

    def _role(base: Base, request: web.Request) -> dict[str, Any]:
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

"""Bases (`/open-apis/bitable/v1/apps`): create, get, update (name, advanced permissions)."""
from __future__ import annotations

from gtm.sandbox.bitable import access
from gtm.sandbox.bitable.routes import APPS, Call, Data, Routes
from gtm.sandbox.errors import ApiError

routes = Routes()


def _check_name(c: Call) -> None:
    name = c.body.get("name") or "未命名多维表格"
    if not isinstance(name, str) or len(name) > 255:
        raise ApiError(1254001, "WrongRequestBody: name must be a string of at most 255 characters")


@routes.route("POST", APPS, body=True, check=_check_name)
def create_app(c: Call) -> Data:
    body, sb = c.body, c.sb
    tz = body.get("time_zone") or getattr(sb.config, "bitable_time_zone", "Asia/Shanghai")
    b = c.svc.store.create_base(body.get("name") or "未命名多维表格", c.caller.tenant_key, c.caller.app_id,
                                body.get("folder_token") or "", tz)
    tenant = sb.world.tenants.get(c.caller.tenant_key)
    domain = tenant.domain if tenant else "sandbox"
    return {"app": {"app_token": b.app_token, "name": b.name, "folder_token": b.folder_token,
                    "url": f"https://{domain}.feishu.cn/base/{b.app_token}",
                    "default_table_id": next(iter(b.tables)), "time_zone": b.time_zone}}


@routes.route("GET", APPS + "/{app_token}", need="view")
def get_app(c: Call) -> Data:
    b = c.base
    return {"app": {"app_token": b.app_token, "name": b.name, "revision": b.revision,
                    "is_advanced": b.is_advanced, "time_zone": b.time_zone, "formula_type": 0}}


@routes.route("PUT", APPS + "/{app_token}", body=True)
def update_app(c: Call) -> Data:
    """Only the owner app or a manager (full_access member) may change the base; no tenant check."""
    b, body, sb = c.base, c.body, c.sb
    if c.caller.app_id != b.owner_app_id and access.member_level(sb, b, c.caller.bot_open_id) < 3:
        raise access.denied("only a manager may change the base")
    if "is_advanced" in body and body["is_advanced"] is not None:
        tenant = sb.world.tenants.get(b.tenant_key)
        if body["is_advanced"] and tenant is not None and not tenant.advanced_permissions:
            raise ApiError(1254306, "the tenant's plan does not include advanced permissions", 403)
        b.is_advanced = bool(body["is_advanced"])
    if body.get("name"):
        b.name = str(body["name"])
    b.revision += 1
    return {"app": {"app_token": b.app_token, "name": b.name, "is_advanced": b.is_advanced,
                    "time_zone": b.time_zone}}

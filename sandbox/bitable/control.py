"""Control API for Bitable (never under /open-apis): read the grid, act as a person, test switches.

Routes (JSON; errors in Feishu's shape, e.g. 403 {"code":1254302,…} when a person may not edit):
  GET    /_sandbox/bitable/bases
  GET    /_sandbox/bitable/bases/{app_token}/tables/{table_id}/fields
  GET    /_sandbox/bitable/bases/{app_token}/tables/{table_id}/records
  POST   /_sandbox/bitable/bases/{app_token}/tables/{table_id}/records            {"open_id","fields"}
  PUT    /_sandbox/bitable/bases/{app_token}/tables/{table_id}/records/{rid}      {"open_id","fields"}
  DELETE /_sandbox/bitable/bases/{app_token}/tables/{table_id}/records/{rid}?open_id=
  POST   /_sandbox/bitable/bases/{app_token}/tables/{table_id}/records/{rid}/modified_time {"ms","by"?}
  DELETE /_sandbox/bitable/bases/{app_token}            (a deleted Base)
  DELETE /_sandbox/bitable/bases/{app_token}/tables/{table_id}
  POST   /_sandbox/bitable/bases/{app_token}/members    {"member_type","member_id","perm"}
  POST   /_sandbox/bitable/clock                        {"now_ms": int | null}
  GET    /_sandbox/ratelimit                            429 counts
The same operations are Python methods of `sb.bitable` (see `gtm.sandbox.bitable.BitableService`).
"""
from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from aiohttp import web

from gtm.sandbox.errors import ApiError, ok

if TYPE_CHECKING:
    from gtm.sandbox.server import Sandbox

C = "/_sandbox/bitable"


async def _body(request: web.Request) -> dict[str, Any]:
    raw = await request.read()
    try:
        body = json.loads(raw) if raw else {}
    except ValueError:
        raise ApiError(1254000, "WrongRequestJson: body is not JSON")
    if not isinstance(body, dict):
        raise ApiError(1254000, "WrongRequestJson: body must be an object")
    return body


def _actor(body: dict[str, Any], request: web.Request) -> str:
    who = body.get("open_id") or request.query.get("open_id")
    if not who:
        raise ApiError(1254001, "WrongRequestBody: open_id (the acting person) is required")
    return str(who)


def register(app: web.Application, sb: "Sandbox") -> None:
    svc = sb.bitable  # type: ignore[attr-defined]
    TB = C + "/bases/{app_token}/tables/{table_id}"

    async def bases(request: web.Request) -> web.Response:
        return ok({"items": svc.bases()})

    async def fields(request: web.Request) -> web.Response:
        m = request.match_info
        return ok({"items": svc.fields(m["app_token"], m["table_id"])})

    async def records(request: web.Request) -> web.Response:
        m = request.match_info
        return ok({"items": svc.records(m["app_token"], m["table_id"])})

    async def create(request: web.Request) -> web.Response:
        m, body = request.match_info, await _body(request)
        return ok({"record": svc.act_create(_actor(body, request), m["app_token"], m["table_id"],
                                             body.get("fields") or {})})

    async def update(request: web.Request) -> web.Response:
        m, body = request.match_info, await _body(request)
        return ok({"record": svc.act_update(_actor(body, request), m["app_token"], m["table_id"],
                                             m["record_id"], body.get("fields") or {})})

    async def delete(request: web.Request) -> web.Response:
        m, body = request.match_info, await _body(request)
        svc.act_delete(_actor(body, request), m["app_token"], m["table_id"], m["record_id"])
        return ok({"deleted": True, "record_id": m["record_id"]})

    async def modified(request: web.Request) -> web.Response:
        m, body = request.match_info, await _body(request)
        if not isinstance(body.get("ms"), int):
            raise ApiError(1254001, "WrongRequestBody: ms (epoch milliseconds) is required")
        svc.set_modified(m["app_token"], m["table_id"], m["record_id"], body["ms"], body.get("by"))
        return ok({})

    async def delete_base(request: web.Request) -> web.Response:
        svc.delete_base(request.match_info["app_token"])
        return ok({})

    async def delete_table(request: web.Request) -> web.Response:
        svc.delete_table(request.match_info["app_token"], request.match_info["table_id"])
        return ok({})

    async def member(request: web.Request) -> web.Response:
        body = await _body(request)
        svc.add_member(request.match_info["app_token"], str(body.get("member_type", "")),
                       str(body.get("member_id", "")), str(body.get("perm", "edit")))
        return ok({})

    async def clock(request: web.Request) -> web.Response:
        body = await _body(request)
        v = body.get("now_ms")
        svc.fixed_now_ms = int(v) if v is not None else None
        return ok({"now_ms": svc.clock()})

    app.router.add_get(C + "/bases", bases)
    app.router.add_get(TB + "/fields", fields)
    app.router.add_get(TB + "/records", records)
    app.router.add_post(TB + "/records", create)
    app.router.add_put(TB + "/records/{record_id}", update)
    app.router.add_delete(TB + "/records/{record_id}", delete)
    app.router.add_post(TB + "/records/{record_id}/modified_time", modified)
    app.router.add_delete(C + "/bases/{app_token}", delete_base)
    app.router.add_delete(TB, delete_table)
    app.router.add_post(C + "/bases/{app_token}/members", member)
    app.router.add_post(C + "/clock", clock)

"""GET /open-apis/bot/v3/info: the calling app's bot identity (open_id, name, activation)."""
from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

from gtm.sandbox.auth import authenticate

if TYPE_CHECKING:
    from gtm.sandbox.server import Sandbox


def register(app: web.Application, sb: "Sandbox") -> None:
    async def bot_info(request: web.Request) -> web.Response:
        a = authenticate(request, sb)
        # top-level "bot" object, as the real endpoint answers (no "data" wrapper)
        return web.json_response({"code": 0, "msg": "ok", "bot": {
            "activate_status": 2, "app_name": a.name, "avatar_url": "", "ip_white_list": [],
            "open_id": a.bot_open_id}})

    app.router.add_get("/open-apis/bot/v3/info", bot_info)

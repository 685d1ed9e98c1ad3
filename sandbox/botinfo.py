"""GET /open-apis/bot/v3/info: the calling app's bot identity (open_id, name, activation).
GET /open-apis/application/v6/applications/:app_id: the calling app's own information, with the
events and callbacks subscribed in the developer console."""
from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

from gtm.sandbox.auth import authenticate
from gtm.sandbox.errors import ApiError, ok

if TYPE_CHECKING:
    from gtm.sandbox.server import Sandbox


def register(app: web.Application, sb: "Sandbox") -> None:
    async def bot_info(request: web.Request) -> web.Response:
        a = authenticate(request, sb)
        # top-level "bot" object, as the real endpoint answers (no "data" wrapper)
        return web.json_response({"code": 0, "msg": "ok", "bot": {
            "activate_status": 2, "app_name": a.name, "avatar_url": "", "ip_white_list": [],
            "open_id": a.bot_open_id}})

    async def application(request: web.Request) -> web.Response:
        a = authenticate(request, sb)
        if request.match_info["app_id"] != a.app_id:  # another app: needs admin scopes we do not model
            raise ApiError(210508, "insufficient permission level", 400)
        mode = "websocket" if a.event_mode == "ws" else "webhook"
        return ok({"app": {
            "app_id": a.app_id, "app_name": a.name, "status": 1, "scene_type": 0,
            "event": {"subscription_type": mode, "request_url": a.webhook_url,
                      "subscribed_events": list(a.events)},
            "callback_info": {"callback_type": mode, "request_url": a.card_webhook_url,
                              "subscribed_callbacks": list(a.callbacks)}}})

    app.router.add_get("/open-apis/bot/v3/info", bot_info)
    app.router.add_get("/open-apis/application/v6/applications/{app_id}", application)

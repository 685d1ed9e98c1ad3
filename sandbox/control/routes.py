"""The control API's HTTP routes (`/_sandbox/…`, JSON): each calls the same method of `Control`.
Errors are `{"error": "..."}`: 400 for a bad request, 404 for an unknown id, 502 when the app's
callback could not be delivered.
"""
from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from aiohttp import web

from gtm.sandbox.control.twin import Control, ControlError
from gtm.sandbox.events import DeliveryFailed

if TYPE_CHECKING:
    from gtm.sandbox.server import Sandbox


def register(app: web.Application, sb: "Sandbox") -> None:
    ctl = Control(sb)
    sb.control = ctl  # type: ignore[attr-defined]

    def route(fn):
        async def handler(request: web.Request) -> web.StreamResponse:
            try:
                body = json.loads(await request.read() or b"{}") if request.method != "GET" else {}
                if not isinstance(body, dict):
                    raise ControlError("body must be a JSON object")
                result = await fn(request, body)
            except ControlError as exc:
                return web.json_response({"error": str(exc)}, status=exc.status)
            except ValueError as exc:
                return web.json_response({"error": f"bad request: {exc}"}, status=400)
            except TypeError as exc:
                return web.json_response({"error": f"bad arguments: {exc}"}, status=400)
            except DeliveryFailed as exc:
                return web.json_response({"error": f"callback delivery failed: {exc}"}, status=502)
            return web.json_response(result, dumps=lambda o: json.dumps(o, ensure_ascii=False, default=str))
        return handler

    m = lambda r, k: r.match_info[k]  # noqa: E731
    R = app.router
    R.add_get("/_sandbox/info", route(lambda r, b: _a(ctl.info())))
    R.add_post("/_sandbox/tenants", route(lambda r, b: _a(ctl.create_tenant(**b))))
    R.add_post("/_sandbox/apps", route(lambda r, b: _a(ctl.create_app(**b))))
    R.add_post("/_sandbox/users", route(lambda r, b: _a(ctl.create_user(**b))))
    R.add_patch("/_sandbox/users/{open_id}", route(lambda r, b: _a(ctl.update_user(m(r, "open_id"), **b))))
    R.add_post("/_sandbox/chats", route(lambda r, b: _a(ctl.create_chat(**b))))
    R.add_post("/_sandbox/chats/{chat_id}/members", route(lambda r, b: _a(ctl.add_member(m(r, "chat_id"), b["open_id"]))))
    R.add_delete("/_sandbox/chats/{chat_id}/members/{open_id}",
                 route(lambda r, b: _a(ctl.remove_member(m(r, "chat_id"), m(r, "open_id")))))
    R.add_post("/_sandbox/chats/{chat_id}/bots", route(lambda r, b: _a(ctl.add_bot(m(r, "chat_id"), b.get("app_id")))))
    R.add_delete("/_sandbox/chats/{chat_id}/bots/{app_id}",
                 route(lambda r, b: _a(ctl.remove_bot(m(r, "chat_id"), m(r, "app_id")))))
    R.add_post("/_sandbox/chats/{chat_id}/dissolve", route(lambda r, b: _a(ctl.dissolve_chat(m(r, "chat_id")))))
    R.add_put("/_sandbox/apps/{app_id}/events", route(lambda r, b: _a(ctl.set_event_mode(app_id=m(r, "app_id"), **b))))

    async def verify(r, b):
        return {"ok": await sb.events.verify_url(ctl.app(m(r, "app_id")).app_id)}  # type: ignore[attr-defined]

    async def disconnect(r, b):
        return {"closed": await sb.ws.disconnect(ctl.app(m(r, "app_id")).app_id)}  # type: ignore[attr-defined]

    async def post_msg(r, b):
        chat_id = m(r, "chat_id")
        return {"message_id": ctl.post_message(None if chat_id == "p2p" else chat_id, b["open_id"], b["text"],
                                               bool(b.get("mention_bot", True)), b.get("app_id"))}

    async def click(r, b):
        return await ctl.aclick(m(r, "message_id"), b["open_id"], b.get("value"), b.get("form_value"),
                                b.get("button_text"), b.get("option"), b.get("tag"))

    async def faults(r, b):
        return ctl.inject(**b)

    async def clear(r, b):
        ctl.clear_faults()
        return {"ok": True}

    async def expire(r, b):
        ctl.expire_tokens()
        return {"ok": True}

    R.add_post("/_sandbox/apps/{app_id}/verify_url", route(verify))
    R.add_post("/_sandbox/apps/{app_id}/disconnect", route(disconnect))
    R.add_get("/_sandbox/apps/{app_id}/connections", route(lambda r, b: _a({"connections": ctl.ws_connections(m(r, "app_id"))})))
    R.add_post("/_sandbox/chats/{chat_id}/messages", route(post_msg))
    R.add_get("/_sandbox/chats/{chat_id}/messages", route(lambda r, b: _a({"items": ctl.messages(m(r, "chat_id"))})))
    R.add_get("/_sandbox/p2p/{open_id}/messages",
              route(lambda r, b: _a({"items": ctl.p2p_messages(m(r, "open_id"), r.query.get("app_id"))})))
    R.add_get("/_sandbox/messages/{message_id}", route(lambda r, b: _a(ctl.message(m(r, "message_id")))))
    R.add_post("/_sandbox/messages/{message_id}/click", route(click))
    R.add_get("/_sandbox/journal", route(lambda r, b: _a({"items": ctl.journal(int(r.query.get("since", "0")))})))
    R.add_get("/_sandbox/deliveries", route(lambda r, b: _a({"items": ctl.deliveries(int(r.query.get("since", "0")))})))
    R.add_post("/_sandbox/faults", route(faults))
    R.add_delete("/_sandbox/faults", route(clear))
    R.add_post("/_sandbox/tokens/expire", route(expire))


async def _a(value: Any) -> Any:
    """Wrap a sync result for `route` (handlers are coroutines)."""
    return value

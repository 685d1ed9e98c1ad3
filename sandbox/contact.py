"""Contact v3 people lookups and IM chat info/members (docs/feishu-api.md §6.5).

Users are visible to an app only inside its tenant (another tenant's id → 41050 "no user
authority", UNCONFIRMED code). Chat members never list bots; `page_size` max is
`SandboxConfig.members_max_page_size` (UNCONFIRMED, 100).
"""
from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from aiohttp import web

from gtm.sandbox.auth import authenticate
from gtm.sandbox.errors import ApiError, ok
from gtm.sandbox.im import find_user
from gtm.sandbox.state import App, User

if TYPE_CHECKING:
    from gtm.sandbox.server import Sandbox

ID_TYPES = {"open_id", "user_id", "union_id"}


def user_json(u: User) -> dict[str, Any]:
    avatar = f"https://sandbox.invalid/avatar/{u.open_id}"
    return {"open_id": u.open_id, "union_id": u.union_id, "user_id": u.user_id, "name": u.name,
            "en_name": u.en_name or u.name, "nickname": "", "email": u.email, "enterprise_email": u.email,
            "mobile": u.mobile,
            "avatar": {"avatar_72": avatar, "avatar_240": avatar, "avatar_640": avatar, "avatar_origin": avatar},
            "status": {"is_frozen": False, "is_resigned": u.resigned, "is_activated": not u.resigned,
                       "is_exited": u.resigned, "is_unjoin": False},
            "department_ids": ["0"], "leader_user_id": "", "job_title": "", "tenant_key": u.tenant_key}


def _id_type(request: web.Request, name: str = "user_id_type") -> str:
    t = request.query.get(name, "open_id")
    if t not in ID_TYPES:
        raise ApiError(99992402, f"field validation failed: {name} must be open_id, user_id or union_id", 400)
    return t


def _visible(a: App, u: User | None) -> User | None:
    return u if u is not None and u.tenant_key == a.tenant_key else None


def register(app: web.Application, sb: "Sandbox") -> None:
    async def get_user(request: web.Request) -> web.Response:
        a = authenticate(request, sb)
        u = _visible(a, find_user(sb, _id_type(request), request.match_info["user_id"]))
        if u is None:
            raise ApiError(41050, "no user authority error", 400)
        return ok({"user": user_json(u)})

    async def batch(request: web.Request) -> web.Response:
        a = authenticate(request, sb)
        id_type = _id_type(request)
        ids = request.query.getall("user_ids", [])
        if not ids or len(ids) > 50:
            raise ApiError(99992402, "field validation failed: user_ids takes 1-50 ids", 400)
        items = [user_json(u) for u in (_visible(a, find_user(sb, id_type, i)) for i in ids) if u]
        return ok({"items": items})

    async def batch_get_id(request: web.Request) -> web.Response:
        a = authenticate(request, sb)
        id_type = _id_type(request)
        try:
            body = json.loads(await request.read() or b"{}")
        except ValueError:
            raise ApiError(99992402, "field validation failed: body is not JSON", 400)
        emails, mobiles = body.get("emails") or [], body.get("mobiles") or []
        if len(emails) > 50 or len(mobiles) > 50 or not isinstance(emails, list) or not isinstance(mobiles, list):
            raise ApiError(99992402, "field validation failed: emails/mobiles take ≤50 each", 400)
        out = []
        for kind, values in (("email", emails), ("mobile", mobiles)):
            for v in values:
                u = _visible(a, find_user(sb, kind, v))
                item: dict[str, Any] = {kind: v}
                if u:
                    item["user_id"] = getattr(u, id_type)
                    if body.get("include_resigned") is not True and u.resigned:
                        item.pop("user_id")
                out.append(item)
        return ok({"user_list": out})

    def _chat(a: App, chat_id: str):
        chat = sb.world.chats.get(chat_id)
        if chat is None or chat.tenant_key != a.tenant_key:
            raise ApiError(232011, "The chat does not exist or the operator is not in the chat.", 400)
        if chat.dissolved:
            raise ApiError(232009, "Your request specifies a chat which has already been dissolved.", 400)
        if a.app_id not in chat.bots:
            raise ApiError(232011, "The operator (bot) is not in the chat.", 400)
        return chat

    async def get_chat(request: web.Request) -> web.Response:
        a = authenticate(request, sb)
        chat = _chat(a, request.match_info["chat_id"])
        return ok({"name": chat.name, "description": "", "avatar": "", "owner_id": chat.members[0] if chat.members else "",
                   "owner_id_type": "open_id", "chat_mode": "group", "chat_type": "private",
                   "chat_status": "normal", "tenant_key": chat.tenant_key,
                   "user_count": str(len(chat.members)), "bot_count": str(len(chat.bots)),
                   "external": False, "add_member_permission": "all_members",
                   "share_card_permission": "allowed", "at_all_permission": "all_members",
                   "edit_permission": "all_members", "membership_approval": "no_approval_required"})

    async def members(request: web.Request) -> web.Response:
        a = authenticate(request, sb)
        id_type = _id_type(request, "member_id_type")
        chat = _chat(a, request.match_info["chat_id"])
        try:
            size = int(request.query.get("page_size", "20"))
            start = int(request.query.get("page_token", "0") or 0)
        except ValueError:
            raise ApiError(99992402, "field validation failed: page_size/page_token", 400)
        if not 1 <= size <= sb.config.members_max_page_size:
            raise ApiError(99992402, f"field validation failed: page_size 1-{sb.config.members_max_page_size}", 400)
        people = [sb.world.users[m] for m in chat.members if m in sb.world.users]
        page = people[start:start + size]
        data: dict[str, Any] = {"items": [{"member_id_type": id_type, "member_id": getattr(u, id_type),
                                           "name": u.name, "tenant_key": u.tenant_key} for u in page],
                                "has_more": start + size < len(people), "member_total": len(people)}
        if data["has_more"]:
            data["page_token"] = str(start + size)
        return ok(data)

    app.router.add_get("/open-apis/contact/v3/users/batch", batch)
    app.router.add_post("/open-apis/contact/v3/users/batch_get_id", batch_get_id)
    app.router.add_get("/open-apis/contact/v3/users/{user_id}", get_user)
    app.router.add_get("/open-apis/im/v1/chats/{chat_id}", get_chat)
    app.router.add_get("/open-apis/im/v1/chats/{chat_id}/members", members)

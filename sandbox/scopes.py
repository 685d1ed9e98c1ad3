"""API scopes: an app may call an Open API only with one of the scopes Feishu requires for it.

`App.scopes` lists what the tenant granted (["*"], the default, means everything). A call to an
API none of whose scopes is granted gets Feishu's answer: code 99991672, HTTP 400, and a message
naming the acceptable scopes in brackets, e.g. "Access denied. One of the following scopes is
required: [bitable:app, bitable:app:readonly]." (docs/feishu-api.md §1.2). Token endpoints and the
long-connection endpoint need no scope. Requests without a valid tenant token are left to the
feature handler (which answers 99991661/99991663 as before).
"""
from __future__ import annotations

import re
from typing import TYPE_CHECKING

from aiohttp import web

from gtm.sandbox.auth import authenticate
from gtm.sandbox.errors import ApiError

if TYPE_CHECKING:
    from gtm.sandbox.server import Sandbox

READ = frozenset({"GET"})
ANY = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE"})
WRITE = ANY - READ

# (methods, path regex, acceptable scopes): first match wins. Bitable searches are POSTs that read.
RULES: list[tuple[frozenset[str], re.Pattern[str], tuple[str, ...]]] = [
    (ANY, re.compile(r"^/open-apis/bitable/v1/apps/[^/]+/tables/[^/]+/records/(search|batch_get)$"),
     ("bitable:app", "bitable:app:readonly")),
    (READ, re.compile(r"^/open-apis/bitable/"), ("bitable:app", "bitable:app:readonly")),
    (WRITE, re.compile(r"^/open-apis/bitable/"), ("bitable:app",)),
    (READ, re.compile(r"^/open-apis/drive/v1/permissions/"),
     ("drive:drive", "docs:permission.member:readonly", "docs:permission.member")),
    (WRITE, re.compile(r"^/open-apis/drive/v1/permissions/[^/]+/members(/batch_create)?$"),
     ("drive:drive", "docs:permission.member:create", "docs:permission.member")),
    (ANY, re.compile(r"^/open-apis/drive/v1/files/[^/]+/(subscribe|get_subscribe|delete_subscribe)$"),
     ("docs:event:subscribe", "drive:drive", "docs:doc", "sheets:spreadsheet")),
    (ANY, re.compile(r"^/open-apis/drive/"), ("drive:drive",)),
    (READ, re.compile(r"^/open-apis/application/v6/applications/[^/]+$"),
     ("application:application:self_manage", "admin:app.info:readonly")),
    (READ, re.compile(r"^/open-apis/im/v1/chats/[^/]+/members"), ("im:chat:readonly", "im:chat")),
    (READ, re.compile(r"^/open-apis/im/v1/chats"), ("im:chat:readonly", "im:chat")),
    (READ, re.compile(r"^/open-apis/im/v1/messages"), ("im:message", "im:message:readonly")),
    (WRITE, re.compile(r"^/open-apis/im/v1/messages"), ("im:message", "im:message:send_as_bot")),
    (ANY, re.compile(r"^/open-apis/interactive/"), ("im:message", "im:message:send_as_bot")),
    (ANY, re.compile(r"^/open-apis/contact/v3/users/batch_get_id$"), ("contact:user.id:readonly",)),
    (ANY, re.compile(r"^/open-apis/contact/"), ("contact:user.base:readonly", "contact:contact:readonly")),
]


def required_scopes(method: str, path: str) -> tuple[str, ...]:
    """The scopes any one of which allows this call (empty: no scope needed)."""
    for methods, pattern, scopes in RULES:
        if method in methods and pattern.search(path):
            return scopes
    return ()


def denial(app_id: str, scopes: tuple[str, ...]) -> ApiError:
    listed = ", ".join(scopes)
    return ApiError(99991672, f"Access denied. One of the following scopes is required: [{listed}]."
                              f"应用尚未开通所需的应用身份权限：[{listed}]，点击链接申请并开通任一权限即可："
                              f"https://open.feishu.cn/app/{app_id}/auth?q={scopes[0]}"
                              f"&op_from=openapi&token_type=tenant", 400)


def register(app: web.Application, sb: "Sandbox") -> None:
    @web.middleware
    async def enforce(request: web.Request, handler):
        path = request.path
        if path.startswith("/open-apis/") and "/auth/v3/" not in path:
            scopes = required_scopes(request.method, path)
            if scopes:
                try:
                    caller = authenticate(request, sb)
                except ApiError:
                    caller = None  # the feature handler answers the auth error itself
                if caller is not None and "*" not in caller.scopes \
                        and not any(s in caller.scopes for s in scopes):
                    raise denial(caller.app_id, scopes)
        return await handler(request)

    app.middlewares.append(enforce)

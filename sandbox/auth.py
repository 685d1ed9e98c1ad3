"""Auth: tenant_access_token/internal and app_access_token/internal, and the Bearer check.

Rules (docs/feishu-api.md §1): fields at the top level, `expire` 7200; a second call while ≥30 min
remain returns the same token with a smaller `expire`, under 30 min a new one (the old stays valid
until it expires). Missing header → 99991661, unknown/expired → 99991663 (HTTP 400; the real
status is UNCONFIRMED, the SDK parses the body either way). `Sandbox.expire_tokens()` is the test
switch that expires every token early.
"""
from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING

from aiohttp import web

from gtm.sandbox.errors import ApiError
from gtm.sandbox.state import App, Token, new_id

if TYPE_CHECKING:
    from gtm.sandbox.server import Sandbox

REUSE_WINDOW = 30 * 60


def _issue(sb: "Sandbox", app: App, kind: str) -> Token:
    now = time.time()
    with sb.world.lock:
        live = [t for t in sb.world.tokens.values()
                if t.app_id == app.app_id and t.kind == kind and t.expires_at - now >= REUSE_WINDOW]
        if live:
            return max(live, key=lambda t: t.expires_at)
        tok = Token(("t-" if kind == "tenant" else "a-") + new_id("", 32), app.app_id, kind,
                    now + sb.config.token_ttl_seconds)
        sb.world.tokens[tok.token] = tok
        return tok


async def _credentials(request: web.Request, sb: "Sandbox") -> App:
    try:
        body = json.loads(await request.read() or b"{}")
    except ValueError:
        raise ApiError(1254000, "request body is not JSON", 400)
    app = sb.world.apps.get(str(body.get("app_id", "")))
    if not app or app.app_secret != body.get("app_secret"):
        raise ApiError(99991543, "app_id or app_secret is invalid", 400)  # login_user invalid
    return app


def register(app: web.Application, sb: "Sandbox") -> None:
    async def tenant_token(request: web.Request) -> web.Response:
        a = await _credentials(request, sb)
        tok = _issue(sb, a, "tenant")
        return web.json_response({"code": 0, "msg": "ok", "tenant_access_token": tok.token,
                                  "expire": max(0, int(tok.expires_at - time.time()))})

    async def app_token(request: web.Request) -> web.Response:
        a = await _credentials(request, sb)
        tok = _issue(sb, a, "app")
        ten = _issue(sb, a, "tenant")
        return web.json_response({"code": 0, "msg": "ok", "app_access_token": tok.token,
                                  "tenant_access_token": ten.token,
                                  "expire": max(0, int(tok.expires_at - time.time()))})

    app.router.add_post("/open-apis/auth/v3/tenant_access_token/internal", tenant_token)
    app.router.add_post("/open-apis/auth/v3/app_access_token/internal", app_token)

    def expire_tokens() -> None:
        with sb.world.lock:
            sb.world.tokens.clear()

    sb.expire_tokens = expire_tokens  # type: ignore[attr-defined]


def authenticate(request: web.Request, sb: "Sandbox") -> App:
    """The app behind the request's tenant token, or Feishu's auth error."""
    header = request.headers.get("Authorization", "")
    if not header.startswith("Bearer ") or not header[7:].strip():
        raise ApiError(99991661, "Missing access token for authorization. Please make a request with token attached.", 400)
    tok = sb.world.tokens.get(header[7:].strip())
    if tok is None or tok.expires_at <= time.time() or tok.kind != "tenant":
        raise ApiError(99991663, "Invalid access token for authorization. Please make a request with token attached.", 400)
    return sb.world.apps[tok.app_id]

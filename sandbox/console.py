"""The web console: GET /console serves one small vanilla-JS page (no CDN) that shows the chats,
renders bot cards (header colour, markdown, columns, tables, VChart bar/line/pie as inline SVG,
buttons that click through the control API), posts messages as a sample user, and lists Bases
through the Bitable control routes (`/_sandbox/bases…`). Static files live in `console_static/`.
"""
from __future__ import annotations

from importlib import resources
from typing import TYPE_CHECKING

from aiohttp import web

if TYPE_CHECKING:
    from gtm.sandbox.server import Sandbox

STATIC = resources.files("gtm.sandbox").joinpath("console_static")  # package data
TYPES = {".html": "text/html", ".js": "application/javascript", ".css": "text/css"}


def register(app: web.Application, sb: "Sandbox") -> None:
    async def index(request: web.Request) -> web.Response:
        return web.Response(body=(STATIC / "index.html").read_bytes(), content_type="text/html", charset="utf-8")

    async def static(request: web.Request) -> web.Response:
        name = request.match_info["name"]
        suffix = "." + name.rsplit(".", 1)[-1] if "." in name else ""
        if "/" in name or ".." in name or suffix not in TYPES:
            raise web.HTTPNotFound()
        path = STATIC.joinpath(name)
        if not path.is_file():
            raise web.HTTPNotFound()
        return web.Response(body=path.read_bytes(), content_type=TYPES[suffix], charset="utf-8")

    app.router.add_get("/console", index)
    app.router.add_get("/console/static/{name}", static)

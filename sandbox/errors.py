"""Feishu's error shape: every answer is JSON with `code` and `msg` (never a traceback)."""
from __future__ import annotations

import json
from typing import Any

from aiohttp import web


class ApiError(Exception):
    """Raised inside a handler; the server turns it into Feishu's JSON error body."""

    def __init__(self, code: int, msg: str, status: int = 400, headers: dict[str, str] | None = None) -> None:
        super().__init__(msg)
        self.code, self.msg, self.status, self.headers = code, msg, status, headers or {}


def ok(data: Any = None, **top: Any) -> web.Response:
    body: dict[str, Any] = {"code": 0, "msg": "success"}
    if data is not None:
        body["data"] = data
    body.update(top)
    return web.json_response(body, dumps=lambda o: json.dumps(o, ensure_ascii=False))


def error_response(err: ApiError) -> web.Response:
    return web.json_response({"code": err.code, "msg": err.msg}, status=err.status, headers=err.headers)


async def read_json(request: web.Request) -> dict[str, Any]:
    """The request's JSON object body ({} when empty); 1254000 for anything else."""
    raw = await request.read()
    if not raw:
        return {}
    try:
        body = json.loads(raw)
    except ValueError:
        raise ApiError(1254000, "WrongRequestJson: the body is not valid JSON") from None
    if not isinstance(body, dict):
        raise ApiError(1254000, "WrongRequestJson: the body must be a JSON object")
    return body

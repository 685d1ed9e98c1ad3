"""Per-app, per-API rate limits (docs/feishu-api.md §5.1), on when `SandboxConfig.rate_limits` is set.

A middleware keyed on (app, method, route pattern) keeps one-second and one-minute sliding windows.
Over the limit → HTTP 429 `{"code":99991400,"msg":"request trigger frequency limit"}` with
`x-ogw-ratelimit-limit` and `x-ogw-ratelimit-reset` (integer seconds, ceiling, at least 1).
Limits are multiplied by `rate_limit_scale` (never below 1). `sb.rate_limited` counts 429s per
API family for benchmarks. APIs without a documented limit get DEFAULT (50/s, 1000/min).
"""
from __future__ import annotations

import math
import threading
import time
from collections import deque
from typing import TYPE_CHECKING

from aiohttp import web

from gtm.sandbox.errors import ApiError

if TYPE_CHECKING:
    from gtm.sandbox.server import Sandbox

DEFAULT = ("default", 50, 1000)


def classify(method: str, pattern: str) -> tuple[str, int, int | None]:
    """(family, per-second, per-minute or None) for a route pattern."""
    p = pattern
    if "/bitable/v1/" in p:
        if p.endswith("/records/search") or p.endswith("/records/batch_get"):
            return ("bitable.record_read", 20, None)
        if "/records" in p:
            if method == "GET":
                return ("bitable.record_read", 20, None)
            return ("bitable.record_write", 50, None)
        if "/fields" in p or "/views" in p:
            if method == "GET":
                return ("bitable.schema_read", 20, None)
            return ("bitable.schema_write", 10, None)
        if p.endswith("/tables") or "/tables/" in p:
            return ("bitable.table", 10 if method != "GET" else 20, None)
        if "/roles" in p:
            return ("bitable.role", 10 if method != "GET" else 20, None)
        return ("bitable.app", 20, None)
    if "/im/v1/messages" in p:
        if method == "PATCH":
            return ("im.patch", 5, None)
        if method == "POST":
            return ("im.send", 50, 1000)
        return ("im.read", 50, 1000)
    if "/im/v1/chats" in p:
        return ("im.chat", 50, 1000)
    if "/contact/v3/" in p:
        return ("contact", 50, 1000)
    if "/drive/v1/permissions" in p:
        return ("drive.permission", 10 if method != "GET" else 20, None)
    if "/drive/v1/files" in p:
        return ("drive.file", 10, None)
    return DEFAULT


class RateLimiter:
    def __init__(self, sb: "Sandbox") -> None:
        self.sb = sb
        self.lock = threading.Lock()
        self.windows: dict[tuple[str, str, str, int], deque[float]] = {}
        self.counts: dict[str, int] = {}

    def check(self, app_id: str, method: str, pattern: str, now: float | None = None) -> None:
        family, per_s, per_min = classify(method, pattern)
        scale = self.sb.config.rate_limit_scale
        now = time.monotonic() if now is None else now
        with self.lock:
            for span, limit in ((1, per_s), (60, per_min)):
                if limit is None:
                    continue
                lim = max(1, int(limit * scale))
                q = self.windows.setdefault((app_id, method, pattern, span), deque())
                while q and q[0] <= now - span:
                    q.popleft()
                if len(q) >= lim:
                    self.counts[family] = self.counts.get(family, 0) + 1
                    reset = max(1, math.ceil(q[0] + span - now))
                    raise ApiError(99991400, "request trigger frequency limit", 429,
                                   {"x-ogw-ratelimit-limit": str(lim), "x-ogw-ratelimit-reset": str(reset)})
            for span, limit in ((1, per_s), (60, per_min)):
                if limit is not None:
                    self.windows[(app_id, method, pattern, span)].append(now)

    def reset(self) -> None:
        with self.lock:
            self.windows.clear()
            self.counts.clear()


def register(app: web.Application, sb: "Sandbox") -> None:
    limiter = RateLimiter(sb)
    sb.rate_limiter = limiter  # type: ignore[attr-defined]
    sb.rate_limited = limiter.counts  # type: ignore[attr-defined]

    @web.middleware
    async def ratelimit_mw(request: web.Request, handler):
        if sb.config.rate_limits and request.path.startswith("/open-apis/") and "/auth/v3/" not in request.path:
            header = request.headers.get("Authorization", "")
            tok = sb.world.tokens.get(header[7:].strip()) if header.startswith("Bearer ") else None
            if tok is not None:
                route = request.match_info.route
                pattern = route.resource.canonical if route.resource is not None else request.path
                limiter.check(tok.app_id, request.method, pattern)
        return await handler(request)

    app.middlewares.append(ratelimit_mw)

    async def counts(request: web.Request) -> web.Response:
        return web.json_response({"code": 0, "msg": "success", "data": {"rate_limited": dict(limiter.counts)}})

    app.router.add_get("/_sandbox/ratelimit", counts)

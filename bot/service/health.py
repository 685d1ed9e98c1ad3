"""`gtm serve`'s HTTP side: /healthz, /readyz, /metrics (and the webhook routes); `gtm serve` runs
the app on a thread of its own with `gtm.sandbox.http_thread.HttpThread`.

- `/healthz` answers 200 while the process (and this thread's event loop) is alive: the liveness
  probe restarts a wedged pod, nothing more.
- `/readyz` runs the readiness probes in parallel, each bounded by a short timeout (Kubernetes
  probes give up after about a second by default): Feishu answers a tenant-token request for our
  app (a direct call, not the SDK's token cache, so a revoked secret shows), the store answers
  `SELECT 1`, and the long connection is up when that is the transport. 200 or 503 with a JSON
  body naming what failed.
- `/metrics` is the Prometheus text of `gtm.bot.service.metrics.Metrics`.
"""
from __future__ import annotations

import asyncio
import json
import logging
import time
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import Any, Callable

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST
from sqlalchemy import text

from gtm.bot.chat.transports.longconn import LongConnection
from gtm.sync.feishu.gateway import Gateway
from gtm.sync.store.base import Store

log = logging.getLogger(__name__)

ProbeFn = Callable[[], "str | None"]  # None (or "") when fine, else what is wrong; raising = failed


@dataclass
class Probe:
    name: str
    fn: ProbeFn


class Readiness:
    """Runs the probes concurrently; a probe slower than `timeout` counts as failed."""

    def __init__(self, probes: list[Probe], *, timeout: float = 3.0,
                 extra: Callable[[], dict[str, Any]] = dict) -> None:
        self.probes = probes
        self.timeout = timeout
        self.extra = extra
        self._pool = ThreadPoolExecutor(max_workers=max(2, 2 * len(probes)), thread_name_prefix="gtm-ready")

    def run(self) -> tuple[bool, dict[str, Any]]:
        started = time.monotonic()
        futures = {p.name: self._pool.submit(_run_probe, p.fn) for p in self.probes}
        wait(list(futures.values()), timeout=self.timeout)
        checks: dict[str, Any] = {}
        for name, fut in futures.items():
            if not fut.done():
                checks[name] = {"ok": False, "error": f"no answer within {self.timeout:g}s"}
                continue
            err = fut.result()
            checks[name] = {"ok": not err} if not err else {"ok": False, "error": err}
        failed = [n for n, c in checks.items() if not c["ok"]]
        body: dict[str, Any] = {"ready": not failed, "failed": failed, "checks": checks,
                                "seconds": round(time.monotonic() - started, 3)}
        try:
            body.update(self.extra())
        except Exception as exc:  # noqa: BLE001 - extra status must not break the probe
            body["extra_error"] = str(exc)
        return not failed, body

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


def _run_probe(fn: ProbeFn) -> str:
    try:
        return fn() or ""
    except Exception as exc:  # noqa: BLE001 - a failing probe is an answer, not a crash
        return f"{exc.__class__.__name__}: {exc}"


# -- the probes ----------------------------------------------------------------------------------
def feishu_probe(gateway: Gateway, app_id: str, app_secret: str) -> ProbeFn:
    """Feishu answers an authenticated call: a fresh tenant token for our app (one attempt)."""
    def probe() -> str | None:
        gateway.application.tenant_token(app_id, app_secret, context="readyz")
        return None

    return probe


def store_probe(store: Store) -> ProbeFn:
    def probe() -> str | None:
        with store.engine.connect() as conn:
            conn.execute(text("SELECT 1")).scalar()
        return None

    return probe


def transport_probe(transport: LongConnection | None) -> ProbeFn:
    def probe() -> str | None:
        if transport is None or not transport.connected:
            err = getattr(transport, "error", None)
            return "long connection is down" + (f": {err}" if err else "")
        return None

    return probe


# -- the app -------------------------------------------------------------------------------------
def health_app(readiness: Readiness, render_metrics: Callable[[], bytes]) -> web.Application:
    app = web.Application()

    async def healthz(request: web.Request) -> web.Response:
        return web.json_response({"alive": True})

    async def readyz(request: web.Request) -> web.Response:
        ok, body = await asyncio.get_running_loop().run_in_executor(None, readiness.run)
        return web.json_response(body, status=200 if ok else 503,
                                 dumps=lambda o: json.dumps(o, ensure_ascii=False))

    async def metrics(request: web.Request) -> web.Response:
        data = await asyncio.get_running_loop().run_in_executor(None, render_metrics)
        return web.Response(body=data, headers={"Content-Type": CONTENT_TYPE_LATEST})

    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics)
    return app

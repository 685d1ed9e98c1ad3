"""B11: Feishu's per-app rate limit across replicas (simulated: N processes on one PostgreSQL).

Each replica is a process of its own that sends "requests" of one API family (search, 20/s per
app, docs/feishu-api.md §5.1) as fast as its limiter lets it for a few seconds. With the shared limiter
(`SharedRateLimiter`, the `rate_slots` table) the replicas together stay within the app's window;
with a limiter per process (what each replica had before) they send N times the rate and Feishu
would answer the excess with 429s. Grant times come from the database's clock, so the count per
window is exact whatever the machine's load.

Needs a PostgreSQL: `GTM_BENCH_DATABASE_URL` or `GTM_TEST_DATABASE_URL` (a scratch schema is
created and dropped). Without one the figure says so and measures nothing.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from gtm.benchmarks.common import SEARCH_RATE, Figure
from gtm.sync.store.open import open_store

WINDOW = 1.05  # the product's window (5 % margin over Feishu's 1 s)
REPLICA = """
import json, os, sys, time
from sqlalchemy import text
from gtm.sync.feishu.ratelimit import RateLimiter
from gtm.sync.feishu.ratelimit_shared import SharedRateLimiter
from gtm.sync.store.base import make_engine
url, app, start, kind, seconds = sys.argv[1:6]
engine = make_engine(url)
rates = {"bitable.read": %(rate)r}
if kind == "shared":
    lim = SharedRateLimiter(engine, app, rates)
    grant = lambda: lim.acquire("bitable.read")
else:
    own = RateLimiter(rates)
    def grant():
        own.acquire("bitable.read")
        with engine.connect() as c:
            return c.execute(text("SELECT EXTRACT(EPOCH FROM clock_timestamp())::float8")).scalar()
while not os.path.exists(start):
    time.sleep(0.005)
end, out = time.monotonic() + float(seconds), []
while time.monotonic() < end:
    out.append(grant())
print(json.dumps(out))
""" % {"rate": SEARCH_RATE}


def _url() -> str:
    return os.environ.get("GTM_BENCH_DATABASE_URL") or os.environ.get("GTM_TEST_DATABASE_URL") or ""


def _run(url: str, n: int, kind: str, seconds: float) -> list[float]:
    app = f"cli_bench_{uuid.uuid4().hex[:8]}"
    start = Path(tempfile.mkdtemp(prefix="gtm-b11-")) / "go"
    procs = [subprocess.Popen([sys.executable, "-c", REPLICA, url, app, str(start), kind, str(seconds)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(n)]
    time.sleep(1.5)  # let every replica import and connect before the start signal
    start.write_text("go")
    grants: list[float] = []
    for p in procs:
        out, err = p.communicate(timeout=seconds + 120)
        if p.returncode != 0:
            raise RuntimeError(f"replica failed: {err[-400:]}")
        grants += json.loads(out.strip().splitlines()[-1])
    return sorted(grants)


def busiest(grants: list[float], span: float) -> int:
    best, j = 0, 0
    for i, t in enumerate(grants):
        while grants[j] <= t - span:
            j += 1
        best = max(best, i - j + 1)
    return best


def b11_replicas(replicas: tuple[int, ...], seconds: float) -> Figure:
    fig = Figure("B11", f"多副本限流 / Feishu's per-app limit shared by {', '.join(map(str, replicas))} replicas "
                        f"(PostgreSQL)", "requests in any 1.05 s window ≤ 20 (the app's limit), whatever the replicas")
    url = _url()
    if not url:
        fig.notes.append("not measured: set GTM_BENCH_DATABASE_URL (or GTM_TEST_DATABASE_URL) to a PostgreSQL")
        fig.add("busiest window (shared)", None, "requests", "≤ 20", None, None)
        return fig
    import psycopg  # noqa: PLC0415 - the `postgres` extra (optional): only needed when a PostgreSQL is given

    schema = f"b11_{uuid.uuid4().hex[:8]}"

    admin = url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    scoped = f"{admin}{'&' if '?' in admin else '?'}options=-csearch_path%3D{schema}"
    try:
        open_store(scoped).dispose()
        limit = int(SEARCH_RATE)
        for n in replicas:
            for kind in ("shared", "per-process"):
                g = _run(scoped, n, kind, seconds)
                span = (g[-1] - g[0]) if len(g) > 1 else 0.0
                rate = (len(g) - 1) / span if span else 0.0
                top = busiest(g, WINDOW)
                bound = SEARCH_RATE / WINDOW  # what one app may send per second with the margin
                if kind == "shared":
                    fig.add(f"{n} replicas, shared limiter: busiest window", top, "requests", f"≤ {limit}",
                            round(top / limit, 3), top <= limit, extra={"grants": len(g), "rate_per_s": round(rate, 1)})
                    fig.add(f"{n} replicas, shared limiter: rate / bound", round(rate / bound, 3), "", "≥ 0.90",
                            round(rate / bound, 3), rate / bound >= 0.9)
                else:
                    fig.add(f"{n} replicas, a limiter each: busiest window", top, "requests", "informational (the old way)",
                            round(top / limit, 3), None, extra={"grants": len(g), "rate_per_s": round(rate, 1)})
                fig.notes.append(f"{n} replicas, {kind}: {len(g)} requests in {span:.1f} s = {rate:.1f}/s "
                                 f"(bound {bound:.1f}/s), busiest {WINDOW} s window {top} (limit {limit})")
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    return fig

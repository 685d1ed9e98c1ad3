"""Feishu's per-app rate limit shared by replicas: two processes on one PostgreSQL never put more
than `limit` requests of a family into any window (grant times from the database's clock), while
SQLite stores keep each process's own limiter."""
from __future__ import annotations

import json
import subprocess
import sys
import uuid

import pytest

from gtm.benchmarks.bench_replicas import busiest  # the most grants any window of `span` holds
from gtm.sync.feishu.ratelimit import RateLimiter
from gtm.sync.feishu.ratelimit_shared import SharedRateLimiter, shared_limiter_for
from gtm.sync.store.open import open_store

RATE = 10.0  # requests per second of the family under test
WINDOW = 0.5  # seconds: a short window keeps the test quick; the rule is the same at 1.05 s
PER_PROCESS = 12

# One replica: takes PER_PROCESS requests from the shared limiter once the start file exists and
# prints the database times they were granted at.
REPLICA = """
import json, os, sys, time
from gtm.sync.feishu.ratelimit_shared import SharedRateLimiter
from gtm.sync.store.base import make_engine
url, app, start, kind = sys.argv[1:5]
engine = make_engine(url)
if kind == "shared":
    lim = SharedRateLimiter(engine, app, {"bitable.read": %(rate)r}, window=%(window)r)
    grant = lambda: lim.acquire("bitable.read")
else:  # the old way: every process limits itself alone; grant times from the same database clock
    from sqlalchemy import text
    from gtm.sync.feishu.ratelimit import RateLimiter
    own = RateLimiter({"bitable.read": %(rate)r}, window=%(window)r)
    def grant():
        own.acquire("bitable.read")
        with engine.connect() as c:
            return c.execute(text("SELECT EXTRACT(EPOCH FROM clock_timestamp())::float8")).scalar()
while not os.path.exists(start):
    time.sleep(0.005)
print(json.dumps([grant() for _ in range(%(n)d)]))
""" % {"rate": RATE, "window": WINDOW, "n": PER_PROCESS}


def _two_replicas(url: str, tmp_path, kind: str) -> list[float]:
    app = f"cli_{uuid.uuid4().hex[:8]}"
    start = tmp_path / f"start-{kind}"
    procs = [subprocess.Popen([sys.executable, "-c", REPLICA, url, app, str(start), kind],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    start.write_text("go")
    grants: list[float] = []
    for p in procs:
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0, err[-2000:]
        got = json.loads(out.strip().splitlines()[-1])
        assert len(got) == PER_PROCESS
        grants += got
    return sorted(grants)



@pytest.mark.postgres
def test_two_processes_share_one_window(pg_db_url, tmp_path):
    open_store(pg_db_url).dispose()  # migrated: rate_slots exists
    limit, span = int(RATE), WINDOW  # rate 10/s counted over WINDOW: 10 per span
    shared = _two_replicas(pg_db_url, tmp_path, "shared")
    assert len(shared) == 2 * PER_PROCESS
    assert busiest(shared, span) <= limit
    # without sharing, each process fills its own window: together they exceed the app's limit
    alone = _two_replicas(pg_db_url, tmp_path, "alone")
    assert busiest(alone, span) > limit


@pytest.mark.postgres
def test_postgres_store_gets_the_shared_limiter_sqlite_keeps_its_own(pg_db_url, sqlite_url):
    pg = open_store(pg_db_url)
    lite = open_store(sqlite_url)
    try:
        shared = shared_limiter_for(pg.engine, "cli_x")
        assert isinstance(shared, SharedRateLimiter)
        assert shared_limiter_for(lite.engine, "cli_x") is None
        # a family without a rate is not limited; one with a rate is granted at a database time
        assert SharedRateLimiter(pg.engine, "cli_x", {"x": 0}).acquire("x") is None
        assert isinstance(shared.acquire("bitable.read"), float)
    finally:
        pg.dispose()
        lite.dispose()


def test_an_unreachable_database_falls_back_to_the_process_limiter(caplog):
    from sqlalchemy import create_engine

    engine = create_engine("postgresql+psycopg://nobody@127.0.0.1:1/none", connect_args={"connect_timeout": 2})
    granted: list[str] = []

    class Own(RateLimiter):
        def acquire(self, family: str) -> None:
            granted.append(family)

    lim = SharedRateLimiter(engine, "cli_x", fallback=Own())
    assert lim.acquire("bitable.read") is None and granted == ["bitable.read"]
    assert "shared rate limiter unavailable" in caplog.text


@pytest.mark.postgres
def test_keyed_paces_stay_in_the_replicas_own_limiter(pg_db_url):
    """Per-chat pacing (a reply's slot, a notice's wait) is booked in this process, as the chat's
    events reach one replica; no rate_slots rows are written for it."""
    from sqlalchemy import text

    from gtm.sync.feishu.ratelimit import RECIPIENT

    pg = open_store(pg_db_url)
    try:
        lim = SharedRateLimiter(pg.engine, "cli_keyed")
        assert [lim.reserve(RECIPIENT, "oc_a") for _ in range(5)] == [0.0] * 5
        assert lim.reserve(RECIPIENT, "oc_a") > 1.0  # the 6th in the window waits for the 1st to leave
        assert lim.acquire(RECIPIENT, "oc_b") is None  # granted by the in-process limiter
        with pg.engine.connect() as conn:
            rows = conn.execute(text("SELECT count(*) FROM rate_slots WHERE app_id = 'cli_keyed'")).scalar()
        assert rows == 0
    finally:
        pg.dispose()

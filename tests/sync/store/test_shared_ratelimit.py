"""Feishu's per-app rate limits shared by replicas: two processes on one PostgreSQL never put more
than `limit` requests of a family into any window (grant times from the database's clock), per
second and per minute, while SQLite stores keep each process's own limiter."""
from __future__ import annotations

import json
import subprocess
import sys
import uuid

import pytest

from gtm.benchmarks.bench_replicas import busiest  # the most grants any window of `span` holds
from gtm.sync.feishu.ratelimit import Pace, RateLimiter
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
    from gtm.sync.feishu.ratelimit import Pace, RateLimiter
    own = RateLimiter({"bitable.read": %(rate)r}, window=%(window)r)
    def grant():
        own.acquire("bitable.read")
        with engine.connect() as c:
            return c.execute(text("SELECT EXTRACT(EPOCH FROM clock_timestamp())::float8")).scalar()
while not os.path.exists(start):
    time.sleep(0.005)
print(json.dumps([grant() for _ in range(%(n)d)]))
""" % {"rate": RATE, "window": WINDOW, "n": PER_PROCESS}


# The per-minute limit at a small scale (the rule is the same at 1,000 per 61 s): 4 per 1.05 s and
# 6 per 2 s, so both bind; two replicas take 6 each (about 4 s).
MINUTE = {"rate": 4, "limit": 6, "span": 2.0, "n": 6}
REPLICA_MINUTE = """
import json, os, sys, time
from gtm.sync.feishu.ratelimit_shared import SharedRateLimiter
from gtm.sync.store.base import make_engine
url, app, start, kind = sys.argv[1:5]
lim = SharedRateLimiter(make_engine(url), app, {"im.send": %(rate)r}, per_minute={"im.send": %(limit)r},
                        minute_window=%(span)r)
while not os.path.exists(start):
    time.sleep(0.005)
print(json.dumps([lim.acquire("im.send") for _ in range(%(n)d)]))
""" % MINUTE


def _two_replicas(url: str, tmp_path, kind: str, script: str = REPLICA, per_process: int = PER_PROCESS) -> list[float]:
    app = f"cli_{uuid.uuid4().hex[:8]}"
    start = tmp_path / f"start-{kind}"
    procs = [subprocess.Popen([sys.executable, "-c", script, url, app, str(start), kind],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    start.write_text("go")
    grants: list[float] = []
    for p in procs:
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0, err[-2000:]
        got = json.loads(out.strip().splitlines()[-1])
        assert len(got) == per_process
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
def test_two_processes_share_the_minute_and_the_second(pg_db_url, tmp_path):
    """A family limited per second and per minute: together the replicas keep both, and wait for
    the minute's window (12 grants at 6 per 2 s take more than one window)."""
    open_store(pg_db_url).dispose()
    grants = _two_replicas(pg_db_url, tmp_path, "minute", REPLICA_MINUTE, MINUTE["n"])
    assert len(grants) == 2 * MINUTE["n"]
    assert busiest(grants, MINUTE["span"]) <= MINUTE["limit"]
    assert busiest(grants, 1.05) <= MINUTE["rate"]
    assert grants[-1] - grants[0] >= MINUTE["span"]  # the 7th waited for the 1st to leave the minute


class _Stop(Exception):
    """Raised by a test's sleep: the limiter asked to wait, and the test has seen how long."""


@pytest.mark.postgres
def test_a_full_minute_waits_for_its_first_slot_to_leave(pg_db_url):
    """Feishu's real window: 3 per minute (61 s) and 50/s. The 4th request is told to wait about
    a minute, not a second; the rows are the family's (per second) and "<family>@60s"'s."""
    from sqlalchemy import text

    waits: list[float] = []

    def sleep(s: float) -> None:
        waits.append(s)
        raise _Stop

    pg = open_store(pg_db_url)
    try:
        lim = SharedRateLimiter(pg.engine, "cli_minute", {"im.send": 50}, per_minute={"im.send": 3}, sleep=sleep)
        granted = [lim.acquire("im.send") for _ in range(3)]
        assert all(isinstance(g, float) for g in granted)
        with pytest.raises(_Stop):
            lim.acquire("im.send")
        assert 59.0 < waits[0] <= 61.0
        with pg.engine.connect() as conn:
            rows = dict(conn.execute(text("SELECT family, count(*) FROM rate_slots WHERE app_id = 'cli_minute' "
                                          "GROUP BY family")).all())
            used = conn.execute(text("SELECT count(*) FROM rate_slots WHERE app_id = 'cli_minute' "
                                     "AND family = 'im.send' AND sent_at > 0")).scalar()
        assert rows == {"im.send": 50, "im.send@60s": 3}
        assert used == 3  # the refused 4th wrote nothing, not even its free per-second slot
    finally:
        pg.dispose()


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
    # the fallback built by default keeps the per-minute limits too
    assert Pace(1000, 61.0) in SharedRateLimiter(engine, "cli_x").fallback.limits("im.send")


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

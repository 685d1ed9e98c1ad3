"""Feishu's per-app rate limit shared by every replica: a sliding window kept in PostgreSQL.

Why: Feishu counts requests per app, not per process (docs/feishu-api.md §5.1). Each replica's own
`RateLimiter` would let N replicas send N times the documented rate and collect 429s. With a
PostgreSQL store every replica takes its requests from the same window instead:

- per (app, API family) the table `rate_slots` holds `limit` rows, the times of the `limit` most
  recent requests (limit and span as `RateLimiter`: `rate` per second counted over `window`);
- a request takes the row with the oldest time (`SELECT … FOR UPDATE SKIP LOCKED`: concurrent
  takers get different rows, nobody queues behind a lock) and may go when that time is at least
  one span ago; it writes its own time into the row. So no span ever holds more than `limit`
  requests, across every process, which is exactly the server's rule;
- times come from the database's clock (`clock_timestamp()`), so replicas' clocks never disagree.

The keyed paces (`PACES`: per chat, per person) stay in the replica's own limiter.
Each request costs one short transaction (about a millisecond on a local PostgreSQL). SQLite
stores serve one process (or one machine's processes): they keep the in-process limiter. If the
database cannot be reached, the replica falls back to its own limiter and logs it (a request is
never blocked by the limiter's own storage).
"""
from __future__ import annotations

import logging
import time
from typing import Callable

from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from gtm.sync.feishu.ratelimit import DEFAULT_RATES, MIN_WAIT, RateLimiter, family_pace

log = logging.getLogger(__name__)

_TAKE = text(
    "SELECT slot, sent_at, EXTRACT(EPOCH FROM clock_timestamp())::float8 AS now FROM rate_slots "
    "WHERE app_id = :app AND family = :family AND slot < :limit "
    "ORDER BY sent_at, slot LIMIT 1 FOR UPDATE SKIP LOCKED")
_USE = text("UPDATE rate_slots SET sent_at = :now WHERE app_id = :app AND family = :family AND slot = :slot")
_SEED = text("INSERT INTO rate_slots (app_id, family, slot, sent_at) "
             "SELECT :app, :family, s, 0 FROM generate_series(0, CAST(:limit AS integer) - 1) AS s "
             "ON CONFLICT (app_id, family, slot) DO NOTHING")


class SharedRateLimiter:
    """`RateLimiter`'s interface over the `rate_slots` table of a PostgreSQL store."""

    def __init__(self, engine: Engine, app_id: str, rates: dict[str, float] | None = None, window: float = 1.05,
                 sleep: Callable[[float], None] = time.sleep, fallback: RateLimiter | None = None) -> None:
        self.engine, self.app_id = engine, app_id
        self.rates = dict(DEFAULT_RATES if rates is None else rates)
        self.window = float(window)
        self._sleep = sleep
        self._seeded: set[tuple[str, int]] = set()
        self.fallback = fallback or RateLimiter(self.rates, window=window, sleep=sleep)
        self.waited_seconds = 0.0
        self._warned_at = 0.0

    def reserve(self, policy: str, key: str = "") -> float:
        """A keyed pace (per chat, per person: `PACES`) is booked in this process, as before
        replicas shared anything: each chat is answered by the replica that got its event."""
        return self.fallback.reserve(policy, key)

    def try_acquire(self, policy: str, key: str = "") -> float:
        """A keyed pace only (see `reserve`): the family rates are taken with `acquire`."""
        return self.fallback.try_acquire(policy, key)

    def acquire(self, family: str, key: str = "") -> float | None:
        """Block until a request of `family` may go; the database time it was granted at (None:
        the family is not limited, or the in-process limiter granted it: a keyed pace, or the
        database is unreachable)."""
        if key or family in self.fallback.paces:
            self.fallback.acquire(family, key)
            return None
        pace = family_pace(self.rates, self.window, family)
        if pace is None:
            return None
        try:
            return self._acquire(family, pace.limit, pace.span)
        except SQLAlchemyError as exc:
            if time.monotonic() - self._warned_at > 60:
                self._warned_at = time.monotonic()
                log.warning("shared rate limiter unavailable (%s): this replica limits itself alone",
                            exc.__class__.__name__)
            self.fallback.acquire(family)
            return None

    def _acquire(self, family: str, limit: int, span: float) -> float:
        args = {"app": self.app_id, "family": family, "limit": limit}
        while True:
            if (family, limit) not in self._seeded:
                with self.engine.begin() as conn:
                    conn.execute(_SEED, args)
                self._seeded.add((family, limit))
            with self.engine.begin() as conn:
                row = conn.execute(_TAKE, args).first()
                if row is not None:
                    slot, sent_at, now = row
                    if sent_at <= now - span:
                        conn.execute(_USE, {**args, "slot": slot, "now": now})
                        return float(now)
                    wait = sent_at + span - now
                else:
                    wait = 0.002  # every slot is being taken right now: look again in a moment
            self.waited_seconds += wait
            self._sleep(max(wait, MIN_WAIT))


def shared_limiter_for(engine: Engine, app_id: str, rates: dict[str, float] | None = None) -> SharedRateLimiter | None:
    """The shared limiter when the store is PostgreSQL; None (keep the in-process one) otherwise."""
    if engine.dialect.name != "postgresql":
        return None
    return SharedRateLimiter(engine, app_id, rates)

"""Feishu's per-app rate limits shared by every replica: sliding windows kept in PostgreSQL.

Why: Feishu counts requests per app, not per process (docs/feishu-api.md §5.1). Each replica's own
`RateLimiter` would let N replicas send N times the documented rate and collect 429s. With a
PostgreSQL store every replica takes its requests from the same windows instead:

- per (app, window key) the table `rate_slots` holds `limit` rows, the times of the `limit` most
  recent requests. An API family has a key per pace (`family_windows`, as `RateLimiter`): the family
  itself for its per-second rate (`rate` counted over `window`) and `<family>@60s` for its
  per-minute limit (`DEFAULT_PER_MINUTE`, counted over `minute_window`) where it has one;
- a request takes, in one transaction, the row with the oldest time of each key (`SELECT … FOR
  UPDATE SKIP LOCKED`: concurrent takers get different rows, nobody queues behind a lock) and may
  go when each of those times is at least its span ago; it then writes its own time into every
  row it took (otherwise it writes nothing and waits for the latest of them). So no span ever
  holds more than `limit` requests of a key, across every process, which is exactly the server's
  rule, per second and per minute;
- times come from the database's clock (`clock_timestamp()`), so replicas' clocks never disagree.

The `family` column is a string, so the per-minute keys need no migration (a key is at most 32
characters: the longest, "im.chat@60s", has 11). The keyed paces (`PACES`: per chat, per person,
the app's reply pace) stay in the replica's own limiter.
Each request costs one short transaction (about a millisecond on a local PostgreSQL). SQLite
stores serve one process (or one machine's processes): they keep the in-process limiter. If the
database cannot be reached, the replica falls back to its own limiter (with the same per-second
and per-minute paces) and logs it (a request is never blocked by the limiter's own storage).
"""
from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from typing import Callable

from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import SQLAlchemyError

from gtm.sync.feishu.ratelimit import (
    DEFAULT_PER_MINUTE,
    DEFAULT_RATES,
    MIN_WAIT,
    MINUTE_WINDOW,
    WINDOW,
    Booking,
    Pace,
    RateLimiter,
    family_rates,
    family_windows,
)

log = logging.getLogger(__name__)

_TAKE = text(
    "SELECT slot, sent_at, EXTRACT(EPOCH FROM clock_timestamp())::float8 AS now FROM rate_slots "
    "WHERE app_id = :app AND family = :family AND slot < :limit "
    "ORDER BY sent_at, slot LIMIT 1 FOR UPDATE SKIP LOCKED")
_USE = text("UPDATE rate_slots SET sent_at = :now WHERE app_id = :app AND family = :family AND slot = :slot")
_SEED = text("INSERT INTO rate_slots (app_id, family, slot, sent_at) "
             "SELECT :app, :family, s, 0 FROM generate_series(0, CAST(:limit AS integer) - 1) AS s "
             "ON CONFLICT (app_id, family, slot) DO NOTHING")
BUSY_WAIT = 0.002  # seconds: every slot of a key is being taken right now: look again in a moment


class SharedRateLimiter:
    """`RateLimiter`'s interface over the `rate_slots` table of a PostgreSQL store."""

    def __init__(self, engine: Engine, app_id: str, rates: dict[str, float] | None = None, window: float = WINDOW,
                 sleep: Callable[[float], None] = time.sleep, fallback: RateLimiter | None = None,
                 per_minute: dict[str, int] | None = None, minute_window: float = MINUTE_WINDOW) -> None:
        self.engine, self.app_id = engine, app_id
        self.rates = dict(DEFAULT_RATES if rates is None else rates)
        self.per_minute = dict(DEFAULT_PER_MINUTE if per_minute is None else per_minute)
        self.window, self.minute_window = float(window), float(minute_window)
        self._sleep = sleep
        self._seeded: set[tuple[str, int]] = set()
        self.fallback = fallback or RateLimiter(self.rates, window=window, sleep=sleep,
                                                per_minute=self.per_minute, minute_window=minute_window)
        self.waited_seconds = 0.0
        self._warned_at = 0.0

    def reserve(self, policy: str, key: str = "") -> float:
        """A keyed pace (per chat, per person: `PACES`) is booked in this process, as before
        replicas shared anything: each chat is answered by the replica that got its event."""
        return self.fallback.reserve(policy, key)

    def reserve_all(self, bookings: Iterable[Booking]) -> float:
        """Keyed paces only (see `reserve`), booked together in this process."""
        return self.fallback.reserve_all(bookings)

    def try_acquire(self, policy: str, key: str = "") -> float:
        """A keyed pace only (see `reserve`): the family rates are taken with `acquire`."""
        return self.fallback.try_acquire(policy, key)

    def acquire(self, family: str, key: str = "") -> float | None:
        """Block until a request of `family` may go: a slot of its per-minute limit (if it has
        one) and of its per-second rate; the database time it was granted at (None: the family is
        not limited, or the in-process limiter granted it: a keyed pace, or the database is
        unreachable)."""
        if key or family in self.fallback.paces:
            self.fallback.acquire(family, key)
            return None
        limits = family_rates(self.rates, self.per_minute, family)
        keys = family_windows(family, limits, self.window, self.minute_window)[::-1]  # the minute's first
        if not keys:
            return None
        try:
            return self._acquire(keys)
        except SQLAlchemyError as exc:
            if time.monotonic() - self._warned_at > 60:
                self._warned_at = time.monotonic()
                log.warning("shared rate limiter unavailable (%s): this replica limits itself alone",
                            exc.__class__.__name__)
            self.fallback.acquire(family)
            return None

    def _acquire(self, keys: list[tuple[str, Pace]]) -> float:
        while True:
            self._seed(keys)
            with self.engine.begin() as conn:
                granted, wait = self._take(conn, keys)
            if granted is not None:
                return granted
            self.waited_seconds += wait
            self._sleep(max(wait, MIN_WAIT))

    def _seed(self, keys: list[tuple[str, Pace]]) -> None:
        for family, pace in keys:
            if (family, pace.limit) not in self._seeded:
                with self.engine.begin() as conn:
                    conn.execute(_SEED, {"app": self.app_id, "family": family, "limit": pace.limit})
                self._seeded.add((family, pace.limit))

    def _take(self, conn: Connection, keys: list[tuple[str, Pace]]) -> tuple[float | None, float]:
        """Lock the oldest row of every key; when all are a span old, write the grant time into
        each: (that time, 0). Otherwise write nothing: (None, seconds until the latest frees)."""
        taken: list[tuple[str, int]] = []
        wait, now = 0.0, 0.0
        for family, pace in keys:
            row = conn.execute(_TAKE, {"app": self.app_id, "family": family, "limit": pace.limit}).first()
            if row is None:
                wait = max(wait, BUSY_WAIT)
                continue
            slot, sent_at, now = row
            wait = max(wait, sent_at + pace.span - now)
            taken.append((family, slot))
        if wait > 0:
            return None, wait
        for family, slot in taken:  # the last row's time: every row taken was free by then
            conn.execute(_USE, {"app": self.app_id, "family": family, "slot": slot, "now": now})
        return float(now), 0.0


def shared_limiter_for(engine: Engine, app_id: str, rates: dict[str, float] | None = None) -> SharedRateLimiter | None:
    """The shared limiter when the store is PostgreSQL; None (keep the in-process one) otherwise."""
    if engine.dialect.name != "postgresql":
        return None
    return SharedRateLimiter(engine, app_id, rates)

"""Leader election, so that only one replica runs the scheduler (and sends the digests).

Leadership is a **lease with a TTL** in the store (`leases` table, one row per database), held by
one process (`host:pid:token`) and renewed by a heartbeat every `ttl/3` seconds, measured on the
wall clock:

- a leader that stops renewing — killed, frozen by SIGSTOP or a long GC pause, cut off by a network
  partition — loses the lease when it expires; a standby (trying every `retry_seconds`) takes it
  then, so failover takes at most `ttl + retry_seconds` (defaults 10 s + 3 s). A standby on the
  same host takes it at once when the holder's pid is gone;
- a leader that wakes up after its lease expired (SIGCONT after SIGSTOP) sees that before doing
  anything: `is_leader` is false as soon as the last renewal is older than the TTL on its own
  monotonic clock, and its next step demotes it (the scheduler stops);
- the lease works the same on SQLite and PostgreSQL (an OS file lock or a PostgreSQL advisory
  lock would stay with a frozen process forever); an in-memory database: this process leads.

If the election thread itself dies (an unexpected error), the process must not stay up pretending
all is well: `failure` says why, `alive` turns false, `on_failure` runs (`gtm serve` then fails
/readyz and exits so the orchestrator restarts it).

`on_elected` / `on_demoted` callbacks start and stop the scheduler.
"""
from __future__ import annotations

import logging
import threading
import time
import uuid
from datetime import timedelta
from typing import Any, Callable

from sqlalchemy import update
from sqlalchemy.engine import make_url

from gtm.sync.store.base import Store, make_engine
from gtm.sync.store.holder import holder_dead, holder_id, wall_now
from gtm.sync.store.ledger import LeaseRow, insert_ignore

log = logging.getLogger(__name__)

DEFAULT_LOCK_KEY = 0x67746D5F6C656164  # "gtm_lead": one leader per database
DEFAULT_TTL_SECONDS = 10.0
Callback = Callable[[], Any]
FailureCallback = Callable[[str], Any]


class Leader:
    """`start()` runs the election on a daemon thread; `is_leader` says who won. Thread-safe."""

    def __init__(self, url: str, *, key: int = DEFAULT_LOCK_KEY, retry_seconds: float = 3.0,
                 ttl_seconds: float = DEFAULT_TTL_SECONDS, on_elected: Callback | None = None,
                 on_demoted: Callback | None = None, on_failure: FailureCallback | None = None,
                 connect_timeout: float = 5.0, holder: str | None = None) -> None:
        self.url = url
        self.name = f"scheduler:{key:x}"
        self.retry_seconds = retry_seconds
        self.ttl = timedelta(seconds=ttl_seconds)
        self.heartbeat = max(0.05, min(retry_seconds, ttl_seconds / 3))
        self.on_elected = on_elected
        self.on_demoted = on_demoted
        self.on_failure = on_failure
        self.holder = holder or holder_id(uuid.uuid4().hex[:6])
        self.failure = ""
        self._lock = threading.RLock()
        self._leader = False
        self._renewed = 0.0  # monotonic time of the last successful acquire/renew
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        u = make_url(url)
        self.backend = u.get_backend_name()
        self.in_memory = self.backend == "sqlite" and (not u.database or u.database == ":memory:")
        self._store: Store | None = None
        if not self.in_memory:
            args = {"connect_timeout": max(1, int(connect_timeout))} if self.backend == "postgresql" else {}
            self._store = Store(make_engine(url, connect_args=args, pool_size=1, max_overflow=1)
                                if self.backend == "postgresql" else make_engine(url))

    @property
    def is_leader(self) -> bool:
        """True only while the lease is ours and fresh on our own clock (a frozen leader that just
        woke up is not the leader any more, even before its next step)."""
        if not self._leader:
            return False
        return self.in_memory or time.monotonic() - self._renewed < self.ttl.total_seconds()

    @property
    def alive(self) -> bool:
        """The election thread runs (False after it died, or before `start`)."""
        return self._thread is not None and self._thread.is_alive() and not self.failure

    # -- one election step (the loop calls this; tests may too) ------------------------------
    def step(self) -> bool:
        """Try to become leader, or renew the lease. Returns `is_leader`."""
        with self._lock:
            if self.in_memory:
                self._set(True)
                return True
            try:
                got = self._renew() if self._leader else self._acquire()
            except Exception as exc:  # noqa: BLE001 - database unavailable: not leader, retry
                log.warning("leader election: database unavailable (%s)", exc.__class__.__name__)
                got = False
            if got:
                self._renewed = time.monotonic()
            self._set(got)
            return self._leader

    def _acquire(self) -> bool:
        assert self._store is not None
        wall = wall_now()
        with self._store.session() as s:
            if insert_ignore(s, LeaseRow, {"name": self.name, "holder": self.holder,
                                           "expires_at": wall + self.ttl, "renewed_at": wall}, ["name"]):
                return True
            row = s.get(LeaseRow, self.name, populate_existing=True)
            if row is None:
                return False
            expired = row.expires_at <= wall or row.holder == self.holder
            if not expired and not holder_dead(row.holder):
                return False
            stmt = (update(LeaseRow).where(LeaseRow.name == self.name, LeaseRow.holder == row.holder)
                    .values(holder=self.holder, expires_at=wall + self.ttl, renewed_at=wall)
                    .execution_options(synchronize_session=False))
            if row.holder != self.holder and not holder_dead(row.holder):
                stmt = stmt.where(LeaseRow.expires_at <= wall)  # still expired when we write
            won = s.execute(stmt).rowcount == 1
        if won and row.holder != self.holder:
            log.info("leader election: took the lease from %s (%s)", row.holder,
                     "expired" if expired else "holder dead")
        return won

    def _renew(self) -> bool:
        assert self._store is not None
        if time.monotonic() - self._renewed >= self.ttl.total_seconds():
            log.warning("leader election: last renewal older than the TTL (frozen?): stepping down")
            return self._acquire()  # only if nobody took it meanwhile
        wall = wall_now()
        with self._store.session() as s:
            stmt = (update(LeaseRow)
                    .where(LeaseRow.name == self.name, LeaseRow.holder == self.holder)
                    .values(expires_at=wall + self.ttl, renewed_at=wall)
                    .execution_options(synchronize_session=False))
            ok = s.execute(stmt).rowcount == 1
        if not ok:
            log.warning("leader election: the lease was taken over: stepping down")
        return ok

    def _release(self) -> None:
        if self._store is None:
            return
        try:
            with self._store.session() as s:
                s.execute(update(LeaseRow).where(LeaseRow.name == self.name, LeaseRow.holder == self.holder)
                          .values(expires_at=wall_now()).execution_options(synchronize_session=False))
        except Exception:  # noqa: BLE001 - it expires on its own
            log.warning("could not release the leader lease", exc_info=True)

    def _set(self, leader: bool) -> None:
        if leader == self._leader:
            return
        self._leader = leader
        log.info("leader election: this process is %s", "the leader" if leader else "no longer the leader")
        cb = self.on_elected if leader else self.on_demoted
        if cb is not None:
            try:
                cb()
            except Exception:  # a callback failure must not kill the election loop
                log.exception("leader callback failed")

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self) -> "Leader":
        if self._thread is not None:
            return self
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="gtm-leader", daemon=True)
        self._thread.start()
        return self

    def _loop(self) -> None:
        try:
            while not self._stop.is_set():
                self.step()
                self._stop.wait(self.heartbeat if self._leader else self.retry_seconds)
        except BaseException as exc:  # the thread dies: say so loudly, never pretend to run
            self.failure = f"{exc.__class__.__name__}: {exc}"
            log.critical("leader election thread died: %s", self.failure, exc_info=True)
            with self._lock:
                self._set(False)
            if self.on_failure is not None:
                try:
                    self.on_failure(self.failure)
                except Exception:  # noqa: BLE001 - reporting the thread's death must not raise
                    log.exception("leader failure callback failed")

    def stop(self) -> None:
        """Give up leadership (demote callback runs) and release the lease."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(self.retry_seconds + 10)
            self._thread = None
        with self._lock:
            if self._leader:
                self._release()
            self._set(False)
        if self._store is not None:
            self._store.dispose()
            self._store = None

    def wait_until_leader(self, timeout: float) -> bool:
        """Poll until elected or `timeout` seconds pass (for the CLI and tests)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not self._stop.is_set():
            if self.is_leader:
                return True
            self._stop.wait(min(0.05, self.retry_seconds))
        return self.is_leader

    def __enter__(self) -> "Leader":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

"""Leader election, so that only one replica runs the scheduler (and sends the digests).

- PostgreSQL: `pg_try_advisory_lock(key)` on a dedicated connection. The lock lives exactly as long
  as that session: when the leader dies or its connection drops, PostgreSQL releases it and a
  waiting replica (retrying every `retry_seconds`) takes over. The leader checks its connection at
  the same interval and demotes itself when it is gone.
- SQLite: an OS file lock (`fcntl.flock`) on `<db file>.leader.lock`, so two processes sharing one
  SQLite file also elect one; the OS releases it when the process dies.
- Anything else (an in-memory database): this process is the leader.

`on_elected` / `on_demoted` callbacks start and stop the scheduler.
"""
from __future__ import annotations

import fcntl
import logging
import os
import threading
from pathlib import Path
from typing import Any, Callable

from sqlalchemy.engine import make_url

log = logging.getLogger(__name__)

DEFAULT_LOCK_KEY = 0x67746D5F6C656164  # "gtm_lead": one leader per database
Callback = Callable[[], Any]


class Leader:
    """`start()` runs the election on a daemon thread; `is_leader` says who won. Thread-safe."""

    def __init__(self, url: str, *, key: int = DEFAULT_LOCK_KEY, retry_seconds: float = 5.0,
                 on_elected: Callback | None = None, on_demoted: Callback | None = None,
                 lock_path: str | Path | None = None, connect_timeout: float = 5.0) -> None:
        self.url = url
        self.key = key
        self.retry_seconds = retry_seconds
        self.on_elected = on_elected
        self.on_demoted = on_demoted
        self.connect_timeout = connect_timeout
        self._lock = threading.RLock()
        self._leader = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.conn: Any = None  # the dedicated PostgreSQL connection (psycopg)
        self._fh: Any = None  # the SQLite lock file
        u = make_url(url)
        self.backend = u.get_backend_name()
        if lock_path is None and self.backend == "sqlite" and u.database and u.database != ":memory:":
            lock_path = u.database + ".leader.lock"
        self.lock_path = Path(lock_path) if lock_path else None

    @property
    def is_leader(self) -> bool:
        return self._leader

    # -- one election step (the loop calls this; tests may too) ------------------------------
    def step(self) -> bool:
        """Try to become leader, or check that we still are. Returns `is_leader`."""
        with self._lock:
            if self._leader:
                if not self._still_holding():
                    self._set(False)
            elif self._try_acquire():
                self._set(True)
            return self._leader

    def _try_acquire(self) -> bool:
        if self.backend == "postgresql":
            return self._pg_try()
        if self.lock_path is not None:
            return self._file_try()
        return True

    def _still_holding(self) -> bool:
        if self.backend == "postgresql":
            try:
                self.conn.execute("SELECT 1")
                return True
            except Exception as exc:
                log.warning("leader connection lost (%s): stepping down", exc.__class__.__name__)
                self._close_conn()
                return False
        return True  # a file lock is held until we release it or the process dies

    def _pg_try(self) -> bool:
        import psycopg

        try:
            if self.conn is None or self.conn.closed:
                u = make_url(self.url).set(drivername="postgresql")
                self.conn = psycopg.connect(u.render_as_string(hide_password=False), autocommit=True,
                                            connect_timeout=max(1, int(self.connect_timeout)),
                                            application_name="gtm-leader")
            got = self.conn.execute("SELECT pg_try_advisory_lock(%s)", (self.key,)).fetchone()[0]
            return bool(got)
        except Exception as exc:
            log.warning("leader election: database unavailable (%s)", exc.__class__.__name__)
            self._close_conn()
            return False

    def _file_try(self) -> bool:
        assert self.lock_path is not None
        if self._fh is None:
            self.lock_path.parent.mkdir(parents=True, exist_ok=True)
            self._fh = open(self.lock_path, "a+")
        try:
            fcntl.flock(self._fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        self._fh.seek(0)
        self._fh.truncate()
        self._fh.write(f"{os.getpid()}\n")
        self._fh.flush()
        return True

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

    def _close_conn(self) -> None:
        if self.conn is not None:
            try:
                self.conn.close()
            except Exception:  # pragma: no cover
                pass
        self.conn = None

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self) -> "Leader":
        if self._thread is not None:
            return self
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="gtm-leader", daemon=True)
        self._thread.start()
        return self

    def _loop(self) -> None:
        while not self._stop.is_set():
            self.step()
            self._stop.wait(self.retry_seconds)

    def stop(self) -> None:
        """Give up leadership (demote callback runs) and release the lock."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(self.retry_seconds + 10)
            self._thread = None
        with self._lock:
            was = self._leader
            if self.conn is not None and was:
                try:
                    self.conn.execute("SELECT pg_advisory_unlock(%s)", (self.key,))
                except Exception:
                    pass
            self._close_conn()
            if self._fh is not None:
                try:
                    fcntl.flock(self._fh.fileno(), fcntl.LOCK_UN)
                finally:
                    self._fh.close()
                    self._fh = None
            self._set(False)

    def wait_until_leader(self, timeout: float) -> bool:
        """Poll until elected or `timeout` seconds pass (for the CLI and tests)."""
        import time

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not self._stop.is_set():
            if self._leader:
                return True
            self._stop.wait(min(0.05, self.retry_seconds))
        return self._leader

    def __enter__(self) -> "Leader":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

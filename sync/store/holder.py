"""Who holds a lease: one identity per process, and whether a holder is provably dead.

Leases in the store (notification rows being sent, @mention events being answered, the scheduler's
leadership) carry their holder as `host:pid:token`. Their expiry is measured on the wall clock,
never on a check's `now` (`--as-of` replays a business day; a lease is about this machine's time).

A restarted process may take over a live-looking lease at once when its holder is provably dead:
the holder ran on this host and its pid is gone, or the pid is our own with another per-process
token (we restarted and got the same pid back). A dead holder whose pid another process reuses
looks alive, and so do holders on other hosts: those leases are trusted until they run out.
"""
from __future__ import annotations

import os
import socket
import uuid
from datetime import datetime, timedelta, timezone

_TOKEN = uuid.uuid4().hex[:8]


def holder_id(instance: str = "") -> str:
    """This process: `host:pid:token` (the token tells a restarted process with a reused pid apart);
    `instance` tells several holders within one process apart (`token-instance`)."""
    return f"{socket.gethostname()}:{os.getpid()}:{_TOKEN}" + (f"-{instance}" if instance else "")


def wall_now() -> datetime:
    """The wall clock, aware UTC: what every lease and timeout is measured on."""
    return datetime.now(timezone.utc)


def lease_until(seconds: float) -> datetime:
    return wall_now() + timedelta(seconds=seconds)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # somebody else's process: alive
        return True
    return True


def holder_dead(holder: str) -> bool:
    """True only when `holder` provably no longer runs: same host, and its pid is gone, or it is
    this very pid with another token (we restarted and got the same pid back)."""
    parts = (holder or "").rsplit(":", 2)
    if len(parts) != 3:
        return False
    host, pid_s, token = parts
    if host != socket.gethostname() or not pid_s.isdigit():
        return False
    pid = int(pid_s)
    if pid == os.getpid():
        return not token.startswith(_TOKEN)  # "token-n": several holders (leaders) in one process
    return not _pid_alive(pid)

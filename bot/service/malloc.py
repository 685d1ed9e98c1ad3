"""How many malloc arenas `gtm serve`'s threads may spread their memory over (glibc).

glibc gives each thread that allocates while another holds the lock an arena of its own, up to 8
per core. `gtm serve` has a dozen threads (HTTP, long connection, dispatcher workers, scheduler,
answer cache); a thread that ran the rules over a large plan keeps the memory it freed in its own
arena, where no other thread reuses it. Two arenas keep that memory shared: measured with
`python -m gtm.benchmarks --only B7,B10`, 7–12 MB less peak resident memory, no slower.

An operator's `MALLOC_ARENA_MAX` wins (glibc has read it at start); other C libraries (musl,
macOS) have no such setting and are left alone.
"""
from __future__ import annotations

import ctypes
import logging
import os

log = logging.getLogger(__name__)

ARENAS = 2
_M_ARENA_MAX = -8  # glibc's malloc.h


def cap_malloc_arenas(arenas: int = ARENAS) -> bool:
    """At most `arenas` malloc arenas from now on (call before the threads start); True when set."""
    if os.environ.get("MALLOC_ARENA_MAX"):
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):  # no C library to ask, or one without mallopt
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    ok = mallopt(_M_ARENA_MAX, arenas) == 1
    if not ok:
        log.debug("malloc arenas not capped: this C library does not take M_ARENA_MAX")
    return ok

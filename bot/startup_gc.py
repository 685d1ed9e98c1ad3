"""The cyclic garbage collector while `gtm serve` starts: rare passes, not none.

Start-up makes millions of objects that live as long as the process (the SDK's ~11,000 modules,
the mirrors' rows). With Python's default threshold (a pass every 700 new objects) the collector
rescans that growing heap again and again: ~0.8 s of CPU. Turned off, it costs nothing, but the
imports' own garbage (reference cycles) then stays until the first pass and the heap grows around
it: 27 MB more resident memory that is never given back. A first generation of 50,000 objects
with rare older passes costs what "off" costs and frees that garbage as it goes (measured: the
imports of `gtm serve` take 2.4 s of CPU either way, 244 MB against 261 MB resident).

`relax()` sets the start-up thresholds (`gtm serve`, before its imports); `restore()` puts the
previous ones back (the service, after its one collection and `gc.freeze()`).
"""
from __future__ import annotations

import gc

START_THRESHOLDS = (50_000, 20, 1_000)
_saved: list[tuple[int, int, int]] = []


def relax() -> None:
    """Start-up thresholds (and the collector on), remembering the current ones."""
    _saved.append(gc.get_threshold())
    gc.set_threshold(*START_THRESHOLDS)
    gc.enable()


def restore() -> None:
    """The thresholds from before `relax()`; nothing when they are back already."""
    if _saved:
        gc.set_threshold(*_saved.pop())
    gc.enable()

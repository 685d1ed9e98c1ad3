"""The one "wait until" of the suite: poll a condition against the wall clock, fail clearly.

Every test that waits for something another thread or process does (a reply in the sandbox, a
leader taking over, a server answering) uses this instead of a fixed sleep.
"""
from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def wait_until(predicate: Callable[[], T], timeout: float = 5.0, interval: float = 0.02,
               message: str | Callable[[], str] = "condition") -> T:
    """Call `predicate` every `interval` seconds until it returns something truthy; return that.

    After `timeout` seconds of real time (one last call included) fail with an AssertionError
    naming `message` (a string, or a callable for details gathered only at failure, such as a
    server's log) and the last value seen.
    """
    deadline = time.monotonic() + timeout
    while True:
        got = predicate()
        if got:
            return got
        if time.monotonic() >= deadline:
            what = message() if callable(message) else message
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what} (last value: {got!r})")
        time.sleep(interval)

"""Client-side rate limiting that matches Feishu's rolling one-second windows.

A token bucket that starts full lets `cap + rate·t` requests through in a window of `t`, so at
the documented rate it briefly exceeds the server's rolling-window limit and collects 429s
(the benchmarks saw 4 per 10,000-cell write-back). A sliding window log never sends more than
`rate × window` requests in any window, which is exactly the server's rule.
"""
from __future__ import annotations

import math
import threading
import time
from collections import deque
from typing import Callable


# Documented per-app rates (docs/feishu-api.md §5.1), requests per second, by API family.
DEFAULT_RATES: dict[str, float] = {
    "bitable.read": 20, "bitable.write": 50, "bitable.schema_read": 20, "bitable.schema_write": 10,
    "bitable.app": 20, "im.send": 50, "im.patch": 50, "im.chat": 50, "contact": 50,
    "drive.permission": 10, "auth": 50, "other": 20,
}


class RateLimiter:
    """At most `rates[family]` requests per `window` seconds per API family; `acquire` blocks."""

    # 5 % margin: the server's window and ours never line up exactly (clock skew, network jitter)
    def __init__(self, rates: dict[str, float] | None = None, window: float = 1.05,
                 clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep,
                 burst_seconds: float | None = None) -> None:
        self.rates = dict(DEFAULT_RATES if rates is None else rates)
        self.window = float(burst_seconds or window)
        self._clock, self._sleep = clock, sleep
        self._sent: dict[str, deque[float]] = {}
        self._lock = threading.Lock()
        self.waited_seconds = 0.0

    def acquire(self, family: str) -> None:
        rate = self.rates.get(family) or self.rates.get("other")
        if not rate:
            return
        # `rate` per second, counted over `window` (≥ 1 s: the margin); slow rates widen the window
        limit = max(1, math.floor(rate))
        span = self.window * (limit / rate)
        while True:
            with self._lock:
                now = self._clock()
                sent = self._sent.setdefault(family, deque())
                while sent and sent[0] <= now - span:
                    sent.popleft()
                if len(sent) < limit:
                    sent.append(now)
                    return
                wait = sent[0] + span - now
            self.waited_seconds += wait
            self._sleep(max(wait, 0.0005))

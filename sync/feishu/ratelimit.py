"""Client-side rate limiting that matches Feishu's rolling one-second windows: one limiter for
every Feishu limit the service observes.

A token bucket that starts full lets `cap + rate·t` requests through in a window of `t`, so at
the documented rate it briefly exceeds the server's rolling-window limit and collects 429s
(the benchmarks saw 4 per 10,000-cell write-back). A sliding window log never sends more than
`rate × window` requests in any window, which is exactly the server's rule.

Every limit is a `Pace` (at most `limit` requests in any `span` seconds) for a policy name, and
each (policy, key) pair keeps its own log:
- the API families (`DEFAULT_RATES`, requests per second per app) are policies with the key "";
  `Gateway.call` takes a slot of its family before every request (blocking: `acquire`);
- `PACES` adds the limits Feishu counts per chat or per person: "im.recipient" (5 messages per
  second to one group or one user, code 230020), keyed by the chat id or open id, and
  "im.reply_app" (the app-wide 50/s with a 10 % margin, for bot replies that wait on a timer
  rather than in a worker). `reserve` books the earliest allowed slot and returns how long to
  wait for it, so a caller can schedule the request instead of sleeping; `acquire` (and
  `try_acquire`, for a caller with its own way to wait) takes a slot only when it is free.
"""
from __future__ import annotations

import math
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Callable, Protocol


# Documented per-app rates (docs/feishu-api.md §5.1), requests per second, by API family.
DEFAULT_RATES: dict[str, float] = {
    "bitable.read": 20, "bitable.write": 50, "bitable.schema_read": 20, "bitable.schema_write": 10,
    "bitable.app": 20, "im.send": 50, "im.patch": 50, "im.chat": 50, "contact": 50,
    "drive.permission": 10, "auth": 50, "other": 20,
}


@dataclass(frozen=True)
class Pace:
    """At most `limit` requests in any `span` seconds."""

    limit: int
    span: float


RECIPIENT = "im.recipient"  # key: the chat id (oc_…) or the person's open id (ou_…)
REPLY_APP = "im.reply_app"  # key: "app"
# Feishu: 5 messages per second to one group and to one user (docs/feishu-api.md §6.1; 230020); the
# window has a small margin for the trip to the server. Replies paced app-wide keep 10 % below
# im.send's 50/s, so the blocking family limit never has to hold a worker.
PACES: dict[str, Pace] = {RECIPIENT: Pace(5, 1.05), REPLY_APP: Pace(50, 1.1)}
MIN_WAIT = 0.0005  # seconds: the shortest wait before looking again
FORGET_AFTER_KEYS = 10_000  # past this many logs, the idle ones are dropped (one per chat or person)


class Limiter(Protocol):
    """What the gateway and the wrappers need of a limiter (`RateLimiter`, `SharedRateLimiter`)."""

    def reserve(self, policy: str, key: str = "") -> float: ...

    def try_acquire(self, policy: str, key: str = "") -> float: ...

    def acquire(self, policy: str, key: str = "") -> object: ...


class RateLimiter:
    """Sliding window logs per (policy, key): `rates[family]` requests per `window` seconds for the
    API families, `paces[name]` for the keyed limits. `acquire` blocks; `reserve` books."""

    # 5 % margin: the server's window and ours never line up exactly (clock skew, network jitter)
    def __init__(self, rates: dict[str, float] | None = None, window: float = 1.05,
                 clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep,
                 burst_seconds: float | None = None, paces: dict[str, Pace] | None = None) -> None:
        self.rates = dict(DEFAULT_RATES if rates is None else rates)
        self.paces = dict(PACES if paces is None else paces)
        self.window = float(burst_seconds or window)
        self._clock, self._sleep = clock, sleep
        self._sent: dict[tuple[str, str], deque[float]] = {}
        self._lock = threading.Lock()
        self.waited_seconds = 0.0

    def pace(self, policy: str) -> Pace | None:
        """The limit of a policy: a keyed pace, else the family's rate (unknown: "other"'s);
        None when it is not limited."""
        if policy in self.paces:
            return self.paces[policy]
        return family_pace(self.rates, self.window, policy)

    def reserve(self, policy: str, key: str = "") -> float:
        """Book the earliest slot `policy` allows for `key`; seconds until it (0: now)."""
        return self._take(policy, key, book=True)

    def try_acquire(self, policy: str, key: str = "") -> float:
        """Take a slot now if one is free (0.0); else the seconds until one may be (nothing booked)."""
        return self._take(policy, key, book=False)

    def acquire(self, policy: str, key: str = "") -> None:
        """Block until a request of `policy` (for `key`) may go: wait and look again, so a slot
        is only ever taken at the time it is free (with a `sleep` that returns at once, as in
        tests, the caller still waits for the window in real time)."""
        wait_for(lambda: self.try_acquire(policy, key), self._sleep, self)

    def _take(self, policy: str, key: str, *, book: bool) -> float:
        pace = self.pace(policy)
        if pace is None:
            return 0.0
        with self._lock:
            now = self._clock()
            sent = self._sent.setdefault((policy, key), deque())
            while sent and sent[0] <= now - pace.span:
                sent.popleft()
            at = now
            if len(sent) >= pace.limit:  # booked times are sorted: the limit-th latest decides
                at = max(now, sent[-pace.limit] + pace.span)
                if not book:  # full: say when to look again (never 0, which would mean "taken")
                    return max(at - now, MIN_WAIT)
            sent.append(at)
            if len(self._sent) > FORGET_AFTER_KEYS:
                self._forget_idle(now)
            return at - now

    def _forget_idle(self, now: float) -> None:
        spans = {policy: (p.span if (p := self.pace(policy)) else 0.0) for policy, _ in self._sent}
        self._sent = {k: v for k, v in self._sent.items() if v and v[-1] > now - spans[k[0]]}


def family_pace(rates: dict[str, float], window: float, family: str) -> Pace | None:
    """The limit of an API family: `rates[family]` (unknown: "other"'s) per second, counted over
    `window` (≥ 1 s: the margin; slow rates widen it); None when it is not limited."""
    rate = rates.get(family) or rates.get("other")
    if not rate:
        return None
    limit = max(1, math.floor(rate))
    return Pace(limit, window * (limit / rate))


class _Waits(Protocol):
    waited_seconds: float


def wait_for(take: Callable[[], float], sleep: Callable[[float], None], counter: _Waits | None = None) -> None:
    """Call `take` (a `try_acquire`) until it grants a slot, sleeping the time it names between."""
    while True:
        wait = take()
        if wait <= 0:
            return
        if counter is not None:
            counter.waited_seconds += wait
        sleep(max(wait, MIN_WAIT))

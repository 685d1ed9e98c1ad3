"""Client-side rate limiting that matches Feishu's rolling windows: one limiter for every Feishu
limit the service observes.

A token bucket that starts full lets `cap + rate·t` requests through in a window of `t`, so at
the documented rate it briefly exceeds the server's rolling-window limit and collects 429s
(the benchmarks saw 4 per 10,000-cell write-back). A sliding window log never sends more than
`limit` requests in any `span`, which is exactly the server's rule.

Every limit is a `Pace` (at most `limit` requests in any `span` seconds), and a policy has one or
more of them: Feishu counts some APIs both per second and per minute, and either throttles
(docs/feishu-api.md §5.1). Each (policy, key) pair keeps one log of booked times; a request takes
the earliest time every pace of its policy allows (and never one before the log's last booking,
so the log stays in order), and that time counts in each pace's window:
- the API families are policies with the key "": `DEFAULT_RATES` (requests per second per app,
  counted over `window`, 1.05 s) and `DEFAULT_PER_MINUTE` (requests per minute per app, counted
  over `minute_window`, 61 s); `Gateway.call` takes a slot of its family before every request
  (blocking: `acquire`);
- `PACES` adds the limits Feishu counts per chat or per person: "im.recipient" (5 messages per
  second to one group or one user, code 230020), keyed by the chat id or open id, and
  "im.reply_app" (im.send's 50/s and 1,000/min with a 10 % margin, for bot replies that wait on
  a timer rather than in a worker). `reserve` books the earliest allowed slot and returns how long
  to wait for it, so a caller can schedule the request instead of sleeping (`reserve_all` books
  one time in several logs: a reply's chat and the app); `acquire` (and `try_acquire`, for a
  caller with its own way to wait) takes a slot only when it is free.
"""
from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Callable, Protocol


# Documented per-app rates (docs/feishu-api.md §5.1), requests per second, by API family.
DEFAULT_RATES: dict[str, float] = {
    "bitable.read": 20, "bitable.write": 50, "bitable.schema_read": 20, "bitable.schema_write": 10,
    "bitable.app": 20, "im.send": 50, "im.patch": 50, "im.chat": 50, "contact": 50,
    "drive.permission": 10, "auth": 50, "other": 20,
}
# Documented per-app limits per minute (docs/feishu-api.md §5.1 and §6.5), by API family: IM send
# and reply 1,000/min; contact (get user) and chat members (the "im.chat" family) 1,000/min. The
# other families have no documented per-minute limit.
DEFAULT_PER_MINUTE: dict[str, int] = {"im.send": 1000, "im.chat": 1000, "contact": 1000}
WINDOW = 1.05  # seconds a per-second rate is counted over: a 5 % margin for skew and the trip
# seconds a per-minute limit is counted over: the margin is absolute (the trip and the clocks'
# difference do not grow with the window), and one second costs < 2 % of the minute's budget
MINUTE_WINDOW = 61.0


@dataclass(frozen=True)
class Pace:
    """At most `limit` requests in any `span` seconds."""

    limit: int
    span: float


RECIPIENT = "im.recipient"  # key: the chat id (oc_…) or the person's open id (ou_…)
REPLY_APP = "im.reply_app"  # key: "app"
# Feishu: 5 messages per second to one group and to one user (docs/feishu-api.md §6.1; 230020); the
# window has a small margin for the trip to the server. Replies paced app-wide keep 10 % below
# im.send's 50/s (a longer span) and 1,000/min (a smaller limit: the rest of the minute stays for
# notices and other sends), so the blocking family limit never has to hold a worker.
PACES: dict[str, tuple[Pace, ...]] = {
    RECIPIENT: (Pace(5, 1.05),),
    REPLY_APP: (Pace(50, 1.1), Pace(900, MINUTE_WINDOW)),
}
MIN_WAIT = 0.0005  # seconds: the shortest wait before looking again
FORGET_AFTER_KEYS = 10_000  # past this many logs, the idle ones are dropped (one per chat or person)

Booking = tuple[str, str]  # (policy, key)


class Limiter(Protocol):
    """What the gateway and the wrappers need of a limiter (`RateLimiter`, `SharedRateLimiter`)."""

    def reserve(self, policy: str, key: str = "") -> float: ...

    def reserve_all(self, bookings: Iterable[Booking]) -> float: ...

    def try_acquire(self, policy: str, key: str = "") -> float: ...

    def acquire(self, policy: str, key: str = "") -> object: ...


class RateLimiter:
    """Sliding window logs per (policy, key): for the API families `rates[family]` requests per
    `window` seconds and `per_minute[family]` per `minute_window`; `paces[name]` for the keyed
    limits. `acquire` blocks; `reserve` books."""

    def __init__(self, rates: dict[str, float] | None = None, window: float = WINDOW,
                 clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep,
                 burst_seconds: float | None = None, paces: dict[str, tuple[Pace, ...]] | None = None,
                 per_minute: dict[str, int] | None = None, minute_window: float = MINUTE_WINDOW) -> None:
        self.rates = dict(DEFAULT_RATES if rates is None else rates)
        self.per_minute = dict(DEFAULT_PER_MINUTE if per_minute is None else per_minute)
        self.paces = dict(PACES if paces is None else paces)
        self.window = float(burst_seconds or window)
        self.minute_window = float(minute_window)
        self._clock, self._sleep = clock, sleep
        self._sent: dict[Booking, deque[float]] = {}
        self._lock = threading.Lock()
        self.waited_seconds = 0.0

    def limits(self, policy: str) -> tuple[Pace, ...]:
        """The paces of a policy: a keyed policy's, else the family's (see `family_windows`);
        empty when it is not limited."""
        if policy in self.paces:
            return self.paces[policy]
        limits = family_rates(self.rates, self.per_minute, policy)
        return tuple(pace for _, pace in family_windows(policy, limits, self.window, self.minute_window))

    def reserve(self, policy: str, key: str = "") -> float:
        """Book the earliest slot `policy` allows for `key`; seconds until it (0: now)."""
        return self.reserve_all([(policy, key)])

    def reserve_all(self, bookings: Iterable[Booking]) -> float:
        """Book one time in every (policy, key) log, the earliest they all allow; seconds until it.
        (A reply counts in its chat's 5/s and in the app's reply pace at the time it is sent.)"""
        limited = [(policy, key, paces) for policy, key in bookings if (paces := self.limits(policy))]
        with self._lock:
            now = self._clock()
            logs = [(self._log(policy, key, paces, now), paces) for policy, key, paces in limited]
            at = max([now, *(earliest(sent, paces, now) for sent, paces in logs)])
            for sent, _ in logs:
                sent.append(at)
            self._maybe_forget(now)
            return at - now

    def try_acquire(self, policy: str, key: str = "") -> float:
        """Take a slot now if one is free (0.0); else the seconds until one may be (nothing booked)."""
        paces = self.limits(policy)
        if not paces:
            return 0.0
        with self._lock:
            now = self._clock()
            sent = self._log(policy, key, paces, now)
            at = earliest(sent, paces, now)
            if at > now:  # full: say when to look again (never 0, which would mean "taken")
                return max(at - now, MIN_WAIT)
            sent.append(now)
            self._maybe_forget(now)
            return 0.0

    def acquire(self, policy: str, key: str = "") -> None:
        """Block until a request of `policy` (for `key`) may go: wait and look again, so a slot
        is only ever taken at the time it is free (with a `sleep` that returns at once, as in
        tests, the caller still waits for the window in real time)."""
        wait_for(lambda: self.try_acquire(policy, key), self._sleep, self)

    def _log(self, policy: str, key: str, paces: tuple[Pace, ...], now: float) -> deque[float]:
        """The booked times of (policy, key), without those older than its longest span."""
        sent = self._sent.setdefault((policy, key), deque())
        span = max(p.span for p in paces)
        while sent and sent[0] <= now - span:
            sent.popleft()
        return sent

    def _maybe_forget(self, now: float) -> None:
        if len(self._sent) > FORGET_AFTER_KEYS:
            self._forget_idle(now)

    def _forget_idle(self, now: float) -> None:
        spans = {policy: max((p.span for p in self.limits(policy)), default=0.0) for policy, _ in self._sent}
        self._sent = {k: v for k, v in self._sent.items() if v and v[-1] > now - spans[k[0]]}


def earliest(sent: deque[float], paces: tuple[Pace, ...], now: float) -> float:
    """The earliest time from `now` on that every pace allows one more request after the sorted
    booked times `sent`, and not before the last of them (so the log stays sorted)."""
    at = max(now, sent[-1]) if sent else now
    for pace in paces:
        if len(sent) >= pace.limit and sent[-pace.limit] > now - pace.span:
            at = max(at, leaves(sent[-pace.limit], pace.span))  # full: the limit-th latest decides
    return at


def leaves(sent_at: float, span: float) -> float:
    """The first time whose window of `span` no longer holds `sent_at` (`sent_at <= t - span`, as
    the window is tested: `sent_at + span` may round below it)."""
    t = sent_at + span
    while t - span < sent_at:
        t = math.nextafter(t, math.inf)
    return t


@dataclass(frozen=True)
class FamilyRates:
    """An API family's documented limits: requests per second and per minute (None: no limit)."""

    per_second: float | None
    per_minute: int | None


def family_rates(rates: dict[str, float], per_minute: dict[str, int], family: str) -> FamilyRates:
    """A family's limits: `rates[family]` (unknown: "other"'s) per second, `per_minute[family]`
    per minute (only the families named there have one)."""
    return FamilyRates(rates.get(family) or rates.get("other") or None, per_minute.get(family) or None)


MINUTE_KEY = "{family}@60s"  # the name of a family's per-minute window (the shared limiter's rows)


def family_windows(family: str, limits: FamilyRates, window: float = WINDOW,
                   minute_window: float = MINUTE_WINDOW) -> list[tuple[str, Pace]]:
    """Each limit of an API family as (window name, pace): its per-second rate (`second_pace`,
    named after the family itself), then its per-minute limit over `minute_window` (`MINUTE_KEY`);
    empty when it is not limited."""
    out: list[tuple[str, Pace]] = []
    if limits.per_second:
        out.append((family, second_pace(limits.per_second, window)))
    if limits.per_minute:
        out.append((MINUTE_KEY.format(family=family), Pace(limits.per_minute, minute_window)))
    return out


def second_pace(rate: float, window: float = WINDOW) -> Pace:
    """`rate` requests per second counted over `window` (≥ 1 s: the margin; slow rates widen it)."""
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

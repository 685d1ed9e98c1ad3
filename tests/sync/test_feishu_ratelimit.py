"""The one rate limiter: replies and notices to one chat never exceed Feishu's 5 per second, other
chats are not held up, and the keyed paces share the limiter's clock with the API families."""
from __future__ import annotations

import time

from gtm.sync.feishu.ratelimit import PACES, RECIPIENT, REPLY_APP, Pace, RateLimiter


def test_the_paces_are_feishus_limits():
    assert PACES[RECIPIENT] == Pace(5, 1.05)  # 5 per group / per user, a small margin for the trip
    assert PACES[REPLY_APP] == Pace(50, 1.1)  # im.send's 50/s with a 10 % margin


def test_sixth_reply_in_a_second_waits_for_the_first_to_leave_the_window():
    t = [100.0]
    p = RateLimiter(clock=lambda: t[0])
    assert [p.reserve(RECIPIENT, "oc_a") for _ in range(5)] == [0.0] * 5
    assert p.reserve(RECIPIENT, "oc_b") == 0.0  # another group has its own budget
    assert abs(p.reserve(RECIPIENT, "oc_a") - 1.05) < 1e-9  # the 6th: when the 1st leaves the window
    assert abs(p.reserve(RECIPIENT, "oc_a") - 1.05) < 1e-9  # the 7th: when the 2nd leaves (all booked at 100.0)
    t[0] = 100.5
    assert abs(p.reserve(RECIPIENT, "oc_a") - 0.55) < 1e-9
    t[0] = 103.0  # a quiet period: no wait again
    assert p.reserve(RECIPIENT, "oc_a") == 0.0


def test_booked_slots_are_never_more_than_five_per_window():
    t = [0.0]
    p = RateLimiter(clock=lambda: t[0])
    sent = []
    for i in range(40):
        t[0] = i * 0.03  # a burst of 40 messages over 1.2 s
        sent.append(t[0] + p.reserve(RECIPIENT, "oc_a"))
    sent.sort()
    assert all(sent[i + 5] - sent[i] >= 1.05 - 1e-9 for i in range(len(sent) - 5))


def test_a_blocking_send_waits_behind_booked_replies_to_the_same_chat():
    """A notice (acquire, blocking) and bot replies (reserve, on a timer) to one group share its
    5 per second: the notice waits for the slot after the booked replies."""
    t = [0.0]
    slept: list[float] = []

    def sleep(s: float) -> None:
        slept.append(s)
        t[0] += s

    p = RateLimiter(clock=lambda: t[0], sleep=sleep)
    assert [p.reserve(RECIPIENT, "oc_a") for _ in range(5)] == [0.0] * 5
    p.acquire(RECIPIENT, "oc_a")
    assert slept == [1.05] and t[0] == 1.05
    p.acquire(RECIPIENT, "ou_someone")  # another recipient: no wait
    assert slept == [1.05]


def test_families_and_keyed_paces_keep_separate_logs():
    t = [0.0]
    p = RateLimiter({"im.send": 50, "other": 20}, clock=lambda: t[0])
    assert all(p.reserve("im.send") == 0.0 for _ in range(50))
    assert p.reserve("im.send") > 1.0  # the 51st in the window
    assert p.reserve(RECIPIENT, "oc_a") == 0.0  # the chat's own log is untouched
    assert p.pace("bitable.unknown") == Pace(20, 1.05)  # unknown families take "other"'s rate
    assert RateLimiter({"x": 0}).pace("x") is None  # rate 0: not limited


def test_acquire_takes_a_slot_only_when_it_is_free():
    """A blocking caller looks again after waiting: with a sleep that returns at once (the tests'
    gateways) it still waits for the window in real time, and a refused look books nothing."""
    lim = RateLimiter({"x": 5}, window=0.2, sleep=lambda s: None)
    t0 = time.monotonic()
    for _ in range(5):
        lim.acquire("x")
    assert time.monotonic() - t0 < 0.1
    assert lim.try_acquire("x") > 0  # full: nothing taken, nothing booked
    lim.acquire("x")  # the 6th: once the 1st has left the 0.2 s window
    assert time.monotonic() - t0 >= 0.2 - 1e-3
    assert len(lim._sent[("x", "")]) == 5

"""The one rate limiter: replies and notices to one chat never exceed Feishu's 5 per second, other
chats are not held up, the keyed paces share the limiter's clock with the API families, and a
family (or the app's reply pace) limited per second and per minute keeps both."""
from __future__ import annotations

import time

from gtm.benchmarks.bench_replicas import busiest  # the most times any window of `span` holds
from gtm.sync.feishu.ratelimit import DEFAULT_PER_MINUTE, PACES, RECIPIENT, REPLY_APP, Pace, RateLimiter


def test_the_paces_are_feishus_limits():
    assert PACES[RECIPIENT] == (Pace(5, 1.05),)  # 5 per group / per user, a small margin for the trip
    # im.send's 50/s and 1,000/min (docs/feishu-api.md §5.1) with a 10 % margin
    assert PACES[REPLY_APP] == (Pace(50, 1.1), Pace(900, 61.0))
    # §5.1 and §6.5: IM send and reply, contact, chat members: 1,000/min besides 50/s
    assert DEFAULT_PER_MINUTE == {"im.send": 1000, "im.chat": 1000, "contact": 1000}
    p = RateLimiter()
    assert p.limits("im.send") == (Pace(50, 1.05), Pace(1000, 61.0))
    assert p.limits("contact") == (Pace(50, 1.05), Pace(1000, 61.0))
    assert p.limits("bitable.read") == (Pace(20, 1.05),)  # no documented per-minute limit


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
    assert p.limits("bitable.unknown") == (Pace(20, 1.05),)  # unknown families take "other"'s rate
    assert RateLimiter({"x": 0}).limits("x") == ()  # rate 0: not limited
    assert RateLimiter({}, per_minute={"x": 7}).limits("x") == (Pace(7, 61.0),)  # a minute only


def test_acquire_takes_a_slot_only_when_it_is_free():
    """A blocking caller looks again after waiting: with a sleep that returns at once (the tests'
    gateways) it still waits for the window in real time, and a refused look books nothing."""
    lim = RateLimiter({"x": 5}, window=0.2, sleep=lambda s: None)
    t0 = time.monotonic()
    for _ in range(5):
        lim.acquire("x")
    assert time.monotonic() - t0 < 0.1
    assert lim.try_acquire("x") > 0  # full: nothing taken, nothing booked
    assert len(lim._sent[("x", "")]) == 5
    lim.acquire("x")  # the 6th: once the 1st has left the 0.2 s window
    assert time.monotonic() - t0 >= 0.2 - 1e-3
    # the 6th is in, with those of the first five still in its window (on a busy machine the look
    # that finds the 1st gone may find the 2nd gone too: they were taken microseconds apart)
    sent = lim._sent[("x", "")]
    assert 2 <= len(sent) <= 5 and sent[-1] - sent[0] < 0.2


def test_a_family_never_exceeds_its_minute_nor_its_second():
    """im.send at full speed for three minutes of a fake clock: no 61 s window holds more than
    1,000 requests and no 1.05 s window more than 50; the minute's 1,000 go out at 50/s."""
    t = [0.0]

    def sleep(s: float) -> None:
        t[0] += s

    p = RateLimiter(clock=lambda: t[0], sleep=sleep)
    sent = []
    for _ in range(2500):
        p.acquire("im.send")
        sent.append(t[0])
        t[0] += 0.001  # the request itself
    assert busiest(sent, 61.0) == 1000
    assert busiest(sent, 60.0) <= 1000  # Feishu's minute, whatever margin
    assert busiest(sent, 1.05) == 50
    assert 19.0 < sent[999] < 21.0  # 1,000 at 50 per 1.05 s: about 20 s
    assert sent[1000] >= 61.0  # the 1,001st waits for the 1st to leave the minute


def test_reserve_waits_for_the_minute_when_the_minute_is_full():
    t = [0.0]
    p = RateLimiter({"x": 50}, per_minute={"x": 100}, clock=lambda: t[0])
    booked = []
    for i in range(100):
        t[0] = i * 0.1  # 10/s: well inside the second's 50, the minute fills in 10 s
        assert p.reserve("x") == 0.0
        booked.append(t[0])
    t[0] = 10.0
    assert abs(p.reserve("x") - 51.0) < 1e-9  # the 101st: when the 1st (at 0.0) leaves the 61 s window
    assert abs(p.reserve("x") - 51.1) < 1e-9  # the 102nd: when the 2nd (at 0.1) leaves
    assert p.try_acquire("x") > 50.0  # nothing free to take before then either
    t[0] = 61.15  # the 1st and 2nd have left the minute (their places booked at 61.0 and 61.1)
    assert abs(p.reserve("x") - 0.05) < 1e-9  # the 3rd leaves at 61.2
    assert p.reserve("x") > 0.0
    t[0] = 62.0
    assert p.try_acquire("x") == 0.0  # 0.0 to 0.9 have left: free again


def test_replies_are_paced_by_the_apps_minute_and_their_chats_second():
    """Chat replies (reserve_all: the chat's 5/s and the app's reply pace) from many chats: at most
    900 per 61 s and 50 per 1.1 s app-wide, 5 per 1.05 s in each chat, and a reply held back by the
    app's minute still counts in its chat's second at the time it goes."""
    t = [0.0]
    p = RateLimiter(clock=lambda: t[0])
    at: dict[str, list[float]] = {}
    for i in range(1200):
        t[0] = i * 0.02  # 50 answers/s asked, over 24 s, spread over 20 chats
        chat = f"oc_{i % 20}"
        wait = p.reserve_all([(RECIPIENT, chat), (REPLY_APP, "app")])
        at.setdefault(chat, []).append(t[0] + wait)
    app = sorted(x for times in at.values() for x in times)
    eps = 1e-9  # now + (at - now) may round a little below the booked time
    assert busiest(app, 61.0 - eps) == 900 and busiest(app, 60.0) <= 900
    assert busiest(app, 1.1 - eps) <= 50
    assert all(busiest(sorted(times), 1.05 - eps) <= 5 for times in at.values())
    assert app[899] < 61.0 <= app[900]  # the 901st waits for the minute (paced, not refused)


def test_a_send_to_a_chat_goes_after_the_replies_booked_for_it():
    """A reply held back by the app's minute is booked in its chat's log at the time it goes; a
    later send to that chat (blocking: `try_acquire`) goes after it, never before, so every log
    stays in time order (the limit-th latest booking is what decides)."""
    t = [0.0]
    paces = {RECIPIENT: (Pace(2, 1.0),), REPLY_APP: (Pace(1, 10.0),)}  # a small "minute": 1 per 10 s
    p = RateLimiter(clock=lambda: t[0], paces=paces)
    assert p.reserve_all([(RECIPIENT, "oc_a"), (REPLY_APP, "app")]) == 0.0
    t[0] = 0.5
    assert p.reserve_all([(RECIPIENT, "oc_a"), (REPLY_APP, "app")]) == 9.5  # the app's next slot: 10.0
    t[0] = 1.5  # the chat's second holds one reply (booked at 10.0): the notice goes after it
    assert p.try_acquire(RECIPIENT, "oc_a") == 8.5
    assert p.try_acquire(RECIPIENT, "oc_b") == 0.0  # another chat is not held up
    t[0] = 10.0
    assert p.try_acquire(RECIPIENT, "oc_a") == 0.0
    log = list(p._sent[(RECIPIENT, "oc_a")])
    assert log == sorted(log) == [10.0, 10.0]

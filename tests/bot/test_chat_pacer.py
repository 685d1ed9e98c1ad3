"""ChatPacer: replies to one chat never exceed Feishu's 5 per second; other chats are not held up."""
from __future__ import annotations

from gtm.bot.chat.dispatcher import ChatPacer


def test_sixth_reply_in_a_second_waits_for_the_first_to_leave_the_window():
    t = [100.0]
    p = ChatPacer(per_window=5, window=1.05, clock=lambda: t[0])
    assert [p.reserve("oc_a") for _ in range(5)] == [0.0] * 5
    assert p.reserve("oc_b") == 0.0  # another group has its own budget
    assert abs(p.reserve("oc_a") - 1.05) < 1e-9  # the 6th: when the 1st leaves the window
    assert abs(p.reserve("oc_a") - 1.05) < 1e-9  # the 7th: when the 2nd leaves (all booked at 100.0)
    t[0] = 100.5
    assert abs(p.reserve("oc_a") - 0.55) < 1e-9
    t[0] = 103.0  # a quiet period: no wait again
    assert p.reserve("oc_a") == 0.0


def test_booked_slots_are_never_more_than_five_per_window():
    t = [0.0]
    p = ChatPacer(per_window=5, window=1.05, clock=lambda: t[0])
    sent = []
    for i in range(40):
        t[0] = i * 0.03  # a burst of 40 messages over 1.2 s
        sent.append(t[0] + p.reserve("oc_a"))
    sent.sort()
    assert all(sent[i + 5] - sent[i] >= 1.05 - 1e-9 for i in range(len(sent) - 5))

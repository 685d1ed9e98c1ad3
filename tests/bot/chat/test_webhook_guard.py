"""The webhook's own checks (signature, freshness, replay) with an injected clock, reason by reason.

The end-to-end test posts forged requests through the SDK, which refuses some of them on its own;
here each refusal must come from the guard, with its reason, and each boundary is pinned:
skew at exactly the limit, a nonce accepted again after its time-to-live, eviction at capacity.
"""
from __future__ import annotations

import json

import pytest

from gtm.bot.chat.transports.webhook import NonceCache, WebhookGuard
from gtm.sandbox.events import encrypt, signature

KEY, TOKEN = "enc-key-for-tests", "vt-for-tests"
T0 = 1_790_000_000.0
SKEW = 300.0


class Clock:
    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def body(event_id: str = "ev-1", created: float = T0) -> bytes:
    env = {"schema": "2.0", "header": {"event_id": event_id, "event_type": "im.message.receive_v1",
                                       "create_time": str(int(created * 1000)),
                                       "token": TOKEN, "app_id": "cli_x", "tenant_key": "tk"}, "event": {}}
    return json.dumps({"encrypt": encrypt(KEY, json.dumps(env).encode())}).encode()


def headers(raw: bytes, ts: float, nonce: str, key: str = KEY) -> dict[str, str]:
    stamp = str(int(ts))
    return {"X-Lark-Request-Timestamp": stamp, "X-Lark-Request-Nonce": nonce,
            "X-Lark-Signature": signature(stamp, nonce, key, raw)}


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def guard(clock) -> WebhookGuard:
    return WebhookGuard(KEY, TOKEN, max_skew=SKEW, clock=clock)


def test_a_correct_request_passes(guard):
    raw = body()
    assert guard.refuse(headers(raw, T0, "n-ok"), raw) is None


def test_a_wrong_signature_is_refused_for_that_reason(guard):
    raw = body()
    assert guard.refuse(headers(raw, T0, "n1", key="not-the-key"), raw) == (401, "bad signature")
    signed = headers(raw, T0, "n2")
    tampered = raw.replace(b'"}', b'" }', 1)
    assert tampered != raw
    assert guard.refuse(signed, tampered) == (401, "bad signature")
    signed["X-Lark-Signature"] = ""
    assert guard.refuse(signed, raw) == (401, "missing signature headers")


def test_skew_at_exactly_the_limit_passes_and_one_second_more_is_stale(guard, clock):
    raw = body()
    assert guard.refuse(headers(raw, T0 - SKEW, "old-at-limit"), raw) is None
    assert guard.refuse(headers(raw, T0 + SKEW, "future-at-limit"), raw) is None
    assert guard.refuse(headers(raw, T0 - SKEW - 1, "too-old"), raw) == (401, "stale timestamp")
    assert guard.refuse(headers(raw, T0 + SKEW + 1, "too-new"), raw) == (401, "stale timestamp")
    clock.now = T0 + 10 * SKEW  # the same signed request, delivered much later
    assert guard.refuse(headers(raw, T0, "late"), raw) == (401, "stale timestamp")


def test_a_replayed_nonce_is_refused_within_the_window(guard, clock):
    raw = body()
    h = headers(raw, T0, "n-replay")
    assert guard.refuse(h, raw) is None
    clock.now = T0 + SKEW  # still fresh: the replay is caught by the nonce, not by the timestamp
    assert guard.refuse(h, raw) == (401, "replayed nonce")
    other = body("ev-2")
    assert guard.refuse(headers(other, T0 + SKEW, "n-replay"), other) == (401, "replayed nonce")


def test_nonce_is_accepted_again_after_its_time_to_live():
    cache = NonceCache(ttl=600.0)
    assert cache.add_if_new("n", T0)
    assert not cache.add_if_new("n", T0 + 599.0)
    assert not cache.add_if_new("n", T0 + 600.0)  # expiry is T0 + ttl: still remembered at that instant
    assert cache.add_if_new("n", T0 + 600.5)


def test_nonce_cache_evicts_the_oldest_at_capacity():
    cache = NonceCache(ttl=600.0, max_entries=3)
    for i, n in enumerate("abc"):
        assert cache.add_if_new(n, T0 + i)
    assert not cache.add_if_new("a", T0 + 3)  # full, but nothing is forgotten by a duplicate
    assert cache.add_if_new("d", T0 + 4)  # full: the oldest makes room
    assert len(cache._seen) == 3  # never more than max_entries
    assert cache.add_if_new("a", T0 + 5)  # the oldest was dropped although within its ttl
    assert not cache.add_if_new("d", T0 + 6)  # the newer ones are kept
    assert len(cache._seen) == 3


def test_guard_remembers_nonces_for_the_whole_freshness_window(guard, clock):
    raw = body()
    h = headers(raw, T0 + SKEW, "edge")  # a timestamp at the far edge of the window
    assert guard.refuse(h, raw) is None
    clock.now = T0 + 2 * SKEW  # the timestamp is still fresh (exactly at the limit)
    assert guard.refuse(h, raw) == (401, "replayed nonce")


def test_token_only_mode_leaves_the_checks_to_the_sdk_and_no_secret_at_all_is_refused():
    token_only = WebhookGuard("", TOKEN, insecure=True, max_skew=SKEW, clock=Clock())
    plain = json.dumps({"schema": "2.0", "header": {"token": TOKEN, "event_id": "ev-plain",
                                                    "create_time": str(int(T0 * 1000))}}).encode()
    assert token_only.refuse({}, plain) is None  # the SDK compares the verification token (403)
    with pytest.raises(ValueError, match="ENCRYPT_KEY"):
        WebhookGuard("", "", max_skew=SKEW, clock=Clock())
    with pytest.raises(ValueError, match="ENCRYPT_KEY"):  # token-only needs GTM_WEBHOOK_INSECURE=1
        WebhookGuard("", TOKEN, max_skew=SKEW, clock=Clock())


def test_a_body_that_is_not_a_json_object_is_a_bad_request(guard):
    assert guard.refuse({}, b"not json") == (400, "body is not JSON")
    assert guard.refuse({}, b'["encrypt"]') == (400, "body is not a JSON object")
    assert guard.refuse({}, b'{"schema": "2.0"}') == (401, "unencrypted request while an Encrypt Key is configured")

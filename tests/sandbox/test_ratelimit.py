"""Rate limits (docs/feishu-api.md §5.1): 429 + 99991400 + x-ogw-ratelimit-* headers when switched on."""
from __future__ import annotations

import pytest

from gtm.sandbox import SandboxConfig
from gtm.sandbox.ratelimit import RateLimiter, classify
from tests.support.bitable_raw import create_base, raw


@pytest.fixture
def sandbox_config() -> SandboxConfig:
    return SandboxConfig(rate_limits=True, rate_limit_scale=0.25)  # search 20/s → 5/s


def test_search_over_limit_gets_429_with_reset_header(lark_client, sandbox):
    app_token, table_id = create_base(lark_client)
    uri = f"/open-apis/bitable/v1/apps/{app_token}/tables/{table_id}/records/search"
    answers = [raw(lark_client, "POST", uri, {}) for _ in range(8)]
    codes = [a[1]["code"] for a in answers]
    assert codes[:5] == [0] * 5 and 99991400 in codes[5:]
    status, body, headers = next(a for a in answers if a[1]["code"] == 99991400)
    assert status == 429 and body["msg"] == "request trigger frequency limit"
    assert headers["x-ogw-ratelimit-limit"] == "5" and int(headers["x-ogw-ratelimit-reset"]) >= 1
    assert sandbox.rate_limited["bitable.record_read"] >= 1
    # another API family has its own budget
    assert raw(lark_client, "GET", f"/open-apis/bitable/v1/apps/{app_token}")[1]["code"] == 0


def test_limiter_windows_and_families(sandbox):
    assert classify("POST", "/open-apis/bitable/v1/apps/{a}/tables/{t}/records")[1] == 50
    assert classify("POST", "/open-apis/bitable/v1/apps/{a}/tables/{t}/fields")[1] == 10
    assert classify("POST", "/open-apis/im/v1/messages")[1:] == (50, 1000)
    lim = RateLimiter(sandbox)
    pat = "/open-apis/bitable/v1/apps/{a}/tables/{t}/views"
    for i in range(2):  # 10/s × 0.25 → 2
        lim.check("cli_a", "POST", pat, now=100.0 + i * 0.1)
    with pytest.raises(Exception) as exc:
        lim.check("cli_a", "POST", pat, now=100.5)
    assert exc.value.headers["x-ogw-ratelimit-reset"] == "1"
    lim.check("cli_b", "POST", pat, now=100.5)  # per app
    lim.check("cli_a", "POST", pat, now=101.2)  # window moved on

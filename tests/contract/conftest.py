"""The `target` fixture: every contract test runs once against the sandbox and once against real
Feishu (the latter only when GTM_LIVE_* is set; otherwise it skips with the variables to set).
"""
from __future__ import annotations

import os

import pytest
from lark_oapi.api.bitable.v1 import CreateAppRequest, ReqApp

from tests.support.contract_target import Target, live_target
from tests.support.sandboxes import fast_gateway


@pytest.fixture(params=["sandbox", pytest.param("live", marks=pytest.mark.live)])
def target(request):
    t = sandbox_target(request) if request.param == "sandbox" else live_target(os.environ)
    yield t
    failed = t.cleanup()
    leftovers = [] if failed else t.leftover_tables()
    if failed or leftovers:
        pytest.fail(f"{t.kind}: could not remove what the test created: {failed or leftovers}")


def sandbox_target(request) -> Target:
    """A fresh seeded sandbox (tests/support/fixtures.py, port 0) with a fresh Base created through the API."""
    sb = request.getfixturevalue("sandbox")
    seed = sb.seed
    # no rate pacing and no retry sleeps against the local server: keeps the suite fast
    gw = fast_gateway(sb)
    req = CreateAppRequest.builder().request_body(ReqApp.builder().name("GTM 合约测试").build()).build()
    app = gw.call("bitable.app.create", lambda: gw.client.bitable.v1.app.create(req), family="bitable.app",
                  retry_safe=False).app
    return Target("sandbox", gw, sb.url, seed.app_id, seed.app_secret, app.app_token, seed.chat_id,
                  seed.users["pm"], sb.config.batch_limit, sandbox=sb, _journal_mark=sb.journal.mark())

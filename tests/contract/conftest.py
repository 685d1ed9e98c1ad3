"""The `target` fixture: every contract test runs once against the sandbox and once against real
Feishu (the latter only when GTM_LIVE_* is set; otherwise it skips with the variables to set).
"""
from __future__ import annotations

import os
import time

import pytest
from contract_target import LIVE_BATCH_LIMIT, LIVE_SKIP_REASON, Target, live_config
from lark_oapi.api.bitable.v1 import CreateAppRequest, ReqApp

from gtm.sync.gateway import Gateway


@pytest.fixture(params=["sandbox", pytest.param("live", marks=pytest.mark.live)])
def target(request):
    if request.param == "sandbox":
        t = _sandbox_target(request)
    else:
        t = _live_target()
    yield t
    failed = t.cleanup()
    leftovers = [] if failed else t.leftover_tables()
    if failed or leftovers:
        pytest.fail(f"{t.kind}: could not remove what the test created: {failed or leftovers}")


def _sandbox_target(request) -> Target:
    sb = request.getfixturevalue("sandbox")  # tests/conftest.py: a fresh seeded sandbox, port 0
    seed = sb.seed
    # no rate pacing and no retry sleeps against the local server: keeps the suite fast
    gw = Gateway(seed.app_id, seed.app_secret, sb.url, timeout=5, rates={}, sleep=lambda s: None)
    req = CreateAppRequest.builder().request_body(ReqApp.builder().name("GTM 合约测试").build()).build()
    app = gw.call("bitable.app.create", lambda: gw.client.bitable.v1.app.create(req), family="bitable.app",
                  retry_safe=False).app
    return Target("sandbox", gw, sb.url, seed.app_id, seed.app_secret, app.app_token, seed.chat_id,
                  seed.users["pm"], sb.config.batch_limit, sandbox=sb, _journal_mark=sb.journal.mark())


def _live_target() -> Target:
    cfg = live_config(os.environ)
    if cfg is None:
        pytest.skip(LIVE_SKIP_REASON)
    # documented per-family rates and real back-off sleeps (the gateway's defaults)
    gw = Gateway(cfg.app_id, cfg.app_secret, cfg.domain, timeout=30, sleep=time.sleep)
    return Target("live", gw, cfg.domain, cfg.app_id, cfg.app_secret, cfg.base_token, cfg.chat_id,
                  cfg.user_open_id, LIVE_BATCH_LIMIT)

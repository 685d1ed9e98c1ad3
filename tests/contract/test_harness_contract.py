"""The contract harness itself: when the live run switches on, and that cleanup really cleans."""
from __future__ import annotations

import lark_oapi as lark
import pytest
from _pytest.outcomes import Skipped
from tests.support.contract_target import LIVE_ENV, LIVE_SKIP_REASON, live_config, live_target


def test_live_settings_are_all_or_nothing():
    full = {"GTM_LIVE_APP_ID": "cli_x", "GTM_LIVE_APP_SECRET": "s", "GTM_LIVE_BASE_TOKEN": "bas",
            "GTM_LIVE_CHAT_ID": "oc_x"}
    assert set(full) == set(LIVE_ENV) and live_config({}) is None
    for k in full:
        assert live_config({**full, k: " "}) is None
    cfg = live_config(full)
    assert cfg.domain == lark.FEISHU_DOMAIN and cfg.user_open_id is None and cfg.base_token == "bas"
    cfg = live_config({**full, "GTM_LIVE_DOMAIN": "https://open.larksuite.com/", "GTM_LIVE_USER_OPEN_ID": "ou_1"})
    assert cfg.domain == lark.LARK_DOMAIN and cfg.user_open_id == "ou_1"


def test_live_target_skips_with_the_variables_to_set():
    with pytest.raises(Skipped) as exc:
        live_target({"GTM_LIVE_APP_ID": "cli_x", "GTM_LIVE_APP_SECRET": "s"})
    assert exc.value.msg == LIVE_SKIP_REASON
    assert LIVE_SKIP_REASON == ("set GTM_LIVE_APP_ID, GTM_LIVE_APP_SECRET, GTM_LIVE_BASE_TOKEN, GTM_LIVE_CHAT_ID "
                                "(optional GTM_LIVE_USER_OPEN_ID, GTM_LIVE_DOMAIN)")
    # complete settings give a live target without any network call (the token is fetched lazily)
    t = live_target({"GTM_LIVE_APP_ID": "cli_x", "GTM_LIVE_APP_SECRET": "s", "GTM_LIVE_BASE_TOKEN": "bas",
                     "GTM_LIVE_CHAT_ID": "oc_x"})
    assert (t.kind, t.app_token, t.chat_id, t.domain, t.batch_limit) == ("live", "bas", "oc_x", lark.FEISHU_DOMAIN, 1000)
    with pytest.raises(RuntimeError, match="sandbox"):
        t.journal()


def test_cleanup_removes_tables_and_reports_what_it_could_not(target):
    a = target.new_table("cleanup", [("标题", 1, None, None)])
    b = target.new_table("cleanup", [("标题", 1, None, None)])
    assert a.name != b.name and {a.name, b.name} <= set(target.leftover_tables())
    target.defer("something that fails", lambda: (_ for _ in ()).throw(ValueError("boom")))
    failed = target.cleanup()
    assert failed == ["something that fails: boom"]
    assert target.leftover_tables() == [] and a.table_id not in [t["table_id"] for t in target.tables()]

"""An adopted Base the app does not own or manage (可管理) cannot be subscribed for record-change
events: Feishu refuses, events would silently fall back to polling. `gtm init --base` and
`gtm doctor` detect it and say so; once the app is made a manager, both are satisfied."""
from __future__ import annotations

import io
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner
from rich.console import Console

from gtm.bot.cli.main import main
from gtm.bot.runtime import open_runtime
from gtm.bot.cli.doctor import WARN, Doctor, print_findings
from gtm.schemas.settings import load_settings
from gtm.sync.subscribe import can_manage, ensure_subscribed, is_subscribed
from tests.support.sandboxes import open_rate_limits
from tests.support.runtime import cli_env

NOW = datetime(2026, 3, 2, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai"))


@pytest.fixture(autouse=True)
def _open_rate_limits(monkeypatch):
    open_rate_limits(monkeypatch)


def _person_owned_base(sandbox, seed, perm: str) -> str:
    """A Base a person created (not the app), shared with the app at `perm`."""
    base = sandbox.bitable.store.create_base("团队已有的计划", sandbox.world.apps[seed.app_id].tenant_key,
                                            owner_app_id="")
    base.members.append({"member_type": "appid", "member_id": seed.app_id, "perm": perm})
    return base.app_token


def test_subscribing_needs_owner_or_manager(gateway, sandbox, seed):
    token = _person_owned_base(sandbox, seed, "edit")
    ok, why = ensure_subscribed(gateway, token)
    assert not ok and "可管理" in why and "docs:event:subscribe" in why and "polling" in why
    assert can_manage(gateway, token) is False and is_subscribed(gateway, token) is False
    sandbox.bitable.store.bases[token].members[0]["perm"] = "full_access"
    assert can_manage(gateway, token) is True
    assert ensure_subscribed(gateway, token) == (True, "") and is_subscribed(gateway, token)


@pytest.fixture
def gtm(sandbox, seed, tmp_path, monkeypatch):
    env = {**cli_env(sandbox, seed, tmp_path, monkeypatch), "COLUMNS": "400"}
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    runner = CliRunner()
    return lambda *args: runner.invoke(main, list(args), catch_exceptions=False)


def test_init_base_and_doctor_say_events_fall_back_to_polling_until_the_app_manages_the_base(
        gtm, sandbox, seed, tmp_path):
    token = _person_owned_base(sandbox, seed, "edit")
    init = gtm("init", "--project", "adopted", "--base", token, "--chat", seed.chat_id)
    out = " ".join(init.output.split())
    assert "无法订阅多维表格" in out and "可管理" in out and "polling" in out, init.output
    assert not sandbox.bitable.store.bases[token].subscribers

    app = open_runtime(load_settings(None))
    try:
        findings = Doctor(app, now=NOW).run()
        events = next(f for f in findings if "记录变更事件" in f.check)
        assert events.status == WARN and "可管理" in events.detail and "polling" in events.detail
        assert "docs:event:subscribe" in events.fix
        buf = io.StringIO()
        print_findings(findings, Console(file=buf, width=400, color_system=None))
        warned = sum(f.status == WARN for f in findings)
        assert f"{warned} 个警告 / {warned} warnings" in buf.getvalue()
        assert "all checks passed" not in buf.getvalue()

        sandbox.bitable.store.bases[token].members[0]["perm"] = "full_access"  # made a manager
        events = next(f for f in Doctor(app, now=NOW).run() if "记录变更事件" in f.check)
        assert events.status != WARN and "gtm serve" in events.detail
    finally:
        app.close()
    again = gtm("init", "--project", "adopted", "--base", token)
    assert "无法订阅" not in again.output and seed.app_id in sandbox.bitable.store.bases[token].subscribers

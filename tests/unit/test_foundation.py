"""The foundation: settings, table specs declared once, the gateway against the real sandbox."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from gtm.schemas.plan import MODEL_BY_TABLE, TaskStatus
from gtm.schemas.settings import SettingsError, load_settings
from gtm.schemas.tables import PLAN_TABLES
from gtm.sync.feishu.errors import AuthError, NotFound

ROOT = Path(__file__).resolve().parents[2]


def test_every_spec_attr_is_a_model_attribute():
    for spec in PLAN_TABLES:
        model = MODEL_BY_TABLE[spec.key]
        for f in spec.fields:
            assert f.attr in model.model_fields, f"{spec.key}.{f.attr} missing on {model.__name__}"


def test_status_enums_come_from_the_specs():
    assert TaskStatus.DONE.value == PLAN_TABLES["task"].field("status").options[2].name
    assert TaskStatus.BLOCKED.en == "Blocked"


def test_chinese_field_names_are_spelled_only_in_tables_py():
    names = {f.name for spec in PLAN_TABLES for f in spec.fields if len(f.name) >= 3} - {"负责人", "里程碑"}
    offenders = []
    for folder in ("schemas", "sync", "bot"):
        for path in (ROOT / folder).rglob("*.py"):
            if path.name == "tables.py" or "templates" in path.parts:
                continue
            text = path.read_text(encoding="utf-8")
            for name in names:
                if re.search(r"[\"']" + re.escape(name) + r"[\"']", text):
                    offenders.append(f"{path.relative_to(ROOT)}: {name}")
    assert not offenders, "field names repeated outside schemas/tables.py:\n" + "\n".join(offenders)


def test_settings_errors_name_the_setting(monkeypatch):
    monkeypatch.setenv("GTM_TIMEZONE", "Mars/Olympus")
    with pytest.raises(SettingsError, match="GTM_TIMEZONE"):
        load_settings(None)


def test_settings_policy_from_env(monkeypatch):
    monkeypatch.setenv("GTM_POLICY__ESCALATION_DAYS", "[2, 5]")
    assert load_settings(None).policy.escalation_days == [2, 5]
    monkeypatch.setenv("GTM_POLICY__ESCALATION_DAYS", "[5, 2]")
    with pytest.raises(SettingsError, match="GTM_POLICY__ESCALATION_DAYS"):
        load_settings(None)


def test_secret_is_never_printed(monkeypatch):
    monkeypatch.setenv("GTM_FEISHU_APP_ID", "cli_a1b2")  # a secret alone is a start-up error
    monkeypatch.setenv("GTM_FEISHU_APP_SECRET", "super-secret-value")
    s = load_settings(None)
    assert "super-secret-value" not in repr(s) and "super-secret-value" not in str(s.model_dump())


def test_gateway_maps_errors_through_the_real_sdk(gateway, sandbox):
    from lark_oapi.api.bitable.v1 import GetAppRequest

    with pytest.raises(Exception) as info:
        gateway.call("bitable.app.get", lambda: gateway.client.bitable.v1.app.get(
            GetAppRequest.builder().app_token("bascnDoesNotExist").build()), family="bitable.app")
    assert getattr(info.value, "code", None) not in (None, 0)
    assert gateway.stats.calls["bitable.app.get"] >= 1
    # the request really crossed HTTP with a tenant token
    entry = [e for e in sandbox.journal.since() if e["path"].endswith("/apps/bascnDoesNotExist")][-1]
    assert entry["auth"].startswith("Bearer t-")


def test_gateway_refuses_a_bad_secret(sandbox, seed):
    from lark_oapi.api.bitable.v1 import GetAppRequest

    from gtm.sync.feishu.gateway import Gateway

    gw = Gateway(seed.app_id, "wrong-secret", sandbox.url, timeout=5, sleep=lambda s: None)
    with pytest.raises(Exception) as info:
        gw.call("bitable.app.get", lambda: gw.client.bitable.v1.app.get(
            GetAppRequest.builder().app_token("x").build()))
    assert not isinstance(info.value, NotFound)
    assert isinstance(info.value, AuthError) and info.value.code == 99991543
    assert "GTM_FEISHU_APP_SECRET" in str(info.value)


def test_gateway_recovers_from_a_refused_token_even_with_a_second_client(sandbox, seed):
    """lark-oapi's token cache is process-wide: a newer client must not strand an older one."""
    from lark_oapi.api.bitable.v1 import GetAppRequest

    from gtm.sync.feishu.gateway import Gateway

    first = Gateway(seed.app_id, seed.app_secret, sandbox.url, timeout=5, sleep=lambda s: None)
    call = lambda gw: gw.call("bitable.app.get", lambda: gw.client.bitable.v1.app.get(  # noqa: E731
        GetAppRequest.builder().app_token("bascnMissing").build()), family="bitable.app")
    Gateway(seed.app_id, seed.app_secret, sandbox.url, timeout=5, sleep=lambda s: None)  # replaces the SDK cache
    with pytest.raises(NotFound):
        call(first)  # its token now lives in the second client's (process-wide) cache
    sandbox.expire_tokens()
    with pytest.raises(NotFound):  # not AuthError 99991663: the refused token was dropped and renewed
        call(first)


def test_rate_limiter_never_exceeds_the_rolling_window():
    """Feishu counts a rolling second: no window of 1 s may hold more than the documented rate."""
    from gtm.sync.feishu.ratelimit import RateLimiter

    clock = [0.0]
    stamps: list[float] = []

    def sleep(s: float) -> None:
        clock[0] += s

    limiter = RateLimiter({"bitable.read": 20}, clock=lambda: clock[0], sleep=sleep)
    for _ in range(100):
        limiter.acquire("bitable.read")
        stamps.append(clock[0])
        clock[0] += 0.001  # the request itself
    worst = max(sum(1 for t in stamps if s <= t < s + 1.0) for s in stamps)
    assert worst == 20
    assert stamps[19] < 0.1 and stamps[20] >= 1.0  # a burst of 20, then it waits for the window
    assert 4.0 <= stamps[-1] <= 5.5  # 100 requests at 20/s take about 4 windows after the first burst

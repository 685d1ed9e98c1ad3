"""Production mode never runs on a fake by accident: half-set credentials and unsafe domains are
start-up errors; the embedded sandbox is used on purpose (GTM_SANDBOX) or announced on stderr."""
from __future__ import annotations

import os

import pytest

from gtm.schemas.settings import Settings, SettingsError, load_settings


def _load(monkeypatch, tmp_path, **env: str) -> Settings:
    for key in [k for k in os.environ if k.startswith("GTM_")]:
        monkeypatch.delenv(key)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.chdir(tmp_path)
    return load_settings(None)


@pytest.mark.parametrize("given,missing", [
    ({"GTM_FEISHU_APP_ID": "cli_a1b2"}, "GTM_FEISHU_APP_SECRET"),
    ({"GTM_FEISHU_APP_SECRET": "s3cret"}, "GTM_FEISHU_APP_ID"),
    ({"GTM_FEISHU_APP_ID": "cli_a1b2", "GTM_FEISHU_APP_SECRET": "   "}, "GTM_FEISHU_APP_SECRET"),
])
def test_app_id_without_secret_or_secret_without_id_is_a_startup_error(monkeypatch, tmp_path, given, missing):
    with pytest.raises(SettingsError) as err:
        _load(monkeypatch, tmp_path, **given)
    msg = str(err.value)
    assert f"but {missing} is empty" in msg and "deploy/feishu-app-setup.md" in msg
    assert "s3cret" not in msg


def test_both_or_neither_credentials_load(monkeypatch, tmp_path):
    assert _load(monkeypatch, tmp_path).has_credentials is False
    s = _load(monkeypatch, tmp_path, GTM_FEISHU_APP_ID="cli_a1b2", GTM_FEISHU_APP_SECRET="s3cret")
    assert s.has_credentials and s.sandbox is False


def test_sandbox_on_purpose_and_credentials_together_is_an_error(monkeypatch, tmp_path):
    assert _load(monkeypatch, tmp_path, GTM_SANDBOX="1").sandbox is True
    with pytest.raises(SettingsError, match="GTM_SANDBOX=1"):
        _load(monkeypatch, tmp_path, GTM_SANDBOX="1", GTM_FEISHU_APP_ID="cli_a1b2", GTM_FEISHU_APP_SECRET="x")


@pytest.mark.parametrize("domain,expected", [
    ("https://open.feishu.cn", "https://open.feishu.cn"),
    ("https://open.larksuite.com/", "https://open.larksuite.com"),
    ("http://127.0.0.1:8123", "http://127.0.0.1:8123"),
    ("http://localhost:9000", "http://localhost:9000"),
    ("http://[::1]:9000", "http://[::1]:9000"),
    ("https://localhost", "https://localhost"),
])
def test_https_origins_and_exact_loopback_are_accepted(domain, expected):
    assert Settings(_env_file=None, feishu_domain=domain).feishu_domain == expected  # type: ignore[call-arg]


@pytest.mark.parametrize("domain,why", [
    ("http://open.feishu.cn", "must use https"),
    ("http://127.0.0.1@127.0.0.2:8123", "user info"),
    ("https://user@open.feishu.cn", "user info"),
    ("http://localhost.evil.example", "must use https"),
    ("http://127.0.0.1.evil.example:80", "must use https"),
    ("http://[::1].evil", "malformed host"),
    ("ftp://open.feishu.cn", "not an https origin"),
    ("open.feishu.cn", "not an https origin"),
    ("https://open.feishu.cn/open-apis", "without path"),
    ("https://open.feishu.cn:99999", "invalid port"),
])
def test_non_https_look_alike_and_userinfo_domains_are_startup_errors(monkeypatch, tmp_path, domain, why):
    with pytest.raises(SettingsError) as err:
        _load(monkeypatch, tmp_path, GTM_FEISHU_DOMAIN=domain)
    assert "GTM_FEISHU_DOMAIN" in str(err.value) and why in str(err.value)
    assert "https://open.feishu.cn" in str(err.value)  # a good example

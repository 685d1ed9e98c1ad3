"""List settings from the environment take the natural spelling (one value, or values separated
by commas) as well as JSON; anything else is one line naming the variable, its value and an example,
exit 2 from the CLI. A currency must be an ISO 4217 code (CNY, not RMB)."""
from __future__ import annotations

import os
from datetime import date

import pytest
from click.testing import CliRunner

from gtm.bot.cli.main import main
from gtm.schemas.settings import SettingsError, load_settings


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch, tmp_path):
    for k in list(os.environ):
        if k.startswith("GTM_"):
            monkeypatch.delenv(k)
    monkeypatch.chdir(tmp_path)  # no stray .env / gtm.toml


@pytest.mark.parametrize("name, text, attr, value", [
    ("GTM_POLICY__EXTRA_HOLIDAYS", "2026-12-31", "extra_holidays", [date(2026, 12, 31)]),
    ("GTM_POLICY__EXTRA_HOLIDAYS", " 2026-12-31, 2027-01-02 ", "extra_holidays", [date(2026, 12, 31), date(2027, 1, 2)]),
    ("GTM_POLICY__EXTRA_HOLIDAYS", '["2026-12-31"]', "extra_holidays", [date(2026, 12, 31)]),
    ("GTM_POLICY__EXTRA_WORKDAYS", "[]", "extra_workdays", []),
    ("GTM_POLICY__ADMINS", "ou_x", "admins", ["ou_x"]),
    ("GTM_POLICY__ADMINS", "ou_x,ou_y", "admins", ["ou_x", "ou_y"]),
    ("GTM_POLICY__ESCALATION_DAYS", "3,7", "escalation_days", [3, 7]),
    ("GTM_POLICY__ESCALATION_DAYS", "[2, 5]", "escalation_days", [2, 5]),
])
def test_a_list_is_one_value_comma_separated_or_json(monkeypatch, name, text, attr, value):
    monkeypatch.setenv(name, text)
    assert getattr(load_settings(None).policy, attr) == value


@pytest.mark.parametrize("name, text, words", [
    ("GTM_POLICY__EXTRA_HOLIDAYS", '["2026-12-31"', "not a JSON list"),
    ("GTM_POLICY__EXTRA_HOLIDAYS", "2026-02-30", "valid date"),
    ("GTM_POLICY__EXTRA_WORKDAYS", "2026-10-10,1900-01-01", "dates must be between 2000 and 2100, got 1900-01-01"),
    ("GTM_POLICY__ESCALATION_DAYS", "3,x", "valid integer"),
    ("GTM_POLICY__CURRENCY", "RMB", "RMB is not an ISO 4217 code; use CNY"),
])
def test_a_bad_value_names_the_variable_its_value_and_an_example(monkeypatch, name, text, words):
    monkeypatch.setenv(name, text)
    with pytest.raises(SettingsError) as err:
        load_settings(None)
    line = str(err.value).splitlines()[1].strip()
    assert line.startswith(f"{name}=") and words in line and f"(e.g. {name}=" in line


def test_the_cli_refuses_bad_json_with_exit_2_naming_the_variable():
    res = CliRunner().invoke(main, ["projects"], env={"GTM_POLICY": "{bad"})
    assert res.exit_code == 2, res.output
    assert "GTM_POLICY is not valid JSON" in res.output and "unexpected" not in res.output
    res = CliRunner().invoke(main, ["projects"], env={"GTM_POLICY__CURRENCY": "RMB"})
    assert res.exit_code == 2 and "GTM_POLICY__CURRENCY='RMB'" in res.output and "use CNY" in res.output

"""Case 3 and 4 of issue 17: bad settings, arguments and I/O at start-up give one or two lines
naming what is wrong (with an example) and a non-zero exit; never a traceback (unless --debug)."""
from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner

from gtm.bot.cli.main import main
from tests.support.runtime import cli_env


@pytest.fixture
def cli(sandbox, seed, tmp_path, monkeypatch):
    """`gtm ARGS` in-process on the sandbox, in an empty working folder; returns (exit, output)."""
    env = {**cli_env(sandbox, seed, tmp_path, monkeypatch), "GTM_CHAT_ID": seed.chat_id}

    def run(*args: str, **extra: str) -> tuple[int, str]:
        res = CliRunner().invoke(main, list(args), env={**env, **extra})
        if res.exception is not None and not isinstance(res.exception, SystemExit):
            raise AssertionError(f"uncaught {res.exception!r}\n{res.output}")
        return res.exit_code, res.output

    return run


def _short(out: str, lines: int = 4) -> None:
    assert "Traceback" not in out, out
    assert len([x for x in out.splitlines() if x.strip()]) <= lines, out


@pytest.mark.parametrize("cmd", ["check", "report"])
@pytest.mark.parametrize("as_of", ["0001-01-01", "9999-12-31"])
def test_implausible_as_of_is_refused(cli, cmd, as_of):
    code, out = cli(cmd, "--as-of", as_of)
    assert code == 2 and "--as-of" in out and "2000" in out
    _short(out, 6)


def test_invalid_toml_and_non_utf8_env(cli, tmp_path):
    Path("gtm.toml").write_text("timezone = \n[[", encoding="utf-8")
    code, out = cli("projects")
    assert code == 2 and "gtm.toml" in out and "TOML" in out
    _short(out)
    Path("gtm.toml").unlink()
    Path(".env").write_bytes("GTM_LOG_LEVEL=INFO\n# 注释\n".encode("gbk"))
    code, out = cli("projects")
    assert code == 2 and "UTF-8" in out
    _short(out)


@pytest.mark.parametrize("url, code, words", [
    ("garbage://x", 2, "GTM_DATABASE_URL"),
    ("mysql://u@localhost/db", 2, "GTM_DATABASE_URL"),
    ("postgresql://postgres@127.0.0.1:1/gtm", 1, "unreachable"),
])
def test_bad_database_urls(cli, url, code, words):
    got, out = cli("projects", GTM_DATABASE_URL=url)
    assert got == code and words in out, out
    _short(out)


def test_missing_database_folder_is_not_created(cli, tmp_path):
    folder = tmp_path / "no" / "such"
    code, out = cli("projects", GTM_DATABASE_URL=f"sqlite:///{folder / 'gtm.db'}")
    assert code == 1 and "does not exist" in out and str(folder) in out
    assert not folder.exists()
    _short(out)


def test_corrupt_and_read_only_sqlite(cli, tmp_path):
    bad = tmp_path / "corrupt.db"
    bad.write_bytes(b"this is not a database" * 100)
    code, out = cli("projects", GTM_DATABASE_URL=f"sqlite:///{bad}")
    assert code == 1 and "damaged" in out
    _short(out)
    empty = tmp_path / "ro.db"
    sqlite3.connect(empty).close()
    code, out = cli("projects", GTM_DATABASE_URL=f"sqlite:///file:{empty}?mode=ro&uri=true")
    assert code == 1 and "read-only" in out
    _short(out)


def test_missing_postgres_database(pg_url, cli):
    from sqlalchemy.engine import make_url

    url = make_url(pg_url).set(database="gtm_no_such_database_17").render_as_string(hide_password=False)
    code, out = cli("projects", GTM_DATABASE_URL=url)
    assert code == 1 and "does not exist" in out and "createdb" in out
    _short(out)


@pytest.mark.parametrize("name, value", [
    ("GTM_REQUEST_TIMEOUT_SECONDS", "-5"),
    ("GTM_BATCH_LIMIT", "-1"),
    ("GTM_POLICY__CHECK_INTERVAL_MINUTES", "0"),
    ("GTM_POLICY__BUDGET_OVERRUN_RATIO", "nan"),
    ("GTM_HTTP_PORT", "70000"),
    ("GTM_LOG_LEVEL", "loud"),
])
def test_out_of_range_settings_name_the_setting_value_and_an_example(cli, name, value):
    code, out = cli("projects", **{name: value})
    assert code == 2, out
    line = next(x for x in out.splitlines() if name in x)
    assert repr(value) in line and ("e.g." in line), line
    _short(out)


def test_link_refuses_a_non_chat_and_init_refuses_reserved_slugs(cli):
    code, out = cli("projects", "link", "p1", "--chat", "not-a-chat")
    assert code == 2 and "not-a-chat" in out and "oc_" in out
    _short(out)
    for slug in ("all", "check"):
        code, out = cli("init", "--project", slug)
        assert code == 2 and "reserved" in out, out


def test_a_failing_command_prints_a_log_id_and_debug_shows_the_traceback(cli, sandbox, seed, monkeypatch):
    import gtm.bot.cli.run as commands_run

    def broken(*a, **k):
        raise RuntimeError("boom " + "x" * 5000)

    monkeypatch.setattr(commands_run, "run_projects_list", broken)
    code, out = cli("projects")
    assert code == 1 and "log id" in out and "--debug" in out
    assert len(out) < 1200
    _short(out)
    res = CliRunner().invoke(main, ["--debug", "projects"], env={"GTM_FEISHU_DOMAIN": sandbox.url,
                                                                 "GTM_FEISHU_APP_ID": seed.app_id,
                                                                 "GTM_FEISHU_APP_SECRET": seed.app_secret})
    assert res.exit_code == 1 and "Traceback" in res.output


@pytest.mark.parametrize("extra, name", [
    ({"GTM_FEISHU_APP_SECRET": ""}, "GTM_FEISHU_APP_SECRET"),  # an app id without a secret
    ({"GTM_FEISHU_DOMAIN": "http://127.0.0.1@127.0.0.2:9"}, "GTM_FEISHU_DOMAIN"),
    ({"GTM_FEISHU_DOMAIN": "http://localhost.evil.example"}, "GTM_FEISHU_DOMAIN"),
])
def test_half_set_credentials_and_look_alike_domains_are_refused(cli, extra, name):
    code, out = cli("projects", **extra)
    assert code == 2 and name in out, out
    _short(out)

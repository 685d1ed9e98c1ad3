"""A project whose Base is gone, seen from the command line: one line with the log id, the cause
and the way out; the traceback only with `gtm --debug` (the CLI's logging, `gtm.bot.logs`)."""
from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta

import pytest
from click.testing import CliRunner

from gtm.bot.cli.main import main
from tests.support.plans import NOW, create_plan, task


@pytest.fixture
def store(sqlite_url):
    """A migrated store (the CLI opens it with Alembic, which refuses a create_all schema)."""
    from gtm.sync.store.open import open_store

    st = open_store(sqlite_url)
    yield st
    st.dispose()


@pytest.fixture
def gone(runtime, seed, sandbox, store, tmp_path, monkeypatch):
    """Project sales, mirrored once, then its Base deleted; the CLI's environment."""
    monkeypatch.chdir(tmp_path)
    plan = create_plan(runtime, slug="sales", name="Sales", chat_ids=[], pm=seed.users["pm"], management=[],
                       tasks=[task("T1", "报价", seed.users["王芳"], NOW.date() - timedelta(days=3))])
    runtime.mirror(runtime.project("sales")).refresh(NOW - timedelta(hours=2))
    sandbox.bitable.delete_base(plan["binding"].app_token)
    return {"GTM_FEISHU_DOMAIN": sandbox.url, "GTM_FEISHU_APP_ID": seed.app_id,
            "GTM_FEISHU_APP_SECRET": seed.app_secret, "GTM_DATABASE_URL": str(store.engine.url)}


def _gtm(env: dict[str, str], cwd, *args: str) -> subprocess.CompletedProcess:
    """`gtm ARGS` in its own process: logging as a user has it (no test runner's log capture)."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("GTM_")}
    return subprocess.run([sys.executable, "-m", "gtm.bot.cli.main", *args], cwd=cwd, env={**clean, **env,
                          "COLUMNS": "250"}, capture_output=True, text=True, timeout=120)


def test_report_and_portfolio_on_a_deleted_base_log_one_line_without_traceback(gone, tmp_path):
    for args in (["report", "--project", "sales", "--print"], ["portfolio", "--print"]):
        run = _gtm(gone, tmp_path, *args)
        assert run.returncode == 0, run.stderr
        assert "Traceback" not in run.stderr, run.stderr  # used to be ~50 lines per project
        [line] = [x for x in run.stderr.splitlines() if "failed [E" in x]
        assert "project sales: reading the Base" in line and "1254040" in line
        assert "gtm init --project sales" in line and "add --debug for details" in line
    debug = _gtm(gone, tmp_path, "--debug", "report", "--project", "sales", "--print")
    assert debug.returncode == 0 and "Traceback (most recent call last)" in debug.stderr


def test_check_on_a_deleted_base_says_what_to_do(gone):
    res = CliRunner().invoke(main, ["check", "--project", "sales", "--as-of", NOW.isoformat()], env=gone)
    assert res.exit_code == 1, res.output
    out = " ".join(res.output.split())
    assert "项目 sales 检查失败 / check failed:" in out and "1254040" in out
    assert "gtm init --project sales" in out and "gtm projects archive sales" in out  # as `gtm doctor` advises
    assert "日志编号 / log id E" in out and "Traceback" not in out and "BaseTokenNotFound" not in out

"""What the CLI prints (issue: progress on init and full sync, `--json`, 80 columns, doctor blocks):
click's CliRunner on `gtm.bot.cli.main`, the real stack against the sandbox, a real SQLite file."""
from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from gtm.bot.cli.main import main
from tests.support.sandboxes import open_rate_limits
from tests.support.runtime import cli_env


@pytest.fixture(autouse=True)
def _open_rate_limits(monkeypatch):
    open_rate_limits(monkeypatch)


@pytest.fixture
def gtm(sandbox, seed, tmp_path, monkeypatch):
    env = {**cli_env(sandbox, seed, tmp_path, monkeypatch), "COLUMNS": "80"}
    runner = CliRunner()

    def run(*args: str):
        res = runner.invoke(main, list(args), env=env, catch_exceptions=False)
        return res.exit_code, res.stdout, res.stderr

    return run


def test_progress_json_and_80_columns(gtm, seed):
    code, out, err = gtm("init", "--project", "launch", "--chat", seed.chat_id, "--pm", seed.users["pm"])
    assert code == 0, out + err
    steps = [line for line in err.splitlines() if line.startswith("建表 / provisioning: ")]
    assert len(steps) >= 5, err  # progress while the Base is built (not a terminal: lines on stderr)

    code, out, err = gtm("sync", "--full")
    assert code == 0 and "同步 / sync: " in err

    code, out, _ = gtm("projects")
    assert code == 0
    assert max(len(line) for line in out.splitlines()) <= 80, out
    assert "launch" in out and "https://" in out  # the Base URL whole, on its own line
    assert any(line.strip().startswith("多维表格 / Base: https://") or "Base: https://" in line
               for line in out.splitlines())

    code, out, _ = gtm("projects", "--json")
    data = json.loads(out)
    assert data[0]["slug"] == "launch" and data[0]["base_url"].startswith("https://")

    code, out, _ = gtm("check", "--json", "--dry-run")
    data = json.loads(out)
    assert data["project"] == "launch" and data["rag"] in ("green", "yellow", "red")
    assert isinstance(data["notices"], list) and data["dry_run"] is True

    code, out, _ = gtm("report", "--print", "--json")
    data = json.loads(out)
    assert data["card"]["schema"] == "2.0" and "周报" in data["text"] and data["posted"] is False

    code, out, _ = gtm("ask", "本周周报", "--json")
    data = json.loads(out)
    assert data["question"] == "本周周报" and "周报" in data["card"]["header"]["title"]["content"]

    code, out, _ = gtm("doctor", "--json")
    data = json.loads(out)
    assert "findings" in data and {"missing", "warnings"} <= set(data)
    assert any(f["project"] == "launch" for f in data["findings"])


def test_a_report_with_no_group_chat_says_so_with_the_fix_and_is_still_kept(gtm, seed):
    code, out, err = gtm("init", "--project", "solo", "--pm", seed.users["pm"])  # no --chat
    assert code == 0, out + err
    code, out, _ = gtm("report", "--json")
    data = json.loads(out)
    assert data["posted"] is False
    (row,) = data["notices"]
    assert row["status"] == "skipped" and "gtm projects link solo --chat oc_" in row["why"]
    code, out, _ = gtm("projects", "--json")
    assert json.loads(out)[0]["last_report_at"]  # kept: archived, and next week's "what changed" has it
    code, out, _ = gtm("doctor", "--json")
    (chat,) = [f for f in json.loads(out)["findings"] if f["project"] == "solo" and "group chat" in f["check"]]
    assert chat["status"] == "warn" and chat["fix"] == "gtm projects link solo --chat oc_…"

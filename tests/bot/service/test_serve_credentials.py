"""`gtm serve` refuses to run on the embedded sandbox by accident: without credentials it exits
non-zero with two lines naming both settings and the setup guide; `--sandbox` / GTM_SANDBOX=1 run
it on purpose. One-shot commands keep the embedded default and say so in one stderr line."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import requests
from tests.support.waiting import wait_until


def _clean_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GTM_")}
    env.update({"GTM_LOCAL_DIR": str(tmp_path / ".gtm"), "COLUMNS": "200"}, **extra)
    return env


def _gtm(*args: str) -> list[str]:
    return [sys.executable, "-m", "gtm.bot.cli.main", *args]


def test_serve_without_credentials_exits_with_two_lines_naming_the_settings_and_guide(tmp_path):
    proc = subprocess.run(_gtm("serve"), cwd=tmp_path, env=_clean_env(tmp_path), capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode != 0
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 2, proc.stderr
    for line in lines:
        assert "GTM_FEISHU_APP_ID" in line and "GTM_FEISHU_APP_SECRET" in line
        assert "deploy/feishu-app-setup.md" in line and "--sandbox" in line and "GTM_SANDBOX=1" in line
    assert "未配置飞书凭证" in lines[0] and "no Feishu credentials" in lines[1]
    assert proc.stdout == "" and "Traceback" not in proc.stderr
    # nothing was started: no sandbox state, no local store
    assert not (tmp_path / ".gtm").exists()


@pytest.mark.parametrize("env_extra", [{"GTM_FEISHU_APP_ID": "cli_a1b2"},
                                       {"GTM_FEISHU_DOMAIN": "http://localhost.evil.example"}])
def test_serve_with_a_half_set_configuration_is_a_startup_error(tmp_path, env_extra):
    proc = subprocess.run(_gtm("serve"), cwd=tmp_path, env=_clean_env(tmp_path, **env_extra),
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode != 0 and "invalid settings" in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / ".gtm").exists()


@pytest.mark.parametrize("how", ["flag", "env"])
def test_serve_runs_on_the_sandbox_when_asked_for_explicitly(tmp_path, how):
    ready = tmp_path / "serve.url"
    env = _clean_env(tmp_path, GTM_HTTP_PORT="0", GTM_TRANSPORT="none", GTM_SERVE_READY_FILE=str(ready))
    args = ["serve"]
    if how == "flag":
        args.append("--sandbox")
    else:
        env["GTM_SANDBOX"] = "1"
    proc = subprocess.Popen(_gtm(*args), cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        assert wait_until(lambda: ready.exists() or proc.poll() is not None, timeout=90)
        assert proc.poll() is None, proc.communicate()
        url = ready.read_text().strip()
        assert requests.get(url + "/healthz", timeout=5).status_code == 200
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert "EMBEDDED LOCAL SANDBOX" in err and "gtm serve: stopped" in out


def test_a_sigterm_the_moment_ready_is_said_stops_cleanly(tmp_path):
    """An orchestrator may stop the pod right after readiness: the signal handlers are in before
    the ready file is written, so the SIGTERM is a clean stop (exit 0, "stopped"), never a kill
    by the default handler (-15) while the post-ready work is starting."""
    for attempt in range(3):
        ready = tmp_path / f"serve-{attempt}.url"
        env = _clean_env(tmp_path, GTM_HTTP_PORT="0", GTM_TRANSPORT="none", GTM_SERVE_READY_FILE=str(ready))
        proc = subprocess.Popen(_gtm("serve", "--sandbox"), cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
        try:
            assert wait_until(lambda: ready.exists() or proc.poll() is not None, timeout=90, interval=0.001)
        finally:
            proc.send_signal(signal.SIGTERM)
            out, err = proc.communicate(timeout=30)
        assert proc.returncode == 0, err[-2000:]
        assert "gtm serve: stopped" in out


def test_one_shot_commands_say_once_on_stderr_that_they_use_the_embedded_sandbox(tmp_path):
    proc = subprocess.run(_gtm("projects"), cwd=tmp_path, env=_clean_env(tmp_path), capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    notes = [ln for ln in proc.stderr.splitlines() if "embedded local sandbox" in ln]
    assert len(notes) == 1 and "内置本地沙箱" in notes[0] and "GTM_FEISHU_APP_ID" in notes[0]
    assert "embedded local sandbox" not in proc.stdout
    # on purpose: no notice
    quiet = subprocess.run(_gtm("projects"), cwd=tmp_path, env=_clean_env(tmp_path, GTM_SANDBOX="1"),
                           capture_output=True, text=True, timeout=120)
    assert quiet.returncode == 0 and "embedded local sandbox" not in quiet.stderr

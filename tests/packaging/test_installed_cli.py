"""The installed wheel works as the tests say the checkout does: run from a fresh virtual
environment with the working directory outside the checkout (the sources cannot be imported).

`gtm demo --once`, then one end-to-end pass (init → check → report → @mention) on the embedded
sandbox, then `gtm serve` as the image runs it, probed with the Dockerfile's own HEALTHCHECK.
"""
from __future__ import annotations

import json
import signal
import socket
import subprocess
from pathlib import Path

import pytest
from tests.support.wheel_build import ROOT, clean_env

pytestmark = [pytest.mark.packaging, pytest.mark.timeout(1500)]

AS_OF = "2026-12-01T10:00"
NOTICE = "using the embedded local sandbox"


def _workdir(installed, name: str) -> Path:
    path = installed.scratch / name
    path.mkdir()
    return path


def test_gtm_is_imported_from_the_virtual_environment_not_the_checkout(installed):
    cwd = _workdir(installed, "imports")
    code = ("import importlib.util, json, gtm.bot.cards.render as r, gtm.sandbox.console as c;"
            "print(json.dumps({'render': r.__file__, 'console': c.__file__,"
            " 'bot': importlib.util.find_spec('bot') is not None, 'templates': r.template_names()}))")
    proc = installed.run("python", "-c", code, cwd=cwd)
    assert proc.returncode == 0, proc.stderr
    found = json.loads(proc.stdout)
    for key in ("render", "console"):
        assert Path(found[key]).is_relative_to(installed.venv) and not Path(found[key]).is_relative_to(ROOT)
    assert found["bot"] is False
    assert "escalation" in found["templates"] and "report" in found["templates"]


def test_demo_once_runs_from_the_installed_wheel(installed):
    proc = installed.run("gtm", "demo", "--once", cwd=_workdir(installed, "demo"), timeout=600, COLUMNS="120")
    assert proc.returncode == 0, proc.stderr[-3000:] + proc.stdout[-3000:]
    out = proc.stdout
    assert "升级至项目经理" in out and "升级至管理层" in out  # escalation cards rendered
    assert "GTM 项目周报" in out and "整体状态：红色" in out
    assert "风险" in out and "demo pass finished" in out and "Traceback" not in proc.stderr


def test_init_check_report_and_mention_end_to_end_from_the_installed_wheel(installed):
    cwd = _workdir(installed, "e2e")
    init = installed.run("gtm", "init", "--project", "launch", "--template", "gtm", "--start", "2026-11-02",
                         cwd=cwd, COLUMNS="160")
    assert init.returncode == 0, init.stderr + init.stdout
    assert "project launch is ready" in init.stdout
    assert [ln for ln in init.stderr.splitlines() if NOTICE in ln] != []  # said once, on stderr

    check = installed.run("gtm", "check", "--as-of", AS_OF, cwd=cwd, COLUMNS="160")
    assert check.returncode == 0, check.stderr + check.stdout
    assert "整体状态 / status: 红色 / red" in check.stdout and "written" in check.stdout

    report = installed.run("gtm", "report", "--as-of", AS_OF, cwd=cwd, COLUMNS="160")
    assert report.returncode == 0, report.stderr + report.stdout
    assert "GTM 项目周报" in report.stdout
    state = json.loads((cwd / ".gtm" / "sandbox-state.json").read_text(encoding="utf-8"))
    assert "GTM 项目周报" in json.dumps(state, ensure_ascii=False)  # posted to the group chat

    ask = installed.run("gtm", "ask", "风险", "--as-of", AS_OF, cwd=cwd, COLUMNS="160")
    assert ask.returncode == 0, ask.stderr + ask.stdout
    assert "风险热力图" in ask.stdout and "产品延期" in ask.stdout
    for proc in (init, check, report, ask):
        assert sum(NOTICE in ln for ln in proc.stderr.splitlines()) == 1
        assert "Traceback" not in proc.stderr


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_serve_as_the_image_runs_it_refuses_without_credentials_and_passes_the_healthcheck(installed):
    cwd = _workdir(installed, "serve")
    refused = installed.run("gtm", "serve", cwd=cwd)
    assert refused.returncode != 0 and len(refused.stderr.strip().splitlines()) == 2
    assert "GTM_FEISHU_APP_ID" in refused.stderr and "deploy/feishu-app-setup.md" in refused.stderr

    port = _free_port()
    proc = subprocess.Popen([installed.bin("gtm"), "serve", "--sandbox"], cwd=cwd, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True,
                            env=clean_env(installed.venv, GTM_HTTP_HOST="127.0.0.1", GTM_HTTP_PORT=str(port),
                                          GTM_TRANSPORT="none", GTM_SERVE_READY_FILE=str(cwd / "ready")))
    health = [a.replace(":8080/", f":{port}/") for a in installed.steps.healthcheck]
    assert health[0] == "python" and f"127.0.0.1:{port}/healthz" in health[-1]
    try:
        for _ in range(600):
            if (cwd / "ready").exists() or proc.poll() is not None:
                break
            try:
                proc.wait(0.1)
            except subprocess.TimeoutExpired:
                pass
        assert proc.poll() is None, proc.communicate()
        probe = installed.run(*health, cwd=cwd, timeout=60)
        assert probe.returncode == 0, probe.stderr
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0 and "gtm serve: stopped" in out, err[-2000:]

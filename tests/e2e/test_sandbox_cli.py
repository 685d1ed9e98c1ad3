"""`gtm sandbox`: prints what a newcomer needs, serves the real SDK, keeps its data with --state."""
from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time

import lark_oapi as lark
import pytest
from click.testing import CliRunner
from lark_oapi.api.contact.v3 import GetUserRequest
from lark_oapi.core.cache import LocalCache

from gtm.bot.cli.main import main


def _start(tmp_path, state):
    env = {**os.environ, "COLUMNS": "200"}
    proc = subprocess.Popen([sys.executable, "-m", "gtm.bot.cli.main", "sandbox", "--port", "0", "--state", str(state)],
                            cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines, deadline = [], time.monotonic() + 60
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        lines.append(line)
        if "Ctrl-C" in line:
            return proc, "".join(lines)
    proc.kill()
    raise AssertionError("gtm sandbox did not start:\n" + "".join(lines))


def _stop(proc) -> tuple[int, str]:
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=30)
    return proc.returncode, out


def test_gtm_sandbox_prints_its_url_and_credentials_and_serves_the_sdk(tmp_path):
    state = tmp_path / "sandbox.json"
    proc, out = _start(tmp_path, state)
    try:
        url = re.search(r"running\S* at (http://127\.0\.0\.1:\d+)", out).group(1)
        app_id = re.search(r"GTM_FEISHU_APP_ID\s+(\S+)", out).group(1)
        secret = re.search(r"GTM_FEISHU_APP_SECRET\s+(\S+)", out).group(1)
        assert re.search(r"GTM_CHAT_ID\s+oc_\S+", out) and "张伟" in out and f"{url}/console" in out
        client = (lark.Client.builder().app_id(app_id).app_secret(secret).domain(url)
                  .cache(LocalCache()).log_level(lark.LogLevel.ERROR).build())
        pm = re.search(r"张伟 \(Zhang Wei, pm\)\s+(ou_\S+)", out).group(1)
        resp = client.contact.v3.user.get(GetUserRequest.builder().user_id(pm).user_id_type("open_id").build())
        assert resp.code == 0 and resp.data.user.name == "张伟"
    finally:
        code, tail = _stop(proc)
    assert code == 0 and "state saved" in tail
    assert state.exists() and "张伟" in state.read_text(encoding="utf-8")


@pytest.mark.parametrize("name, content, words", [
    ("no/such/folder/s.json", None, "folder"),  # used to start and lose the data at shutdown
    ("bad.json", "{bad", "not valid JSON (line 1, column 2"),  # used to be 'unexpected JSONDecodeError'
    ("list.json", "[1, 2]", "not a state the sandbox saved"),
    ("shape.json", '{"tenants": [{"name": "x"}]}', "not a state the sandbox saved"),
    ("gbk.json", "{\"租户\": 1}".encode("gbk"), "not UTF-8"),
])
def test_a_state_file_that_cannot_be_read_or_written_is_refused_at_start(tmp_path, monkeypatch, name, content, words):
    monkeypatch.chdir(tmp_path)
    if isinstance(content, bytes):
        (tmp_path / name).write_bytes(content)
    elif content is not None:
        (tmp_path / name).write_text(content, encoding="utf-8")
    res = CliRunner().invoke(main, ["sandbox", "--state", name])
    assert res.exit_code == 2, res.output
    [line] = [x for x in res.output.splitlines() if "--state" in x and "Try" not in x]
    assert f"--state: {name!r}" in line and words in line and "e.g. --state sandbox.json" in line
    assert "Traceback" not in res.output and "unexpected" not in res.output


@pytest.mark.parametrize("command", ["sandbox", "demo"])
@pytest.mark.parametrize("port", ["99999", "-1"])
def test_a_port_outside_0_65535_is_a_usage_error(command, port):
    res = CliRunner().invoke(main, [command, "--port", port])  # used to be 'OSError: … port must be 0-65535', exit 1
    assert res.exit_code == 2, res.output
    assert "--port" in res.output and port in res.output and "0<=x<=65535" in res.output

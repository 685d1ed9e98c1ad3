"""`gtm sandbox`: prints what a newcomer needs, serves the real SDK, keeps its data with --state."""
from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time

import lark_oapi as lark
from lark_oapi.api.contact.v3 import GetUserRequest
from lark_oapi.core.cache import LocalCache


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

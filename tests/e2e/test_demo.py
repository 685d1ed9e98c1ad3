"""`gtm demo --once` on a fresh directory: the whole loop, printed, exit 0.

Runs the real CLI in a subprocess (its own sandbox, store and long connection) and checks that the
output shows what a team lead must see in the first minute.
"""
from __future__ import annotations

import os
import re
import subprocess
import sys


def test_demo_once_shows_the_whole_loop(tmp_path):
    scratch = tmp_path / "tmp"  # where the demo makes its own folder (removed when it stops)
    scratch.mkdir()
    env = {**os.environ, "GTM_LOCAL_DIR": str(tmp_path / ".gtm"), "COLUMNS": "120", "TMPDIR": str(scratch)}
    for key in [k for k in env if k.startswith("GTM_FEISHU_") or k == "GTM_DATABASE_URL"]:
        env.pop(key)
    proc = subprocess.run([sys.executable, "-m", "gtm.bot.cli.main", "demo", "--once"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=240)
    out = proc.stdout
    assert proc.returncode == 0, proc.stderr[-3000:] + out[-3000:]
    # overdue notices to owners (digest cards with the overdue items)
    assert "已逾期" in out and "T-301" in out and "T-302" in out
    # both escalation levels
    assert "升级至项目经理" in out and "升级至管理层" in out
    # budget change request and the milestone gate
    assert "变更申请" in out and "未满足" in out
    # the weekly report with its RAG colour and reasons
    assert "GTM 项目周报" in out and "整体状态：红色" in out and "高风险" in out
    assert "周报已存档到「周报」表 / archived in the 周报 table" in out and "archived: True" not in out
    # @mention answers in the group and a p2p answer
    assert "👤 陈静: @GTM 计划助手 风险" in out
    assert "风险热力图" in out
    assert "私聊 → 王芳" in out
    assert "没有回答" not in out and "Traceback" not in proc.stderr
    # every API call counted once in its family: "237 (215 bitable, 16 im, 6 other: auth, drive)"
    total, parts = re.search(r"API calls: (\d+) \((.*?)\)", out).groups()
    assert int(total) == sum(int(n) for n in re.findall(r"(\d+) [a-z]", parts))
    assert list(scratch.iterdir()) == []  # nothing left behind in the temporary folder
    elapsed = float(re.search(r"demo pass finished in ([0-9.]+) s", out).group(1))
    print(f"demo first pass: {elapsed:.1f} s")

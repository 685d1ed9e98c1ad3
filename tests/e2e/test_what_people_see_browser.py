"""What a PM sees, in a real browser: `gtm demo` keeps serving, headless Chromium opens its console
as two readers (Chinese, English) and screenshots the group chat (weekly report, status card),
the DM (我的任务) and the Bases tab; the assertions read the visible text and the pixels.
Skips cleanly without Debian's `chromium`.
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
import urllib.request
from pathlib import Path

import pytest

from tests.support import browser as kit  # PNG decoder, chromium runner
pytestmark = pytest.mark.browser

RED = (0xF5, 0x4A, 0x45)


def visible_text(dom: str) -> str:
    """The DOM as text: scripts dropped, tags removed, entities decoded."""
    import html

    dom = re.sub(r"<script.*?</script>", "", dom, flags=re.S)
    return html.unescape(re.sub(r"<[^>]+>", "\n", dom))


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """`gtm demo` (serving) on a fresh directory; yields the sandbox URL and its /_sandbox/info."""
    tmp = tmp_path_factory.mktemp("demo")
    env = {**os.environ, "GTM_LOCAL_DIR": str(tmp / ".gtm"), "COLUMNS": "400"}
    for key in [k for k in env if k.startswith("GTM_FEISHU_") or k == "GTM_DATABASE_URL"]:
        env.pop(key)
    proc = subprocess.Popen([sys.executable, "-m", "gtm.bot.cli.main", "demo"], cwd=tmp, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    lines: list[str] = []
    ready = threading.Event()

    def read() -> None:
        for line in proc.stdout:  # type: ignore[union-attr]
            lines.append(line)
            if "still serving" in line:
                ready.set()

    threading.Thread(target=read, daemon=True).start()
    try:
        assert ready.wait(240), "".join(lines)[-3000:]
        url = re.search(r"(http://127\.0\.0\.1:\d+)/console", "".join(lines)).group(1)
        info = json.loads(urllib.request.urlopen(url + "/_sandbox/info", timeout=10).read())
        yield url, info, "".join(lines)
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()


def page(url: str, tmp: Path, name: str, **params: str) -> tuple[str, tuple]:
    """The console's visible text for these URL parameters, and its screenshot (decoded)."""
    query = "&".join(f"{k}={v}" for k, v in params.items())
    target = f"{url}/console?{query}"
    dom = kit.chromium(["--dump-dom", target], tmp).stdout.decode("utf-8", "replace")
    shot = Path(os.environ.get("GTM_SHOT_DIR", tmp)) / f"{name}.png"
    kit.chromium([f"--screenshot={shot}", "--window-size=1280,4000", target], tmp)
    return visible_text(dom), kit.decode_png(shot.read_bytes())


@pytest.mark.skipif(kit.CHROMIUM is None, reason="Debian chromium is not installed")
def test_group_chat_and_dm_in_both_languages(demo, tmp_path):
    url, info, out = demo
    group = info["chats"][0]["chat_id"]
    dm = next(c["chat_id"] for c in info["p2p_chats"] if c["name"] == "王芳")

    zh, (w, h, rows, bpp) = page(url, tmp_path, "group_zh", chat=group, lang="zh_cn")
    # the weekly report: metrics by metric, no template blanks, no contradictions
    assert "GTM 项目周报" in zh and "整体状态：红色" in zh
    assert "46%" in zh and "38" in zh  # PMF 非常失望比例 and NPS, each its own value
    assert "___" not in zh and "例：" not in zh and "$_" not in zh
    assert "未填写" in zh  # NRR has no value yet (and no update date)
    assert not re.search(r"里程碑 M2 .*达成", zh)  # M2's exit criterion is unmet: not "reached"
    # the status card: each item named once, red dots for a red project
    assert "项目状态" in zh and "（产品延期）" not in zh
    assert not re.search(r"（([^（）]+)）（\1）", zh)
    assert "阶段：Pre-Launch" not in zh
    assert kit.count_colour(rows, w, bpp, RED) > 2000, "the red headers are not drawn"

    en, _ = page(url, tmp_path, "group_en", chat=group, lang="en_us")
    assert "GTM weekly report" in en and "Overall status: Red" in en and "Status ·" in en
    assert "Milestone progress" in en and "整体状态" not in en and "里程碑进度" not in en

    zh_dm, _ = page(url, tmp_path, "dm_zh", chat=dm, lang="zh_cn")
    assert "我的任务" in zh_dm and "天" in zh_dm
    en_dm, _ = page(url, tmp_path, "dm_en", chat=dm, lang="en_us")
    assert "My tasks" in en_dm and "我的任务 ·" not in en_dm
    # 我的任务 shows overdue and the next 14 days only: no item due in months
    days_left = [int(n) for n in re.findall(r"剩 (\d+) 天", zh_dm)]
    assert days_left and max(days_left) <= 14


@pytest.mark.skipif(kit.CHROMIUM is None, reason="Debian chromium is not installed")
def test_bases_tab_lists_the_base_and_its_rows_like_feishu(demo, tmp_path):
    url, info, _ = demo
    text, _ = page(url, tmp_path, "bases", tab="bases")
    assert "新一代协作套件发布（示例）" in text
    assert "T-301" in text and "网站产品页与定价页上线" in text
    assert re.search(r"\b20\d\d-\d\d-\d\d\b", text), "dates shown as dates"
    assert not re.search(r"\b1[6-9]\d{11}\b", text), "no epoch milliseconds"
    assert "☑" in text or "☐" in text  # checkboxes
    assert "王芳" in text  # people by name
    assert not re.search(r"\brec[A-Za-z0-9]{6,}\b", text), "links by name, not record ids"

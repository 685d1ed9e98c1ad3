"""The product's weekly report card, posted by the real report job, drawn by the console in
headless Chromium: header in the RAG colour and the milestone chart as SVG bars.
Skips cleanly without Debian's `chromium`.
"""
from __future__ import annotations

from pathlib import Path

import pytest

from gtm.bot.checks.posting import run_weekly_report
from tests.support import browser as kit  # PNG decoder, chromium runner
from tests.support.plans import NOW, add_rows

pytestmark = pytest.mark.browser

HEADER = {"red": (0xF5, 0x4A, 0x45), "yellow": (0xFF, 0xC6, 0x0A), "green": (0x34, 0xC7, 0x24)}


@pytest.mark.skipif(kit.CHROMIUM is None, reason="Debian chromium is not installed")
def test_console_draws_the_weekly_report_and_its_chart(sandbox, seed, runtime, plan, tmp_path):
    b, m1 = plan["binding"], plan["milestones"]
    add_rows(runtime.gateway, b, "deliverable", [  # M1 is half done: the chart has a bar to draw
        {"name": "发布会物料", "milestone": m1, "status": "完成"},
        {"name": "渠道培训材料", "milestone": m1, "status": "进行中"}])
    run = run_weekly_report(runtime, runtime.project("alpha"), NOW)
    assert [o.status for o in run.outcomes] == ["sent"]
    color = run.card["header"]["template"]
    assert color in HEADER
    assert any(el.get("tag") == "chart" for el in run.card["body"]["elements"])
    url = sandbox.url + "/console"

    dom = kit.chromium(["--dump-dom", url], tmp_path).stdout.decode("utf-8", "replace")
    assert "周报" in dom and f'data-template="{color}"' in dom
    assert 'data-testid="chart"' in dom and "<svg" in dom and "<rect" in dom

    shot = Path(__import__("os").environ.get("GTM_SHOT_DIR", tmp_path)) / "report.png"
    kit.chromium([f"--screenshot={shot}", "--window-size=1280,2600", url], tmp_path)  # the whole card
    width, height, rows, bpp = kit.decode_png(shot.read_bytes())
    assert kit.count_colour(rows, width, bpp, HEADER[color]) > 2000, "the header band is not drawn"
    assert kit.count_colour(rows, width, bpp, kit.BLUE) > 300, "the chart bars are not drawn"

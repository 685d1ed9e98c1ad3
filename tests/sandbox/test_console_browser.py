"""The console in a real headless Chromium: a bot card sent through the SDK is drawn with its header
colour and its chart as inline SVG. Skips cleanly without Debian's `chromium`.

The screenshot and Chromium helpers are tests/support/browser.py.
"""
from __future__ import annotations

import json

import pytest
from lark_oapi.api.im.v1 import CreateMessageRequest, CreateMessageRequestBody

from tests.support.browser import BLUE, CHROMIUM, RED, chromium, count_colour, decode_png

pytestmark = pytest.mark.browser


@pytest.mark.skipif(CHROMIUM is None, reason="Debian chromium is not installed")
def test_console_renders_card_header_and_chart(sandbox, seed, lark_client, tmp_path):
    card = {"schema": "2.0", "config": {"update_multi": True},
            "header": {"title": {"tag": "plain_text", "content": "项目红灯"}, "template": "red"},
            "body": {"elements": [
                {"tag": "markdown", "content": "**逾期任务** <font color=red>3</font>"},
                {"tag": "chart", "aspect_ratio": "16:9", "chart_spec": {
                    "type": "bar", "xField": "d", "yField": "v",
                    "data": {"values": [{"d": "周一", "v": 3}, {"d": "周二", "v": 5}, {"d": "周三", "v": 2}]}}},
                {"tag": "button", "text": {"tag": "plain_text", "content": "确认"}, "type": "primary",
                 "behaviors": [{"type": "callback", "value": {"action": "ack"}}]}]}}
    r = lark_client.im.v1.message.create(CreateMessageRequest.builder().receive_id_type("chat_id").request_body(
        CreateMessageRequestBody.builder().receive_id(seed.chat_id).msg_type("interactive")
        .content(json.dumps(card, ensure_ascii=False)).build()).build())
    assert r.code == 0, r.msg
    url = sandbox.url + "/console"

    dom = chromium(["--dump-dom", url], tmp_path)
    html = dom.stdout.decode("utf-8", "replace")
    assert 'data-testid="chart"' in html and "<svg" in html and "<rect" in html, dom.stderr[-2000:]
    assert 'data-template="red"' in html and "项目红灯" in html

    shot = tmp_path / "console.png"
    chromium([f"--screenshot={shot}", url], tmp_path)
    assert shot.exists(), "chromium wrote no screenshot"
    width, height, rows, bpp = decode_png(shot.read_bytes())
    assert (width, height) == (1280, 900)
    assert count_colour(rows, width, bpp, RED) > 2000  # the red header band
    assert count_colour(rows, width, bpp, BLUE) > 1500  # the bars (and the primary button)

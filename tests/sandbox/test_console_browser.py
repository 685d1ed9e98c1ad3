"""The console in a real headless Chromium: a bot card sent through the SDK is drawn with its header
colour and its chart as inline SVG. Skips cleanly without Debian's `chromium`.

The screenshot PNG is decoded with zlib here (8-bit RGB/RGBA, all five scanline filters).
"""
from __future__ import annotations

import json
import shutil
import struct
import subprocess
import zlib
from pathlib import Path

import pytest
from lark_oapi.api.im.v1 import CreateMessageRequest, CreateMessageRequestBody

pytestmark = pytest.mark.browser

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
RED = (0xF5, 0x4A, 0x45)  # header template "red" in app.js
BLUE = (0x33, 0x70, 0xFF)  # first chart palette colour (bars)


def decode_png(data: bytes) -> tuple[int, int, list[bytearray], int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, width = 8, b"", 0
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        chunk = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            width, height, depth, ctype = struct.unpack(">IIBB", chunk[:10])
            assert depth == 8 and ctype in (2, 6), (depth, ctype)
            bpp = 3 if ctype == 2 else 4
        elif kind == b"IDAT":
            idat += chunk
        pos += 12 + length
    raw = zlib.decompress(idat)
    stride = width * bpp
    rows: list[bytearray] = []
    prev = bytearray(stride)
    for y in range(height):
        f = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b = prev[i]
            c = prev[i - bpp] if i >= bpp else 0
            if f == 1:
                line[i] = (line[i] + a) & 0xFF
            elif f == 2:
                line[i] = (line[i] + b) & 0xFF
            elif f == 3:
                line[i] = (line[i] + (a + b) // 2) & 0xFF
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 0xFF
        rows.append(line)
        prev = line
    return width, height, rows, bpp


def count_colour(rows, width, bpp, rgb) -> int:
    """Pixels of exactly this colour (flat fills render exactly; bytes.count keeps it fast)."""
    pattern = bytes(rgb) if bpp == 3 else bytes(rgb) + b"\xff"
    return sum(bytes(line).count(pattern) for line in rows)


def chromium(args: list[str], tmp: Path) -> subprocess.CompletedProcess:
    cmd = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
           "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-dev-shm-usage",
           f"--user-data-dir={tmp / 'profile'}", "--window-size=1280,900", "--virtual-time-budget=5000", *args]
    return subprocess.run(cmd, capture_output=True, timeout=90)


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

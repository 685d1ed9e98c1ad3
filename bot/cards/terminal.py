"""A card as text for the terminal (`gtm ask`, `gtm demo`, the CLI's previews).

`card_to_text` renders a JSON 2.0 card readably: header, markdown, aligned tables (East Asian
wide characters count two columns), bar charts, buttons as [按钮].
"""
from __future__ import annotations

import html
import re
import unicodedata
from datetime import datetime, timezone
from typing import Any


def card_to_text(card: dict[str, Any], width: int = 100) -> str:
    """A readable rendering of a JSON 2.0 card: header, markdown, aligned tables, bar charts,
    buttons as [按钮]."""
    out: list[str] = []
    header = card.get("header") or {}
    title = _plain(header.get("title"))
    if title:
        sub = _plain(header.get("subtitle"))
        color = header.get("template", "")
        out.append(f"■ {title}" + (f"  ({color})" if color and color != "default" else ""))
        if sub:
            out.append(f"  {sub}")
        tags = [_plain(t.get("text")) for t in header.get("text_tag_list") or []]
        if tags:
            out.append("  " + " ".join(f"[{t}]" for t in tags if t))
        out.append("─" * min(width, max(20, _width(title) + 2)))
    elements = (card.get("body") or {}).get("elements") or card.get("elements") or []
    for el in elements:
        _element(el, out, width, indent="")
    return "\n".join(line.rstrip() for line in out).strip() + "\n"


def _plain(node: Any) -> str:
    if isinstance(node, dict):
        return str(node.get("content") or node.get("text") or "")
    return str(node or "")


def _width(s: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in s)


def _pad(s: str, w: int) -> str:
    return s + " " * max(0, w - _width(s))


def _md(text: str) -> str:
    text = re.sub(r"<at\s+(?:id|user_id|ids|email)=\\?\"?([^\s>\"\\]+)\\?\"?\s*>\s*</at>", r"@\1", text)
    text = re.sub(r"<person\s+id=['\"]?([^'\"\s>]+)['\"]?[^>]*>\s*</person>", r"@\1", text)
    text = re.sub(r"<font[^>]*>(.*?)</font>", r"\1", text, flags=re.S)
    text = re.sub(r"<text_tag[^>]*>(.*?)</text_tag>", r"[\1]", text, flags=re.S)
    text = re.sub(r"<link\s+url=['\"]?([^'\"\s>]+)['\"]?[^>]*>(.*?)</link>", r"\2 (\1)", text, flags=re.S)
    text = re.sub(r"<local_datetime[^>]*millisecond=['\"]?(\d+)['\"]?[^>]*>\s*</local_datetime>",
                  lambda m: datetime.fromtimestamp(int(m.group(1)) / 1000, timezone.utc).strftime("%Y-%m-%d"),
                  text)
    text = re.sub(r"\[([^\]]+)\]\((https?://[^)]+)\)", r"\1 (\2)", text)
    text = text.replace("**", "")
    return html.unescape(text)  # the card escapes people's markup as entities (&#60;at …&#62;); a terminal shows it as typed


def _cell(value: Any, dtype: str) -> str:
    if value is None:
        return ""
    if dtype == "options" and isinstance(value, list):
        return ",".join(str(v.get("text", "")) if isinstance(v, dict) else str(v) for v in value)
    if dtype == "persons":
        return ",".join(value) if isinstance(value, list) else str(value)
    if dtype == "date" and isinstance(value, (int, float)):
        return datetime.fromtimestamp(value / 1000, timezone.utc).strftime("%Y-%m-%d")
    if dtype in ("lark_md", "markdown"):
        return _md(str(value)).replace("\n", " ")
    return str(value)


def _table(el: dict[str, Any], out: list[str], indent: str, width: int) -> None:
    """Aligned columns when they fit `width`; otherwise one line per row, its first cell then
    "heading value" pairs, empty cells left out (Feishu scrolls a wide table sideways, a terminal
    would fold every line)."""
    cols = el.get("columns") or []
    rows = el.get("rows") or []
    heads = [str(c.get("display_name") or c.get("name", "")) for c in cols]
    cells = [[_cell(r.get(c.get("name")), c.get("data_type", "text")) for c in cols] for r in rows]
    widths = [max([_width(h)] + [_width(row[i]) for row in cells]) for i, h in enumerate(heads)]
    if _width(indent) + sum(widths) + 2 * max(0, len(widths) - 1) > width and len(heads) > 1:
        sep = "：" if any(_width(h) > len(h) for h in heads) else ": "  # Chinese headings, Chinese colon
        for row in cells:
            out.append(indent + row[0] + sep + " · ".join(f"{h} {v}" for h, v in zip(heads[1:], row[1:])
                                                        if v.strip() not in ("", "—")))
        return
    out.append(indent + "  ".join(_pad(h, w) for h, w in zip(heads, widths)))
    out.append(indent + "  ".join("-" * w for w in widths))
    for row in cells:
        out.append(indent + "  ".join(_pad(v, w) for v, w in zip(row, widths)))


def _chart(el: dict[str, Any], out: list[str], indent: str) -> None:
    spec = el.get("chart_spec") or {}
    title = _plain(spec.get("title", {}).get("text") if isinstance(spec.get("title"), dict) else spec.get("title"))
    data = spec.get("data") or {}
    values = data.get("values") if isinstance(data, dict) else (data[0].get("values") if data else [])
    xf = spec.get("xField") or spec.get("categoryField") or "x"
    yf = spec.get("yField") or spec.get("valueField") or "y"
    if isinstance(xf, list):
        xf = xf[0]
    if isinstance(yf, list):
        yf = yf[0]
    if spec.get("direction") == "horizontal":
        xf, yf = yf, xf
    pts = [(str(v.get(xf, "")), v.get(yf)) for v in values or [] if isinstance(v, dict)]
    pts = [(k, float(y)) for k, y in pts if isinstance(y, (int, float))]
    out.append(indent + f"[图表 / chart{': ' + title if title else ''}]")
    if not pts:
        return
    top = max(abs(y) for _, y in pts) or 1.0
    lw = max(_width(k) for k, _ in pts)
    for k, y in pts:
        bar = "█" * max(0, round(20 * abs(y) / top))
        out.append(indent + f"{_pad(k, lw)} │{bar} {y:g}")


def _element(el: dict[str, Any], out: list[str], width: int, indent: str) -> None:
    tag = el.get("tag")
    if tag in ("markdown", "lark_md"):
        out.extend(indent + line for line in _md(str(el.get("content", ""))).splitlines())
    elif tag == "div":
        out.append(indent + _md(_plain(el.get("text"))))
    elif tag == "hr":
        out.append(indent + "─" * 20)
    elif tag == "table":
        _table(el, out, indent, width)
    elif tag == "chart":
        _chart(el, out, indent)
    elif tag == "button":
        out.append(indent + f"[{_plain(el.get('text'))}]")
    elif tag in ("column_set",):
        buttons = [c for col in el.get("columns") or [] for c in col.get("elements") or []]
        if buttons and all(b.get("tag") == "button" for b in buttons):
            out.append(indent + " ".join(f"[{_plain(b.get('text'))}]" for b in buttons))
            return
        for col in el.get("columns") or []:
            for sub in col.get("elements") or []:
                _element(sub, out, width, indent)
    elif tag in ("form", "collapsible_panel", "interactive_container"):
        hdr = el.get("header") or {}
        if hdr.get("title"):
            out.append(indent + "▸ " + _md(_plain(hdr.get("title"))))
        for sub in el.get("elements") or []:
            _element(sub, out, width, indent + ("  " if tag == "collapsible_panel" else ""))
    elif tag in ("person", "person_list"):
        ids = [p.get("id") for p in el.get("persons") or []] or [el.get("user_id")]
        out.append(indent + " ".join(f"@{i}" for i in ids if i))
    elif tag in ("date_picker", "picker_date"):
        out.append(indent + f"[{_plain(el.get('placeholder')) or '选择日期'}]")
    elif tag in ("input",):
        out.append(indent + f"[{_plain(el.get('placeholder')) or '输入'}: ____]")
    elif tag in ("select_static", "overflow"):
        opts = [_plain(o.get("text")) for o in el.get("options") or []]
        out.append(indent + "[" + " | ".join(opts) + "]")
    elif tag == "note":
        for sub in el.get("elements") or []:
            out.append(indent + "  " + _md(_plain(sub)))
    elif tag == "img":
        out.append(indent + "[图片 / image]")
    elif "elements" in el:
        for sub in el.get("elements") or []:
            _element(sub, out, width, indent)

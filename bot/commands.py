"""Parse what people type after @-mentioning the bot into one `Command` (zh or en, forgiving).

The text is normalised first: `@_user_N` placeholders removed, full-width characters folded
(NFKC: `？`→`?`, `Ｍ３`→`M3`, ideographic space→space), lower-cased, trailing punctuation dropped.
Unknown text gives `Command("unknown")` with "did you mean" suggestions (difflib).
"""
from __future__ import annotations

import difflib
import re
import unicodedata
from typing import Iterable, Literal

from pydantic import BaseModel, Field

from gtm.schemas.tables import table

CommandName = Literal["status", "milestone", "my_tasks", "overdue", "this_week", "risks",
                      "dependencies", "issues", "report", "data_problems", "portfolio", "help",
                      "critical_path", "unknown"]


class Command(BaseModel):
    name: CommandName
    arg: str = ""  # project name for status/report…, milestone code or name for milestone
    text: str = ""  # the normalised text
    suggestions: list[str] = Field(default_factory=list)  # display forms, e.g. "状态 / status"


# name -> aliases (normalised: lower case, half-width). The first two are the display forms.
ALIASES: dict[str, tuple[str, ...]] = {
    "status": ("状态", "status", "项目状态", "进展", "st", "state"),
    "milestone": ("里程碑", "milestone", "ms"),
    "my_tasks": ("我的任务", "my tasks", "我的", "我的待办", "mytasks", "my task", "mine", "todo"),
    "overdue": ("逾期", "overdue", "延期", "过期", "逾期任务", "late"),
    "this_week": ("本周", "this week", "本周到期", "这周", "本周任务", "week", "due this week"),
    "risks": ("风险", "risks", "risk", "风险列表"),
    "dependencies": ("依赖", "dependencies", "dependency", "deps", table("dependency").field("item").name),
    "issues": ("问题", "issues", "issue", "问题列表"),
    "report": ("周报", "report", "weekly report", "weekly", "报告"),
    "data_problems": ("数据问题", "data problems", "data problem", "数据", "data", "problems"),
    "portfolio": ("全部项目", "portfolio", "所有项目", "项目列表", "all projects", "projects"),
    "critical_path": ("关键路径", "critical path", "关键链", "critical", "cp", "criticalpath"),
    "help": ("帮助", "help", "?", "菜单", "命令", "h", "menu", "commands"),
}
# longest alias first, so 数据问题 wins over 问题 and "data problems" over "data"
_BY_LENGTH = sorted(((a, n) for n, al in ALIASES.items() for a in al), key=lambda p: -len(p[0]))
_MILESTONE_CODE = re.compile(r"^m\s*(\d{1,2})$")
_PLACEHOLDER = re.compile(r"@_user_\d+|@_all")
_TRAILING = re.compile(r"[\s.?!。,，;；:：~、]+$")
_LEADING = re.compile(r"^[\s/\\#!:：,，]+")


def normalise(text: str) -> str:
    """Fold full-width forms, drop mention placeholders, collapse spaces, lower-case."""
    text = unicodedata.normalize("NFKC", text or "")
    text = _PLACEHOLDER.sub(" ", text)
    text = re.sub(r"\s+", " ", text).strip().lower()
    text = _LEADING.sub("", text)
    stripped = _TRAILING.sub("", text)
    return stripped if stripped else text.strip()


def display(name: str) -> str:
    a = ALIASES[name]
    return f"{a[0]} / {a[1]}"


def _is_word(alias: str) -> bool:
    return alias.isascii()


def parse(text: str, milestones: Iterable[str] = ()) -> Command:
    """The command in `text`. `milestones` (codes or "M3 名称" labels) lets a bare name match."""
    norm = normalise(text)
    if not norm:
        return Command(name="help", text=norm)
    m = _MILESTONE_CODE.match(norm)
    if m:
        return Command(name="milestone", arg=f"M{int(m.group(1))}", text=norm)
    for alias, name in _BY_LENGTH:
        if norm == alias:
            return Command(name=name, text=norm)  # type: ignore[arg-type]
        if norm.startswith(alias):
            rest = norm[len(alias):]
            if _is_word(alias) and not rest.startswith(" "):
                continue  # "statusx" is not "status"
            if name == "help" and alias in ("?", "h"):
                continue
            arg = rest.strip()
            if name == "milestone":
                mm = _MILESTONE_CODE.match(arg)
                arg = f"M{int(mm.group(1))}" if mm else arg
            return Command(name=name, arg=arg, text=norm)  # type: ignore[arg-type]
    # a milestone by name ("发布准备就绪") or label ("m3 发布准备就绪")
    for label in milestones:
        low = normalise(label)
        if low and (norm == low or (len(norm) >= 2 and norm in low)):
            return Command(name="milestone", arg=label, text=norm)
    return Command(name="unknown", text=norm, suggestions=suggest(norm))


def suggest(norm: str, n: int = 3) -> list[str]:
    """Closest commands to an unknown text ("staus" → "状态 / status")."""
    head = norm.split(" ")[0] if norm.isascii() else norm
    aliases = [a for a, _ in _BY_LENGTH if len(a) > 1]
    found: list[str] = []
    for candidate in (norm, head):
        for alias in difflib.get_close_matches(candidate, aliases, n=n, cutoff=0.6):
            shown = display(dict(_BY_LENGTH)[alias])
            if shown not in found:
                found.append(shown)
    if not found and not norm.isascii():  # Chinese: a shared character is a fair hint
        for alias, name in _BY_LENGTH:
            if not alias.isascii() and len(alias) >= 2 and any(ch in norm for ch in alias):
                shown = display(name)
                if shown not in found:
                    found.append(shown)
    return found[:n]

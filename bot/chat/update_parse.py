"""Plan updates typed in chat (zh/en): progress, done, a new date with a reason. Pure.

Phrasings understood (normalised text: NFKC, lower case):
- progress: "T-301 80%", "进度 T-301 80", "T-301 进度 80", "progress T-301 80"
- done: "T-301 完成", "T-301 已完成", "T-301 done", "finished T-301"
- new date: "M3 延期到 12-20 因为设计稿", "T-301 推迟到下周一", "push T-301 to friday",
  "move M3 to 2026-12-20 because design is late"
Targets: a task by 任务ID (T-301; letters after the dash too, `text.TASK_ID_ALNUM`) or by its
name, a milestone by 编号 (M3). Dates: ISO, 12-20,
12/20, 12月20日, 今天/明天/后天, 周五/星期五, 下周一, 本周三, today/tomorrow, friday, next monday —
resolved against `today` in the project's time zone; a month-day without a year is the next one
to come. Nothing here writes: the bot answers with a confirm card whose 确认 button carries the
same action value the notice cards use, so the write goes through the card-button path.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Literal

from gtm.bot.chat.text import MILESTONE_CODE, TASK_ID_ALNUM
from gtm.schemas.plan import Milestone, PlanSnapshot, Task

Kind = Literal["progress", "done", "postpone"]

_PCT = re.compile(r"(?<![\d.])(\d{1,3})\s*(?:%|percent|pct)")
_PROGRESS_WORD = re.compile(r"(?:进度|progress).*?(?<![\d-])(\d{1,3})\s*%?\s*$")
_DONE = re.compile(r"(?:已完成|完成了|已经完成|做完了|搞定|完成|\bdone\b|\bfinished\b|\bcompleted?\b)")
_POSTPONE_ZH = re.compile(r"(?:延期|推迟|延后|改期|顺延|推到|改到|挪到|调整到)(?:到|至)?\s*")
_POSTPONE_EN = re.compile(r"\b(?:push(?:ed)?|move[ds]?|postpone[ds]?|delay(?:ed|s)?|reschedule[ds]?|slip(?:s|ped)?)\b")
_TO_EN = re.compile(r"\b(?:to|until|till)\s+")
_REASON = re.compile(r"(?:[,，;；]\s*)?(?:因为|原因是|原因[:：]?|由于|\bbecause of\b|\bbecause\b|\bdue to\b|\breason[:：]?)\s*(.+)$")
_QUESTION = re.compile(r"(?:吗|么|\?|呢)$|情况|怎么|如何|多少|是否|有没有|\b(?:what|how|when|which|is it)\b")

_WEEKDAY_ZH = {"一": 0, "二": 1, "三": 2, "四": 3, "五": 4, "六": 5, "日": 6, "天": 6, "末": 5}
_WEEKDAY_EN = {"monday": 0, "mon": 0, "tuesday": 1, "tue": 1, "tues": 1, "wednesday": 2, "wed": 2,
               "thursday": 3, "thu": 3, "thur": 3, "thurs": 3, "friday": 4, "fri": 4, "saturday": 5,
               "sat": 5, "sunday": 6, "sun": 6}


@dataclass(frozen=True)
class Update:
    """One change a person asked for (not written yet)."""

    table: Literal["task", "milestone"]
    record_id: str
    label: str
    kind: Kind
    pct: int | None = None
    new_date: date | None = None
    reason: str = ""


@dataclass(frozen=True)
class UpdateProblem:
    """Why a message that looks like an update cannot be used (zh, en)."""

    text: str
    text_en: str


def is_question(norm: str) -> bool:
    """Whether normalised text asks something ("T-301 完成了吗") rather than tells a change."""
    return bool(_QUESTION.search(norm))


def has_marker(text: str) -> bool:
    """Progress, done or a new date is asked for (IDs and codes already taken out of `text`)."""
    return bool(_PCT.search(text) or _PROGRESS_WORD.search(text) or _DONE.search(text)
                or _POSTPONE_ZH.search(text) or (_POSTPONE_EN.search(text) and _TO_EN.search(text)))


def _without_ids(norm: str) -> str:
    return MILESTONE_CODE.sub(" ", TASK_ID_ALNUM.sub(" ", norm))


def is_update(norm: str) -> bool:
    """Whether normalised text asks to change the plan (the router sends it to the update intent)."""
    if not norm or is_question(norm):
        return False
    target = bool(TASK_ID_ALNUM.search(norm) or MILESTONE_CODE.search(norm))
    return has_marker(_without_ids(norm)) and (target or norm.startswith(("进度", "progress")))


# --- dates ---------------------------------------------------------------------------------------
def _weekday_after(today: date, wd: int) -> date:
    """The next such weekday strictly after today."""
    ahead = (wd - today.weekday()) % 7 or 7
    return today + timedelta(days=ahead)


def _week_of(today: date, wd: int, weeks: int) -> date:
    monday = today - timedelta(days=today.weekday())
    return monday + timedelta(days=7 * weeks + wd)


def _month_day(today: date, month: int, day: int) -> date | None:
    for year in (today.year, today.year + 1):
        try:
            d = date(year, month, day)
        except ValueError:
            return None
        if d >= today:
            return d
    return None


def parse_date(text: str, today: date) -> tuple[date | None, str]:
    """(the first date in `text`, the text after it). Relative words resolve against `today`."""
    t = text.strip()
    rules: list[tuple[re.Pattern[str], object]] = [
        (re.compile(r"^(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})[日号]?"), "ymd"),
        (re.compile(r"^(\d{1,2})[-/.月](\d{1,2})[日号]?"), "md"),
        (re.compile(r"^(今天|today)"), 0),
        (re.compile(r"^(明天|tomorrow)"), 1),
        (re.compile(r"^(后天)"), 2),
        (re.compile(r"^(?:下(?:个)?(?:周|星期|礼拜))([一二三四五六日天])"), "next_zh"),
        (re.compile(r"^(?:本|这)(?:周|星期|礼拜)([一二三四五六日天])"), "this_zh"),
        (re.compile(r"^(?:周|星期|礼拜)([一二三四五六日天])"), "zh"),
        (re.compile(r"^next\s+([a-z]+)"), "next_en"),
        (re.compile(r"^(?:this\s+)?([a-z]+)"), "en"),
    ]
    for rx, kind in rules:
        m = rx.match(t)
        if not m:
            continue
        rest = t[m.end():]
        if kind == "ymd":
            try:
                return date(int(m.group(1)), int(m.group(2)), int(m.group(3))), rest
            except ValueError:
                return None, rest
        if kind == "md":
            return _month_day(today, int(m.group(1)), int(m.group(2))), rest
        if isinstance(kind, int):
            return today + timedelta(days=kind), rest
        if kind == "next_zh":
            return _week_of(today, _WEEKDAY_ZH[m.group(1)], 1), rest
        if kind == "this_zh":
            return _week_of(today, _WEEKDAY_ZH[m.group(1)], 0), rest
        if kind == "zh":
            return _weekday_after(today, _WEEKDAY_ZH[m.group(1)]), rest
        wd = _WEEKDAY_EN.get(m.group(1))
        if wd is None:
            continue
        if kind == "next_en":
            return _week_of(today, wd, 1), rest
        return _weekday_after(today, wd), rest
    return None, t


# --- targets -------------------------------------------------------------------------------------
def _target(norm: str, snap: PlanSnapshot) -> tuple[Task | Milestone | UpdateProblem | None, str]:
    """(the record the text is about, the text without it)."""
    m = TASK_ID_ALNUM.search(norm)
    if m:
        want = m.group(1)
        hit = next((t for t in snap.tasks if t.task_id.strip().lower() == want), None)
        rest = norm[:m.start()] + " " + norm[m.end():]
        return hit or UpdateProblem(f"找不到任务「{want.upper()}」", f"No task “{want.upper()}”"), rest
    m = MILESTONE_CODE.search(norm)
    if m:
        want = m.group(0).replace(" ", "")
        hit = next((x for x in snap.milestones if x.code.strip().lower() == want), None)
        rest = norm[:m.start()] + " " + norm[m.end():]
        return hit or UpdateProblem(f"找不到里程碑「{want.upper()}」", f"No milestone “{want.upper()}”"), rest
    named = [t for t in snap.tasks if len(t.name.strip()) >= 2 and t.name.strip().lower() in norm]
    if named:
        t = max(named, key=lambda t: len(t.name))
        return t, norm.replace(t.name.strip().lower(), " ", 1)
    return None, norm


def parse_update(norm: str, snap: PlanSnapshot, today: date) -> Update | UpdateProblem:
    """The update in normalised text `norm` (see the module doc), or why it cannot be used."""
    target, rest = _target(norm, snap)
    if target is None:
        return UpdateProblem("没找到要更新的任务或里程碑：请写任务ID（如 T-301）或里程碑编号（如 M3）",
                             "Which task or milestone? Give a task ID (e.g. T-301) or a milestone code (e.g. M3)")
    if isinstance(target, UpdateProblem):
        return target
    table: Literal["task", "milestone"] = "task" if isinstance(target, Task) else "milestone"
    base = {"table": table, "record_id": target.record_id, "label": target.label}
    reason = ""
    rm = _REASON.search(rest)
    body = rest
    if rm:
        reason = rm.group(1).strip()
        body = rest[:rm.start()].strip()
    zh = _POSTPONE_ZH.search(body)
    en = _POSTPONE_EN.search(body)
    if zh or en:
        after = body[zh.end():] if zh else body[en.end():]
        if not zh:
            to = _TO_EN.search(after)
            after = after[to.end():] if to else ""
        new, _ = parse_date(after, today)
        if new is None:
            return UpdateProblem("没看懂新日期：例如「延期到 12-20」「推迟到下周一」「延期到周五」",
                                 "Could not read the new date: e.g. “push T-301 to friday”, “to 2026-12-20”")
        return Update(**base, kind="postpone", new_date=new, reason=reason)  # type: ignore[arg-type]
    pm = _PCT.search(body) or _PROGRESS_WORD.search(body)
    if pm:
        pct = int(pm.group(1))
        if table != "task":
            return UpdateProblem("里程碑没有进度字段（进度按交付物计算）；可以写「M3 完成」或「M3 延期到 12-20」",
                                 "Milestones have no progress field (it comes from deliverables); try “M3 done” "
                                 "or “push M3 to 12-20”")
        if pct > 100:
            return UpdateProblem(f"进度 {pct}% 超过 100%", f"Progress {pct}% is over 100%")
        if pct == 100:
            return Update(**base, kind="done")  # type: ignore[arg-type]
        return Update(**base, kind="progress", pct=pct)  # type: ignore[arg-type]
    if _DONE.search(body):
        return Update(**base, kind="done")  # type: ignore[arg-type]
    return UpdateProblem("没看懂要改什么：例如「T-301 80%」「T-301 完成」「M3 延期到 12-20 因为设计稿」",
                         "What should change? e.g. “T-301 80%”, “T-301 done”, “push M3 to friday”")

"""One catalogue of the words cards use, in Chinese and English: statuses, levels, RAG colours,
section headings, and the phrases with numbers in them (days, working days, items) with English
plurals. Phases and the template's own words (report name, key date) come from the template
(`PlanTemplate.phase_names`, `key_date`).

Views take their words from here (`status_word`, `days_phrase` …) instead of
keeping their own zh/en pairs, so a word reads the same on every card and in both languages.
"""
from __future__ import annotations

from datetime import date
from typing import NamedTuple

from gtm.schemas import tables as T
from gtm.schemas.plan import (
    DependencyStatus,
    EscalationLevel,
    IssueStatus,
    Level3,
    MilestoneStatus,
    RiskStatus,
    TaskStatus,
)


class Word(NamedTuple):
    zh: str
    en: str


RAG = {"green": Word("绿色", "Green"), "yellow": Word("黄色", "Yellow"), "red": Word("红色", "Red")}
LEVELS = {0: Word(EscalationLevel.TEAM.value, EscalationLevel.TEAM.en),
          1: Word(EscalationLevel.PM.value, EscalationLevel.PM.en),
          2: Word(EscalationLevel.MANAGEMENT.value, EscalationLevel.MANAGEMENT.en)}
WEEKDAYS = (Word("周一", "Mon"), Word("周二", "Tue"), Word("周三", "Wed"), Word("周四", "Thu"),
            Word("周五", "Fri"), Word("周六", "Sat"), Word("周日", "Sun"))

HEADINGS: dict[str, Word] = {
    "deliverables": Word("交付物", "Deliverables"),
    "exit_criteria": Word("退出标准", "Exit criteria"),
    "milestone_progress": Word("里程碑进度", "Milestone progress"),
    "heat_map": Word("风险热力图（可能性 × 影响）", "Heat map (likelihood × impact)"),
    "top_risks": Word("主要风险（按评分）", "Top risks (by score)"),
    "risk_blank": Word("可能性/影响未填", "likelihood/impact blank"),
    "done_this_week": Word("✅ 本周完成", "✅ Done this week"),
    "next_week": Word("🎯 下周计划", "🎯 Next week"),
    "risks_issues": Word("⚠️ 风险/问题", "⚠️ Risks / issues"),
    "key_metrics": Word("📈 关键指标", "📈 Key metrics"),
    "support_needed": Word("🙋 需要支持", "🙋 Support needed"),
    "since_last_report": Word("🔄 与上周相比", "🔄 Since last report"),
    "milestone_progress_pct": Word("里程碑进度（交付物完成 %）", "Milestone progress (% deliverables done)"),
    "overdue": Word("🔴 已逾期", "🔴 Overdue"),
    "due_soon": Word("⏰ 即将到期", "⏰ Due soon"),
}


def heading(key: str) -> Word:
    """A card section heading by key (templates: `m.heading("key")`)."""
    return HEADINGS[key]


_STATUS: dict[str, str] = {}
for _enum in (TaskStatus, MilestoneStatus, IssueStatus, DependencyStatus, RiskStatus, Level3, EscalationLevel):
    for _m in _enum:  # type: ignore[attr-defined]
        _STATUS.setdefault(_m.value, _m.en)
_STATUS["待验收"] = "Awaiting sign-off"  # a milestone marked done that its 审批人 has not signed off


def status_word(value: str) -> Word:
    """A status / level option (高, 进行中 …) in both languages; unknown options as typed."""
    return Word(value, _STATUS.get(value, value))


def plural(n: int, one: str, many: str | None = None) -> str:
    """"1 day", "2 days" (English only; Chinese has no plural)."""
    return f"{n} {one if n == 1 else (many or one + 's')}"


def days_phrase(n: int) -> Word:
    """A duration in calendar days: "3 天" / "3 days"."""
    return Word(f"{n} 天", plural(n, "day"))


def working_days_phrase(n: int) -> Word:
    return Word(f"{n} 个工作日", plural(n, "working day"))


def due_phrase(due: date, today: date) -> Word:
    """When something is due, counted in calendar days as every list card counts them (剩 N 天),
    with the weekday: "今天" / "明天（周日）" / "3 天后（周日）"; "today" / "tomorrow (Sun)"."""
    n = (due - today).days
    wd = WEEKDAYS[due.weekday()]
    if n == 0:
        return Word("今天", "today")
    if n == 1:
        return Word(f"明天，{wd.zh}", f"tomorrow, {wd.en}")
    if n > 1:
        return Word(f"{n} 天后，{wd.zh}", f"in {plural(n, 'day')}, {wd.en}")
    return Word(f"已过 {-n} 天", f"{plural(-n, 'day')} ago")


def risk_basis(score: int, likelihood: str, impact: str, level: str, placed: bool) -> Word:
    """What a risk's score rests on, saying what is blank instead of showing an empty "(×)":
    "评分 6 (高×中)"; "评分 9 · 等级 高" (a typed 风险等级); "评分 9 · 可能性/影响未填" (a stored score);
    "未评分 · 可能性/影响未填"; "评分 4 · 可能性 高 · 影响未填". Options are read in both languages."""
    lk, im, lv = status_word(likelihood), status_word(impact), status_word(level)
    if placed:
        return Word(f"评分 {score} ({lk.zh}×{im.zh})", f"score {score} ({lk.en}×{im.en})")
    zh, en = ([f"评分 {score}"], [f"score {score}"]) if score else (["未评分"], ["not scored"])
    if level:
        zh.append(f"等级 {lv.zh}")
        en.append(f"level {lv.en}")
    if not likelihood and not impact:
        if not level:
            zh.append(HEADINGS["risk_blank"].zh)
            en.append(HEADINGS["risk_blank"].en)
    else:
        risk = T.table("risk")
        for value, w, f in ((likelihood, lk, risk.field("likelihood")), (impact, im, risk.field("impact"))):
            zh.append(f"{f.name} {w.zh}" if value else f"{f.name}未填")
            en.append(f"{f.en.lower()} {w.en}" if value else f"{f.en.lower()} blank")
    return Word(" · ".join(zh), " · ".join(en))


def risks_off_map_phrase(n: int) -> Word:
    """Under the heat map: the open risks it cannot place (可能性 or 影响 blank or not 高/中/低)."""
    return Word(f"另有 {n} 项未填可能性/影响，未计入热力图",
                f"{plural(n, 'more risk')} without likelihood/impact, not on the map")


def risks_by_level_phrase(n: int) -> Word:
    """Under the heat map: risks placed by their typed 风险等级 (taken as both likelihood and impact)."""
    return Word(f"其中 {n} 项按风险等级计入（可能性 = 影响 = 等级）",
                f"{plural(n, 'risk')} placed by risk level (likelihood = impact = level)")


def not_found_phrase(codes: list[str], close: bool) -> Word:
    """A lookup by id that matched nothing: 找不到「T-999」, the closest ids (listed after it) or how
    to list tasks."""
    zh, en = "、".join(f"「{c}」" for c in codes), ", ".join(f"“{c}”" for c in codes)
    if close:
        return Word(f"找不到{zh}。相近的编号：", f"No {en} in this plan. Closest ids:")
    return Word(f"找不到{zh}。发送「我的任务」「本周」或「逾期」查看任务。",
                f"No {en} in this plan. Ask “my tasks”, “this week” or “overdue” to list tasks.")


def overdue_phrase(n: int) -> Word:
    """How late an open item is: "逾期 3 天" / "3 days overdue"."""
    return Word(f"逾期 {n} 天", f"{plural(n, 'day')} overdue")


FORECAST_FROM_TODAY = Word("逾期或阻塞的任务按今天起的剩余工作量预计；里程碑预计不早于目标日期",
                           "Overdue and blocked tasks are forecast from today with their remaining work; "
                           "a milestone is never forecast before its target")

"""The chat-update grammar (pure): every phrasing family in Chinese and English, relative dates."""
from __future__ import annotations

from datetime import date

import pytest

from gtm.bot.chat.parse import normalise, parse
from gtm.bot.chat.update_parse import Update, UpdateProblem, is_update, parse_update, parse_date
from gtm.schemas.plan import Milestone, PlanSnapshot, Task

SNAP = PlanSnapshot(tasks=[Task(record_id="r301", task_id="T-301", name="渠道培训")],
                    milestones=[Milestone(record_id="m3", code="M3", name="发布准备就绪")])
WED = date(2026, 12, 2)


def up(text: str):
    return parse_update(normalise(text), SNAP, WED)


@pytest.mark.parametrize("text, kind, extra", [
    ("T-301 80%", "progress", {"pct": 80}),
    ("进度 T-301 80", "progress", {"pct": 80}),
    ("T-301 进度 60", "progress", {"pct": 60}),
    ("progress T-301 45", "progress", {"pct": 45}),
    ("T-301 100%", "done", {}),
    ("T-301 完成", "done", {}),
    ("T-301 已完成", "done", {}),
    ("T-301 done", "done", {}),
    ("finished T-301", "done", {}),
    ("M3 延期到 12-20 因为设计稿", "postpone", {"new_date": date(2026, 12, 20), "reason": "设计稿"}),
    ("T-301 推迟到下周一", "postpone", {"new_date": date(2026, 12, 7)}),
    ("T-301 延期到周五", "postpone", {"new_date": date(2026, 12, 4)}),
    ("T-301 改到明天", "postpone", {"new_date": date(2026, 12, 3)}),
    ("T-301 延期到2027年1月5日", "postpone", {"new_date": date(2027, 1, 5)}),
    ("push T-301 to Friday", "postpone", {"new_date": date(2026, 12, 4)}),
    ("move M3 to 2026-12-20 because design is late", "postpone",
     {"new_date": date(2026, 12, 20), "reason": "design is late"}),
    ("delay T-301 to next monday", "postpone", {"new_date": date(2026, 12, 7)}),
    ("push T-301 to tomorrow", "postpone", {"new_date": date(2026, 12, 3)}),
])
def test_phrasings(text, kind, extra):
    got = up(text)
    assert isinstance(got, Update), got
    assert got.kind == kind
    for k, v in extra.items():
        assert getattr(got, k) == v
    assert parse(text).name == "update"


@pytest.mark.parametrize("text", ["T-301 什么情况", "M3 完成了吗", "M3", "T-301", "M3 进度怎么样", "how is T-301 going",
                                  "状态", "逾期"])
def test_questions_are_not_updates(text):
    assert not is_update(normalise(text))
    assert parse(text).name != "update"


def test_problems_are_named():
    assert isinstance(up("T-999 完成"), UpdateProblem) and "T-999" in up("T-999 完成").text
    assert "里程碑没有进度字段" in up("M3 80% 周五").text
    assert "没看懂新日期" in up("T-301 延期到 下下下周").text
    assert "超过 100%" in up("T-301 180%").text


def test_month_day_without_year_is_the_next_one():
    assert parse_date("1-5", WED)[0] == date(2027, 1, 5)
    assert parse_date("12月3日", WED)[0] == date(2026, 12, 3)
    assert parse_date("2月30日", WED)[0] is None
    assert parse_date("本周五", WED)[0] == date(2026, 12, 4)
    assert parse_date("周三", WED)[0] == date(2026, 12, 9)  # today is Wednesday: the next one

"""The @mention parser: zh/en, full-width, typos, @ placeholders."""
from __future__ import annotations

import pytest

from gtm.bot.commands import parse

CASES = [
    ("状态", "status", ""),
    ("@_user_1 状态", "status", ""),
    ("@_user_1  status ", "status", ""),
    ("STATUS", "status", ""),
    ("状态 星河 GTM", "status", "星河 gtm"),
    ("status xinghe", "status", "xinghe"),
    ("ｓｔａｔｕｓ？", "status", ""),
    ("　状态！", "status", ""),
    ("M3", "milestone", "M3"),
    ("ｍ３", "milestone", "M3"),
    ("@_user_2 m 3", "milestone", "M3"),
    ("里程碑 M5", "milestone", "M5"),
    ("milestone m12", "milestone", "M12"),
    ("我的任务", "my_tasks", ""),
    ("my tasks", "my_tasks", ""),
    ("My Tasks.", "my_tasks", ""),
    ("逾期", "overdue", ""),
    ("overdue", "overdue", ""),
    ("本周", "this_week", ""),
    ("this week", "this_week", ""),
    ("风险", "risks", ""),
    ("risks", "risks", ""),
    ("依赖", "dependencies", ""),
    ("dependencies", "dependencies", ""),
    ("问题", "issues", ""),
    ("issues", "issues", ""),
    ("周报", "report", ""),
    ("weekly report", "report", ""),
    ("数据问题", "data_problems", ""),
    ("data problems", "data_problems", ""),
    ("全部项目", "portfolio", ""),
    ("portfolio", "portfolio", ""),
    ("帮助", "help", ""),
    ("help", "help", ""),
    ("？", "help", ""),
    ("", "help", ""),
    ("@_user_1", "help", ""),
]


@pytest.mark.parametrize("text,name,arg", CASES)
def test_parse_table(text, name, arg):
    cmd = parse(text)
    assert (cmd.name, cmd.arg) == (name, arg), text


@pytest.mark.parametrize("text,suggestion", [
    ("staus", "状态 / status"),
    ("reprot", "周报 / report"),
    ("overdu", "逾期 / overdue"),
    ("portfolo", "全部项目 / portfolio"),
    ("依懒", "依赖 / dependencies"),
])
def test_typos_are_unknown_with_suggestions(text, suggestion):
    cmd = parse(text)
    assert cmd.name == "unknown"
    assert suggestion in cmd.suggestions


def test_prefix_words_do_not_match_inside_other_words():
    assert parse("statusquo").name == "unknown"
    assert parse("hello").name == "unknown"
    assert parse("数据问题").name == "data_problems"  # not 问题


def test_milestone_by_name_when_names_are_known():
    cmd = parse("发布准备就绪", milestones=["M3 发布准备就绪", "M4 软发布"])
    assert cmd.name == "milestone" and cmd.arg == "M3 发布准备就绪"
    assert parse("发布准备就绪").name == "unknown"

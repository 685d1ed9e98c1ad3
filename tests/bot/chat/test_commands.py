"""The @mention parser: zh/en, full-width, typos, @ placeholders."""
from __future__ import annotations

import pytest

from gtm.bot.chat.parse import parse

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


# ---- the forgiving router ----------------------------------------------------------------------
@pytest.mark.parametrize("text,name,arg,when", [
    ("M3进度怎么样", "milestone", "M3", ""),
    ("@_user_1 how is m3 going?", "milestone", "M3", ""),
    ("我有哪些任务", "my_tasks", "", ""),
    ("我有哪些任务？", "my_tasks", "", ""),
    ("本周周报", "report", "", ""),
    ("这周周报发一下", "report", "", ""),
    ("what's overdue?", "overdue", "", ""),
    ("哪些任务晚了", "overdue", "", ""),
    ("下周有什么到期", "this_week", "", "next_week"),
    ("what is due next week", "this_week", "", "next_week"),
    ("本周有什么到期", "this_week", "", "this_week"),
    ("T-301 什么情况", "task", "T-301", ""),
])
def test_questions_people_actually_ask(text, name, arg, when):
    cmd = parse(text)
    assert (cmd.name, cmd.arg) == (name, arg), text
    if name == "this_week":
        assert cmd.when == when


def test_task_id_anywhere_in_the_sentence():
    cmd = parse("帮我看下 t-301")
    assert cmd.name == "task" and cmd.codes == ["T-301"]


@pytest.mark.parametrize("text, name, arg, codes", [
    # the sales template: milestones S1…S5, tasks S1-01
    ("S1-01", "task", "S1-01", ["S1-01"]),
    ("s1-01 什么情况", "task", "S1-01", ["S1-01"]),
    ("S1-01 80%", "update", "", ["S1-01"]),
    ("S1 项目启动完成进度怎么样", "milestone", "S1", []),
    # the campaign template: milestones MS1, MS2, tasks M001 and P001 (no dash)
    ("MS1进度怎么样", "milestone", "MS1", []),
    ("ms2", "milestone", "MS2", []),
    ("MS2 延期到 12-20 因为设计稿", "update", "", []),
    ("M001 什么情况", "task", "M001", ["M001"]),
    ("P001", "task", "P001", ["P001"]),
    # the gtm template still reads as before
    ("M3进度怎么样", "milestone", "M3", []),
    ("T-301 80%", "update", "", ["T-301"]),
])
def test_every_templates_ids_and_codes_are_understood(text, name, arg, codes):
    cmd = parse(text)
    assert (cmd.name, cmd.arg, cmd.codes) == (name, arg, codes), text


PROJECTS = ["营销活动执行进度", "销售项目管理", "Launch X"]


@pytest.mark.parametrize("text, name, project", [
    ("状态 营销活动执行进度", "status", "营销活动执行进度"),  # the bot's own "状态 项目名" example, with a name holding 进度
    ("逾期 营销活动执行进度", "overdue", "营销活动执行进度"),
    ("风险 营销活动执行进度", "risks", "营销活动执行进度"),
    ("营销活动执行进度 逾期", "overdue", "营销活动执行进度"),
    ("销售项目管理 状态", "status", "销售项目管理"),
    ("营销活动执行进度", "status", "营销活动执行进度"),
    ("risks launch x", "risks", "Launch X"),
    ("逾期", "overdue", ""),
])
def test_a_project_named_anywhere_is_taken_out_before_the_words_are_read(text, name, project):
    cmd = parse(text, projects=PROJECTS)
    assert (cmd.name, cmd.project) == (name, project), text
    assert cmd.original == text


def test_milestone_names_match_approximately():
    labels = ["M3 发布准备就绪", "M4 软发布"]
    assert parse("M3 发布准备", labels).arg == "M3"
    cmd = parse("发布准备", labels)
    assert cmd.name == "milestone" and cmd.arg == "M3 发布准备就绪"
    assert parse("软发布", labels).arg == "M4 软发布"


def test_original_text_is_kept_as_typed_and_unknown_offers_three_intents():
    cmd = parse("@_user_1 Show me the FOO Dashboard")
    assert cmd.name == "unknown"
    assert cmd.original == "Show me the FOO Dashboard"  # not lower-cased
    assert len(cmd.suggested) == 3 and "help" not in cmd.suggested


def test_one_new_command_is_one_registry_entry():
    from gtm.bot.chat.intents import Intent, register, registry
    from gtm.bot.cards.views import MessageView

    def hello(cmd, ctx):
        return "message", MessageView(title="你好", text=cmd.original)

    try:
        register(Intent("hello_test", "打招呼", "say hello", "打个招呼", "Say hello", hello,
                        synonyms=("你好呀",)))
        cmd = parse("你好呀 机器人")
        assert cmd.name == "hello_test"
        assert registry()["hello_test"].handler(cmd, None)[1].text == "你好呀 机器人"
    finally:
        registry().pop("hello_test", None)

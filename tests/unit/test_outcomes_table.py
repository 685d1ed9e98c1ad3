"""The terminal table of what a run sent reads as words: rule names, people's names, results."""
from __future__ import annotations

from rich.cells import cell_len
from rich.console import Console

from gtm.bot.checks.notify import SendOutcome
from gtm.bot.cli.outcomes import outcomes_table, recipient_name, rule_name
from gtm.schemas.plan import Person


def _text(table, width: int = 200) -> str:
    console = Console(width=width, record=True, color_system=None)
    console.print(table)
    return console.export_text()


def test_rules_are_named_in_the_readers_language_and_unknown_ones_kept():
    assert rule_name("escalation") == "问题升级" and rule_name("escalation", "en") == "escalation"
    assert rule_name("digest:due_soon+overdue") == "汇总（即将到期、逾期）"
    assert rule_name("digest:due_soon+overdue", "en") == "digest (due soon, overdue)"
    assert rule_name("report") == "周报" and rule_name("something_new") == "something_new"


def test_people_by_name_a_person_who_left_marked_and_a_chat_kept():
    people = {"ou_a": Person(open_id="ou_a", name="王芳"), "ou_gone1234": Person(open_id="ou_gone1234")}
    assert recipient_name("ou_a", people) == "王芳"
    assert recipient_name("ou_gone1234", people) == "离职/未知成员…1234"
    assert recipient_name("oc_group", people) == "oc_group"


def test_the_result_says_why_only_when_the_status_does_not():
    outcomes = [SendOutcome("escalation", "[red]合同[/red] 条款", "ou_a", "single", "sent", "已发送 / sent"),
                SendOutcome("digest:overdue", "2 条 / items", "ou_b", "digest", "skipped", "已发送过 / already sent"),
                SendOutcome("gate", "M2", "ou_a", "single", "queued", "静默时段，11-09 08:30 发送 / quiet hours")]
    people = {"ou_a": Person(open_id="ou_a", name="王芳"), "ou_b": Person(open_id="ou_b", name="刘洋")}
    text = _text(outcomes_table(outcomes, "通知 / notices", people=people))
    lines = [line for line in text.splitlines() if line.startswith("│")]
    assert [c.strip() for c in lines[0].strip("│").split("│")] == ["问题升级", "[red]合同[/red] 条款", "王芳", "已发送"]
    assert "未发送 已发送过 / already sent" in lines[1] and "刘洋" in lines[1]
    assert "已排队 静默时段，11-09 08:30 发送" in lines[2]
    assert "ou_a" not in text
    en = _text(outcomes_table(outcomes, "notices", people=people, lang="en"))
    assert "escalation" in en and "digest (overdue)" in en and "milestone gate" in en and "queued" in en


def test_the_table_fits_a_terminal_of_80_columns():
    outcomes = [SendOutcome("digest:due_soon+overdue", "渠道合作伙伴协议价格条款未谈妥", "ou_a", "digest", "sent",
                            "已发送 / sent")]
    text = _text(outcomes_table(outcomes, "通知 / notices", people={"ou_a": Person(open_id="ou_a", name="王芳")}), 80)
    assert max(cell_len(line) for line in text.splitlines()) <= 80 and "王芳" in text

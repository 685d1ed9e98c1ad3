"""A card's table in the terminal: aligned when it fits, one readable line per row when not."""
from __future__ import annotations

from gtm.bot.cards.terminal import card_to_text

CARD = {"schema": "2.0", "body": {"elements": [{"tag": "table", "columns": [
    {"name": "m", "display_name": "里程碑", "data_type": "text"},
    {"name": "target", "display_name": "目标日期", "data_type": "text"},
    {"name": "actual", "display_name": "实际日期", "data_type": "text"},
    {"name": "status", "display_name": "状态", "data_type": "text"},
    {"name": "base", "display_name": "基线", "data_type": "text"}],
    "rows": [{"m": "M1 市场调研完成", "target": "2026-11-15", "actual": "2026-11-15", "status": "完成", "base": "—"},
             {"m": "M3 发布准备就绪", "target": "2026-12-20", "actual": "—", "status": "未开始", "base": ""}]}]}}


def test_a_table_that_fits_is_aligned_in_columns():
    lines = card_to_text(CARD, width=100).splitlines()
    assert lines[0].split() == ["里程碑", "目标日期", "实际日期", "状态", "基线"] and set(lines[1]) <= {"-", " "}
    assert lines[3].split() == ["M3", "发布准备就绪", "2026-12-20", "—", "未开始"]


def test_a_table_wider_than_the_terminal_becomes_one_line_per_row_without_empty_cells():
    lines = card_to_text(CARD, width=50).splitlines()
    assert lines == ["M1 市场调研完成：目标日期 2026-11-15 · 实际日期 2026-11-15 · 状态 完成",
                     "M3 发布准备就绪：目标日期 2026-12-20 · 状态 未开始"]
    english = {"schema": "2.0", "body": {"elements": [{**CARD["body"]["elements"][0], "columns": [
        {**c, "display_name": en} for c, en in zip(CARD["body"]["elements"][0]["columns"],
                                                    ("Milestone", "Target", "Actual", "Status", "Baseline"))]}]}}
    assert card_to_text(english, width=50).splitlines()[1] == "M3 发布准备就绪: Target 2026-12-20 · Status 未开始"


def test_peoples_markup_escaped_for_the_card_reads_as_typed_in_the_terminal():
    from gtm.bot.chat.answers import AskContext, answer
    from gtm.bot.chat.parse import parse
    from gtm.schemas.settings import Policy
    from tests.support.snapshots import ALICE, NOW, build_snapshot

    typed = "<at id=all></at> [link](javascript:x) [red]x[/red] & 好"
    ctx = AskContext(project_name="星河", project_slug="x", snapshot=build_snapshot(), now=NOW, policy=Policy(),
                     asker=ALICE.open_id, chat_id="oc_1")
    card = answer(parse(typed), ctx)
    assert "&#60;at id=all&#62;" in str(card)  # in the card, people's markup stays inert
    assert f"没听懂「{typed}」" in card_to_text(card)  # the terminal shows it as typed

"""Answers and notice cards on a realistic snapshot: content, validity, golden files, hostile text.

Golden files: tests/bot/cards/golden/<name>.json; regenerate with GTM_UPDATE_GOLDEN=1.
"""
from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path

import pytest

from gtm.bot.cards.button_values import ActionError, Postpone, Progress, Snooze, TaskDone, parse_action
from gtm.bot.cards.factory import NoticeCards, after_action
from gtm.bot.cards.render import (
    MAX_CARD_BYTES,
    Clip,
    card_bytes,
    check_card,
    md_escape,
    render,
    template_names,
    walk_elements,
)
from gtm.bot.chat.parse import parse
from gtm.bot.chat.answers import AskContext, answer, view_for
from gtm.bot.chat.context import ProjectData
from gtm.bot.cards import views as V
from tests.support.snapshots import ALICE, BOB, NOW, build_snapshot


GOLDEN = Path(__file__).parent / "golden"

try:  # the sandbox's Feishu card validator, when present
    from gtm.sandbox.cards import validate_card as sandbox_validate
except ImportError:  # pragma: no cover
    sandbox_validate = None


def valid(card: dict) -> dict:
    check_card(card)
    assert card_bytes(card) <= MAX_CARD_BYTES
    if sandbox_validate is not None:
        sandbox_validate(card)
    return card


def texts(card) -> list[str]:
    out = []
    if isinstance(card, dict):
        for v in card.values():
            out += texts(v)
    elif isinstance(card, list):
        for v in card:
            out += texts(v)
    elif isinstance(card, str):
        out.append(card)
    return out


def all_text(card) -> str:
    return "\n".join(texts(card))


# Full-width punctuation belongs to Chinese text; an English card may show it only inside people's data.
CJK_PUNCT = "，。：；！？（）【】、「」『』《》〈〉～"
_BRACKETED = re.compile(r"[（(]([^（）()\n]+)[）)]")


def _strings(value) -> list[str]:
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, (list, tuple)):
        return [s for v in value for s in _strings(v)]
    return [value] if isinstance(value, str) else []


def data_strings(snapshot) -> list[str]:
    """Every text a person typed into the plan (names, descriptions, notes), longest first."""
    found = {s for s in _strings(snapshot.model_dump()) if any(c in CJK_PUNCT for c in s)}
    return sorted(found, key=len, reverse=True)


def _shown_in(card, locale: str) -> list[str]:
    """The strings a reader in `locale` sees: a bilingual card's other-language variants left out."""
    other = "zh_cn" if locale == "en" else "en_us"
    if isinstance(card, dict):
        return [s for k, v in card.items() if k != other for s in _shown_in(v, locale)]
    if isinstance(card, list):
        return [s for v in card for s in _shown_in(v, locale)]
    return [card] if isinstance(card, str) else []


def card_text_problems(card: dict, locale: str, data: list[str]) -> list[str]:
    """Template text that is wrong for the card's language, and labels repeated in brackets."""
    problems = []
    for text in _shown_in(card, locale):
        for line in text.splitlines():
            for m in _BRACKETED.finditer(line):
                parts = [x.strip() for x in re.split(r"、|, ", m.group(1))]
                if all(len(x) >= 2 and any(c.isalpha() for c in x) and x in line[:m.start()]
                       for x in parts):
                    problems.append(f"label repeated in brackets: {line!r}")
            if locale == "en":
                bare = line
                for d in data:
                    bare = bare.replace(d, "<data>")
                if any(c in CJK_PUNCT for c in bare):
                    problems.append(f"Chinese punctuation in an English card: {line!r}")
    return problems


_DATA: list[str] = []


def golden(name: str, card: dict) -> None:
    path = GOLDEN / f"{name}.json"
    text = json.dumps(card, ensure_ascii=False, indent=1, sort_keys=True) + "\n"
    if not _DATA:
        _DATA.extend(data_strings(build_snapshot()))
    problems = card_text_problems(card, "en" if name.endswith("_en") else "zh", _DATA)
    assert not problems, f"{name}: " + "; ".join(problems)
    if os.environ.get("GTM_UPDATE_GOLDEN") == "1":
        if os.environ.get("CI"):
            pytest.fail("GTM_UPDATE_GOLDEN=1 is refused when CI is set: regenerate the golden files "
                        "locally, review the diff and commit them")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    assert path.exists(), f"missing golden {path.name}: run with GTM_UPDATE_GOLDEN=1"
    assert text == path.read_text(encoding="utf-8"), f"{path.name} changed (GTM_UPDATE_GOLDEN=1 to accept)"


@pytest.fixture
def ctx(snapshot, check, policy):
    return AskContext(project_name="星河 GTM 发布", project_slug="xinghe", snapshot=snapshot, check=check,
                      now=NOW, policy=policy, asker=ALICE.open_id, chat_id="oc_group0001")


COMMANDS = ["状态", "M3", "我的任务", "逾期", "本周", "风险", "依赖", "问题", "周报", "数据问题", "全部项目",
            "帮助", "staus", "关键路径", "T-008 完成", "负载"]


@pytest.mark.parametrize("text", COMMANDS)
@pytest.mark.parametrize("locale", ["zh", "en"])
def test_every_answer_is_a_valid_card_and_matches_golden(ctx, text, locale):
    ctx.locale = locale
    card = valid(answer(parse(text), ctx))
    name = parse(text).name
    golden(f"answer_{name}_{locale}", card)


def test_status_shows_red_with_reasons_and_milestones(ctx):
    card = answer(parse("状态"), ctx)
    assert card["header"]["template"] == "red"
    body = all_text(card["body"])
    assert "产品延期" in body and "预算超支" in body
    assert "M3 发布准备就绪" in body and "50%" in body  # 3 of 6 deliverables done
    assert "逾期 **2**" in body and "阻塞 **1**" in body


def test_milestone_detail(ctx):
    card = answer(parse("m3"), ctx)
    body = all_text(card["body"])
    assert card["header"]["title"]["content"] == "M3 发布准备就绪"
    for d in ("网站更新", "销售材料", "支持文档"):
        assert d in body
    assert "✅ **网站更新**" in body and "⬜ **支持文档**" in body
    assert "目标日期：2026-11-23" in body
    name, view = view_for(parse("M99"), ctx)
    assert name == "message" and "M3 发布准备就绪" in view.choices


def test_my_tasks_are_the_askers_open_items_by_due_date(ctx):
    name, view = view_for(parse("我的任务"), ctx)
    rows = [r for g in view.groups for r in g.rows]
    assert rows and all(r.owner_id == ALICE.open_id for r in rows)
    assert [r.code for r in rows if r.table == "task"] == ["T-004", "T-007", "T-008"]
    dues = [r.due for r in rows if r.due]
    assert dues == sorted(dues)
    assert any(r.table == "issue" and r.name == "官网域名备案未通过" for r in rows)


def test_my_tasks_grouped_by_project_in_p2p(snapshot, check, policy):
    other = build_snapshot(name="海外市场进入")
    ctx = AskContext(now=NOW, policy=policy, asker=BOB.open_id, chat_type="p2p",
                     projects=[ProjectData("星河", snapshot, check, "xinghe"), ProjectData("海外", other, None, "haiwai")])
    name, view = view_for(parse("my tasks"), ctx)
    assert [g.project for g in view.groups] == ["星河", "海外"]
    card = valid(answer(parse("my tasks"), ctx))
    assert "📁 星河" in all_text(card)
    # status needs a project name in p2p with several projects
    name, view = view_for(parse("状态"), ctx)
    assert name == "message" and view.choices == ["星河", "海外"]
    name, view = view_for(parse("状态 海外"), ctx)
    assert name == "status" and view.project_name == "海外"


def test_overdue_and_this_week(ctx):
    _, view = view_for(parse("逾期"), ctx)
    rows = [r for g in view.groups for r in g.rows]
    assert [(r.code, r.days_overdue) for r in rows] == [("T-004", 3), ("T-005", 1)]
    _, week = view_for(parse("本周"), ctx)
    codes = {r.code or r.name for g in week.groups for r in g.rows}
    assert {"T-006", "T-007", "T-008", "M3"} <= codes and "T-004" not in codes


def test_risks_heat_map_and_order(ctx):
    card = answer(parse("风险"), ctx)
    table = next(e for e in card["body"]["elements"] if e["tag"] == "table")
    high_row = table["rows"][0]
    assert high_row["l"] == "高" and high_row["i3"] == [{"text": "1", "color": "red"}]
    _, view = view_for(parse("风险"), ctx)
    assert [r.risk for r in view.top] == ["产品延期", "竞品动作", "人员变动"]  # closed one left out


def test_dependencies_and_issues(ctx):
    _, deps = view_for(parse("依赖"), ctx)
    assert deps.rows.items[0].item == "法务合规审批" and deps.rows.items[0].at_risk and deps.pending == 1
    _, issues = view_for(parse("问题"), ctx)
    assert [(r.issue, r.level.zh, r.age_days) for r in issues.rows] == [
        ("官网域名备案未通过", "管理层", 8), ("支付渠道对接卡住", "项目经理", 4)]


def test_unknown_gives_help_with_suggestions(ctx):
    card = answer(parse("staus"), ctx)
    body = all_text(card["body"])
    assert "没听懂「staus」" in body and "状态" in body
    buttons = [el for el, _, _ in walk_elements(card["body"]["elements"]) if el.get("tag") == "button"]
    assert len(buttons) == 3 and buttons[0]["text"]["content"] == "状态"
    assert buttons[0]["behaviors"][0]["value"] == {"a": "ask", "q": "状态"}


def test_not_linked_group(policy):
    ctx = AskContext(now=NOW, policy=policy, asker=ALICE.open_id, chat_id="oc_x", chat_type="group")
    card = valid(answer(parse("状态"), ctx))
    assert "gtm init --project" in all_text(card) and card["header"]["template"] == "grey"
    golden("not_linked", card)


# ---- notice cards and clicks -------------------------------------------------------------
def test_digest_has_buttons_per_item_and_valid_values(check):
    cards = NoticeCards()
    notices = [n for n in check.notices if n.kind in ("overdue", "due_soon")]
    card = valid(cards.digest("星河", ALICE.open_id, notices, "zh", project_slug="xinghe"))
    golden("notice_digest_zh", card)
    values = [b["value"] for t in _walk(card) for b in t.get("behaviors", [])]
    done = [v for v in values if v["a"] == "task_done"]
    assert {"p": "xinghe", "t": "task", "r": "recT04", "a": "task_done"} in done
    assert isinstance(parse_action(done[0]), TaskDone)
    pp = next(v for v in values if v["a"] == "postpone" and v["r"] == "recT04")
    act = parse_action(pp, {f"d{pp['f']}": "2026-12-01 +0800", f"why{pp['f']}": "等法务"})
    assert isinstance(act, Postpone) and str(act.new_date) == "2026-12-01" and act.reason == "等法务"
    pr = next(v for v in values if v["a"] == "progress" and v["r"] == "recT04")
    assert parse_action(pr, {f"p{pr['f']}": "80%"}).pct == 80
    # the item is updated in place; the other items keep their buttons
    after = valid(after_action(card, parse_action(done[0]), who="Alice"))
    assert "✅ 已完成 · Alice" in all_text(after)
    left = {b["value"]["r"] for t in _walk(after) for b in t.get("behaviors", [])}
    assert done[0]["r"] not in left and left
    # a second click on the updated card (the record has no buttons left) changes nothing
    assert after_action(after, parse_action(done[0]), who="Alice") == after


def test_escalation_budget_gate_cards(check):
    cards = NoticeCards({"星河": "xinghe"})
    esc = next(n for n in check.notices if n.kind == "escalation" and n.level == 2)
    card = valid(cards.single("星河", esc, "zh"))
    golden("notice_escalation_zh", card)
    assert card["header"]["template"] == "red"
    acts = [parse_action(b["value"]) for t in _walk(card) for b in t.get("behaviors", [])]
    assert [a.a for a in acts] == ["ack", "snooze", "snooze", "resolve"]
    assert all(a.p == "xinghe" for a in acts) and isinstance(acts[1], Snooze) and acts[1].h == 4
    acked = valid(after_action(card, acts[0], who="李总", when=NOW))
    assert "已确认" in all_text(acked) and not any(t.get("behaviors") for t in _walk(acked))
    assert acked["header"]["template"] == "green"
    budget = next(n for n in check.notices if n.kind == "budget")
    bcard = valid(cards.single("星河", budget, "en"))
    golden("notice_budget_en", bcard)
    assert "change request" in all_text(bcard)


def test_golden_update_is_refused_in_ci(monkeypatch, tmp_path):
    monkeypatch.setattr(sys.modules[__name__], "GOLDEN", tmp_path)
    monkeypatch.setenv("GTM_UPDATE_GOLDEN", "1")
    monkeypatch.setenv("CI", "1")
    card = {"body": {"elements": [{"tag": "markdown", "content": "ok"}]}}
    with pytest.raises(pytest.fail.Exception, match="refused when CI is set"):
        golden("probe_zh", card)
    assert not (tmp_path / "probe_zh.json").exists()
    monkeypatch.delenv("CI")
    golden("probe_zh", card)  # a developer's machine may regenerate
    assert (tmp_path / "probe_zh.json").exists()


def test_card_text_check_finds_repeated_labels_and_chinese_punctuation_in_english():
    data = data_strings(build_snapshot())
    assert "产品页、定价页上线" in data  # a deliverable's standard as typed: data, not template text

    def card(text: str) -> dict:
        return {"body": {"elements": [{"tag": "markdown", "content": text}]}}

    assert card_text_problems(card("🔴 High risks (score ≥ 6): 产品延期 (9)（产品延期）"), "en", data)
    assert card_text_problems(card("高风险（评分≥6）：产品延期（9）（产品延期）"), "zh", data)
    assert card_text_problems(card("Tasks overdue: T-1 甲 (3 d late), T-2 乙（T-1 甲、T-2 乙）"), "en", data)
    assert card_text_problems(card("Next milestone: M3 发布准备就绪（2026-11-23）"), "en", data)
    assert card_text_problems(card("Blocked: T-006 销售培训 (Bob)：培训讲师未确定"), "en", data)
    assert not card_text_problems(card("Next milestone: M3 发布准备就绪 (2026-11-23)"), "en", data)
    assert not card_text_problems(card("✅ **网站更新** · Done · due 2026-11-23 · 产品页、定价页上线"), "en", data)
    assert not card_text_problems(card("下一个里程碑：M3 发布准备就绪（2026-11-23）"), "zh", data)
    assert not card_text_problems(card("Budget 100,000, spent 112,000 (over 12%)"), "en", data)


def test_alert_kinds_render():
    from gtm.schemas.decisions import Notice, RecordRef

    cards = NoticeCards()
    for kind in ("gate", "delivery_failed", "system", "data_problem", "slip", "signoff", "informed"):
        n = Notice(kind=kind, key=f"{kind}:x", recipients=["ou_pm000000001"], title=f"{kind} title",
                   text="正文", record=RecordRef(table="milestone", record_id="recM3", label="M3"),
                   data={"error": "230013 user not in availability", "recipient": "ou_x"})
        card = valid(cards.single("星河", n, "zh"))
        golden(f"notice_{kind}_zh", card)


def test_parse_action_errors_name_the_key():
    with pytest.raises(ActionError, match="'a'"):
        parse_action({"p": "x"})
    with pytest.raises(ActionError, match="d0"):
        parse_action(Postpone(p="x", t="task", r="r1", f="0").value(), {})
    with pytest.raises(ActionError, match="t"):
        parse_action({"a": "task_done", "p": "x", "t": "nope", "r": "r1"})
    with pytest.raises(ActionError, match="p0"):
        parse_action(Progress(p="x", t="task", r="r1", f="0").value(), {"p0": "lots"})
    with pytest.raises(ActionError):
        parse_action(Progress(p="x", t="task", r="r1", f="0").value(), {"p0": "150"})


def _walk(card):
    stack = list(card["body"]["elements"])
    while stack:
        el = stack.pop(0)
        if isinstance(el, dict):
            yield el
            for key in ("elements", "columns"):
                if isinstance(el.get(key), list):
                    stack = list(el[key]) + stack


# ---- the renderer itself -----------------------------------------------------------------
def test_renderer_refuses_unescaped_output(tmp_path, monkeypatch):
    import jinja2

    from gtm.bot.cards import render as R

    env = R.environment()
    tpl = env.from_string('{"x": {{ v.title }}}')
    with pytest.raises(jinja2.TemplateError, match="not JSON-escaped"):
        tpl.render(v=V.MessageView(title="a", text="b"))


def test_long_lists_are_cut_with_and_n_more():
    rows = [V.ProblemRow(text=f"问题 {i} " + "很长的说明" * 40) for i in range(2000)]
    view = V.DataProblemView(project_name="P", rows=Clip(items=rows))
    for locale, word in (("zh", "还有"), ("en", "more")):
        card = render("data_problems", view, locale)
        assert card_bytes(card) <= 28 * 1024
        assert word in all_text(card)
    assert len(view.rows.items) == 2000  # the caller's view is not modified


HOSTILE = ['"quoted" \'single\'', "{{ v.title }} {% if %}", "}}{{", "line1\nline2\r\n\tTab",
           "back\\slash \\\" \\n", "emoji 🚀🔥👍🏽 ‮rtl", "<at id=all></at>", "<at user_id=\"all\"></at>",
           "**bold** _it_ ~~s~~ `code` [link](http://x) # h", "名" * 10_000]


def hostile_snapshot(text: str):
    snap = build_snapshot()
    snap.project.name = text
    snap.project.rag_reason = text
    for rows, attr in ((snap.tasks, "name"), (snap.milestones, "name"), (snap.deliverables, "name"),
                       (snap.deliverables, "standard"), (snap.exit_criteria, "criterion"), (snap.risks, "risk"),
                       (snap.risks, "mitigation"), (snap.dependencies, "item"), (snap.dependencies, "party"),
                       (snap.issues, "issue"), (snap.metrics, "metric"), (snap.metrics, "current"),
                       (snap.tasks, "risk_note")):
        for row in rows:
            setattr(row, attr, text)
    for m in snap.milestones:
        m.code = text[:30]
    return snap


@pytest.mark.parametrize("text", HOSTILE, ids=range(len(HOSTILE)))
def test_hostile_text_through_every_template(text, policy):
    from gtm.bot.rules.engine import run_checks
    from gtm.schemas.plan import Person

    snap = hostile_snapshot(text)
    snap.project.pm = Person(open_id=snap.project.pm.open_id, name=text)  # new objects: the people are shared
    snap.project.management = [Person(open_id=p.open_id, name=text) for p in snap.project.management]
    for row in snap.tasks[:3]:
        row.owner = Person(open_id=row.owner.open_id, name=text)
    chk = run_checks(snap, NOW, policy)
    ctx = AskContext(project_name=text, project_slug="xinghe", snapshot=snap, check=chk, now=NOW, policy=policy,
                     asker=ALICE.open_id, projects=[ProjectData(text, snap, chk, "xinghe")])
    cards = []
    for cmd in COMMANDS + [text]:
        for locale in ("zh", "en"):
            ctx.locale = locale
            cards.append(answer(parse(cmd), ctx))
    nc = NoticeCards()
    cards.append(nc.digest(text, ALICE.open_id, [n for n in chk.notices if n.digest or n.kind in ("overdue", "due_soon")], "zh"))
    cards += [nc.single(text, n, "en") for n in chk.notices]
    seen = set()
    for card in cards:
        valid(card)
        shown = json.dumps(_without_callback_values(card), ensure_ascii=False)
        assert "<at" not in shown, shown[max(0, shown.find("<at") - 120):shown.find("<at") + 40]  # no mention survives in any shown text (markdown escaped, plain text inert)
        seen.add(card["header"]["template"])
    assert {"red"} <= seen


def _without_callback_values(obj):
    """The card minus button values (data for our callback, never displayed)."""
    if isinstance(obj, dict):
        return {k: (None if k == "behaviors" else _without_callback_values(v)) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_without_callback_values(v) for v in obj]
    return obj


def test_template_set_is_covered():
    assert set(template_names()) == {"alert", "data_problems", "dependencies", "digest", "error", "escalation", "help",
                                     "issues", "items", "message", "milestone", "not_linked", "portfolio",
                                     "report", "risks", "status", "critical_path", "confirm", "signoff", "workload", "monthly"}


def test_error_card_and_the_post_click_line_come_from_templates_with_the_same_content():
    """The error card (`templates/error.json.j2`) and the line replacing a clicked record's controls
    (`templates/_outcome.json.j2`) say exactly what the hand-built dicts said before."""
    from gtm.bot.chat.boundary import error_card

    card = error_card("没能回答：飞书暂时繁忙（日志编号 E1A2B3C4）", "Could not answer: Feishu is busy (log id E1A2B3C4)")
    assert card == {"schema": "2.0", "config": {"update_multi": True},
                    "header": {"title": {"tag": "plain_text", "content": "出错了 / Error"}, "template": "red"},
                    "body": {"elements": [{"tag": "markdown", "content": "没能回答：飞书暂时繁忙（日志编号 E1A2B3C4）\n"
                                                                         "Could not answer: Feishu is busy (log id E1A2B3C4)"}]}}
    button = {"tag": "button", "text": {"tag": "plain_text", "content": "完成"},
              "behaviors": [{"type": "callback", "value": {"p": "x", "t": "task", "r": "rec1", "a": "task_done"}}]}
    sent = {"schema": "2.0", "config": {"update_multi": True}, "body": {"elements": [button]}}
    act = parse_action(button["behaviors"][0]["value"])
    for locale, shown in (("zh", "✅ 已完成 · *Al*"), ("en", "✅ Done · *Al*")):
        [line] = after_action(sent, act, who="*Al*", locale=locale)["body"]["elements"]
        assert line == {"tag": "markdown", "content": md_escape(shown, 300),
                        "i18n_content": {"zh_cn": md_escape("✅ 已完成 · *Al*", 300),
                                         "en_us": md_escape("✅ Done · *Al*", 300)}}

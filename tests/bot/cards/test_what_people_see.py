"""What a PM reads in the cards is right (issue: weekly report metrics, duplicates, colours,
working-day wording, one escalation level and risk score, milestone contradictions, my tasks)."""
from __future__ import annotations

import sys

from gtm.bot.cards import views as V
from gtm.bot.rules import queries as Q
from gtm.bot.chat.parse import parse
from gtm.bot.chat.answers import AskContext, answer
from gtm.bot.checks.weekly_report import build_weekly_report, report_card
from gtm.schemas.plan import Metric
from gtm.schemas.templates import get_template
from tests.support.snapshots import ALICE, NOW, build_snapshot



def strings(obj) -> list[str]:
    if isinstance(obj, dict):
        return [s for v in obj.values() for s in strings(v)]
    if isinstance(obj, list):
        return [s for v in obj for s in strings(v)]
    return [obj] if isinstance(obj, str) else []


def text_of(card: dict) -> str:
    return "\n".join(strings(card))


def ctx_for(snapshot, check, policy, **kw) -> AskContext:
    return AskContext(project_name="星河 GTM 发布", project_slug="xinghe", snapshot=snapshot, check=check,
                      now=NOW, policy=policy, asker=kw.pop("asker", ALICE.open_id), chat_id="oc_group0001", **kw)


# ---- 1. weekly report metrics ---------------------------------------------------------------
def test_report_never_prints_template_blanks_and_no_date_without_a_value(check, policy):
    snap = build_snapshot()
    tpl = get_template("gtm")
    snap.metrics = [Metric(record_id=f"recK{i}", metric=m.metric, target=m.target,
                           current="46%" if i == 0 else "", updated_on=NOW.date())
                    for i, m in enumerate(tpl.metrics)]
    assert any("___" in m.target for m in snap.metrics)  # the seed really has blanks
    view = build_weekly_report(snap, check, NOW, policy.timezone, policy=policy)
    for locale in ("zh", "en"):
        body = text_of(report_card(view, locale))
        assert "___" not in body and "例：" not in body and "$_" not in body
    rows = {r.metric: r for r in view.metrics}
    assert rows["PMF 调研“非常失望”比例"].current == "46%" and rows["PMF 调研“非常失望”比例"].target == ">40%"
    assert rows["NRR"].current == "" and rows["NRR"].updated == ""  # no value, so no update date
    assert rows["NPS"].target == ""  # "> ___" is a blank, shown as 未设定
    assert "未设定" in text_of(report_card(view, "zh")) and "not set" in text_of(report_card(view, "en"))


def test_demo_metric_values_are_chosen_by_metric_not_by_row_order():
    from gtm.bot.cli.demo_data import DEMO_METRICS

    for key in ("gtm", "sales", "campaign"):
        for m in get_template(key).metrics:
            assert m.metric in DEMO_METRICS, f"{key}: {m.metric} has no demo value"
    assert DEMO_METRICS["PMF 调研“非常失望”比例"][0].endswith("%")
    assert not DEMO_METRICS["NPS"][0].endswith("%")
    assert DEMO_METRICS["付费客户数"][0].endswith("个")
    for current, target in DEMO_METRICS.values():
        assert not V.is_blank(target) or target == ""


# ---- 2. the status card does not repeat its items -------------------------------------------
def test_status_reasons_do_not_repeat_the_items_they_name(snapshot, check, policy):
    card = answer(parse("状态"), ctx_for(snapshot, check, policy))
    body = text_of(card)
    assert "产品延期（9）" in body
    assert "（产品延期）" not in body and "(产品延期)" not in body
    assert "（星河 GTM 发布）" not in body  # the budget reason never names the project itself


# ---- 3. a green project shows a green dot --------------------------------------------------
def test_green_project_shows_a_green_dot(policy):
    snap = build_snapshot()
    snap.project.rag = "绿色"
    snap.project.rag_reason = "按计划推进"
    card = answer(parse("状态"), AskContext(project_name="x", snapshot=snap, check=None, now=NOW, policy=policy,
                                            asker=ALICE.open_id, chat_id="oc_group0001"))
    body = text_of(card)
    assert card["header"]["template"] == "green"
    assert "🟢 按计划推进" in body and "🟡" not in body


# ---- 11. natural questions reach the right answer ---------------------------------------------
def test_natural_questions_get_the_right_card(snapshot, check, policy):
    ctx = ctx_for(snapshot, check, policy)
    labels = [m.label for m in snapshot.milestones]
    card = answer(parse("M3进度怎么样", labels), ctx)
    assert "M3" in card["header"]["title"]["content"]
    card = answer(parse("本周周报", labels), ctx)
    assert "周报" in card["header"]["title"]["content"] and "本周到期" not in text_of(card)
    card = answer(parse("我有哪些任务", labels), ctx)
    assert "我的任务" in card["header"]["title"]["content"]
    card = answer(parse("what's overdue?", labels), ctx)
    assert "逾期" in card["header"]["title"]["content"]
    card = answer(parse("下周有什么到期", labels), ctx)
    assert "下周到期" in card["header"]["title"]["content"]
    assert "T-008" not in text_of(card)  # due Sunday 11-29: this week, not next
    card = answer(parse("本周有什么到期", labels), ctx)
    assert "本周到期" in card["header"]["title"]["content"] and "T-008" in text_of(card)


def test_not_understood_echoes_the_text_as_typed(snapshot, check, policy):
    card = answer(parse("@_user_1 Show me the FOO Dashboard"), ctx_for(snapshot, check, policy))
    assert "没听懂「Show me the FOO Dashboard」" in text_of(card)


# ---- 4. due wording: calendar days with the weekday, English plurals -------------------------
def test_due_soon_for_a_sunday_deadline_says_tomorrow_like_the_list_cards(policy):
    from datetime import date, timedelta

    from gtm.bot.rules.due_soon import check_due_soon

    snap = build_snapshot()
    saturday = NOW + timedelta(days=5)  # Monday 11-23 → Saturday 11-28
    sunday = date(2026, 11, 29)
    snap.tasks = [t.model_copy(update={"planned_end": sunday, "status": "进行中"}) if t.task_id == "T-008" else t
                  for t in snap.tasks]
    notes = [n for n in check_due_soon(snap, saturday, policy).notices if "T-008" in n.record.label]
    assert notes, "T-008 due Sunday is due soon on Saturday"
    text, text_en = notes[0].text, notes[0].text_en
    assert "0 个工作日" not in text and "明天，周日" in text
    assert "tomorrow, Sun" in text_en and "(s)" not in text_en
    ctx = ctx_for(snap, None, policy)
    ctx.now = saturday
    assert "剩 1 天" in text_of(answer(parse("我的任务"), ctx))  # the list card agrees: one day


def test_english_plurals_in_the_catalogue():
    from gtm.bot.catalogue import days_phrase, working_days_phrase

    assert days_phrase(1).en == "1 day" and days_phrase(8).en == "8 days"
    assert working_days_phrase(1).en == "1 working day" and working_days_phrase(0).en == "0 working days"


# ---- 5. one issue level (work calendar), one risk score, 对象 not repeating the title --------
def test_issue_level_counts_working_days_like_the_escalation_rule():
    from datetime import datetime, timedelta
    from zoneinfo import ZoneInfo

    from gtm.bot.rules.engine import run_checks
    from gtm.schemas.settings import Policy

    working = Policy(escalation_day_count="working")
    snap = build_snapshot()
    tz = ZoneInfo("Asia/Shanghai")
    friday = datetime(2026, 11, 20, 18, 0, tzinfo=tz)
    tuesday = datetime(2026, 11, 25, 10, 0, tzinfo=tz)  # Wednesday: 4 calendar days, <3 working days
    issue = snap.issues[0].model_copy(update={"raised_at": friday, "level": None})
    assert Q.issue_level(issue, tuesday, working, None) == 0  # not yet 3 working days
    snap.issues = [issue]
    ladder = run_checks(snap, tuesday, working).escalations
    assert all(st.level == 0 for st in ladder if st.record_id == issue.record_id)
    assert Q.issue_level(issue, tuesday + timedelta(days=1), working, None) == 1  # Thursday: past 3
    assert Q.issue_age(issue, tuesday, working) == 3  # Mon, Tue, Wed (the card's age, same unit)


def test_escalation_notice_says_how_long_the_issue_has_been_open(check, policy):
    from gtm.bot.cards.factory import NoticeCards

    notes = [n for n in check.notices if n.kind == "escalation" and "官网域名备案未通过" in n.title]
    assert notes, "the 8-day issue escalates"
    for n in notes:  # told to the PM and to management: open 8 days, not "more than 3 days"
        assert "已 8 天未解决" in n.text and "open" not in n.text
        assert "for 8 days" in n.text_en
    card = NoticeCards().single("星河", notes[-1])
    body = text_of(card)
    assert "对象：" not in body  # the title already names the issue


def test_one_risk_score_everywhere(policy):
    from gtm.bot.rules.engine import run_checks
    from gtm.schemas.plan import Risk

    snap = build_snapshot()
    # levels still blank, stored score 9: every place must treat it as the same high risk
    snap.risks = [Risk(record_id="recR9", risk="核心供应商断供", likelihood=None, impact=None, score=9,
                       status="开放")]
    result = run_checks(snap, NOW, policy)
    assert any("核心供应商断供" in r.text for r in result.rag.reasons)
    status = text_of(answer(parse("状态"), ctx_for(snap, result, policy)))
    assert "高风险 **1**" in status
    report = build_weekly_report(snap, result, NOW, policy.timezone, policy=policy)
    assert any("评分 9" in x.text for x in report.risks)


def test_risks_card_reads_in_the_readers_language_and_keeps_unknown_options_as_typed(policy):
    from gtm.bot.rules.engine import run_checks
    from gtm.schemas.plan import Risk

    snap = build_snapshot()
    snap.risks = [Risk(record_id="recR1", risk="核心供应商断供", likelihood="高", impact="中", status="开放"),
                  Risk(record_id="recR2", risk="汇率波动", likelihood="中", impact="中", status="观察中")]
    result = run_checks(snap, NOW, policy)
    en = text_of(answer(parse("风险"), ctx_for(snap, result, policy, locale="en")))
    assert "score 6 (High×Medium) · Open" in en  # the card carries both languages; this is its English
    assert "score 4 (Medium×Medium) · 观察中" in en  # not an option of the template: as typed
    zh = text_of(answer(parse("风险"), ctx_for(snap, result, policy)))
    assert "评分 6 (高×中)" in zh and "开放" in zh and "观察中" in zh


# ---- 6. the report does not contradict itself about a milestone --------------------------------
def test_milestone_with_unmet_exit_criteria_is_not_listed_as_reached(policy):
    from datetime import timedelta

    from gtm.bot.rules.engine import run_checks

    snap = build_snapshot()
    m4 = next(m for m in snap.milestones if m.code == "M4")
    snap.milestones = [m.model_copy(update={"status": "完成", "actual_date": NOW.date() - timedelta(days=2)})
                       if m is m4 else m for m in snap.milestones]
    result = run_checks(snap, NOW, policy)
    view = build_weekly_report(snap, result, NOW, policy.timezone, policy=policy)
    body = text_of(report_card(view, "zh"))
    assert "M4" in body and "未满足" in body  # the gate reason
    assert not any("M4" in x.text and "达成" in x.text for x in view.done)


# ---- 8. per-reader language: one card, each reader's language --------------------------------
CJK = __import__("re").compile(r"[\u4e00-\u9fff（），：。、]")


def test_one_card_reads_chinese_to_one_reader_and_english_to_another(snapshot, check, policy):
    from gtm.bot.cards.render import localized
    from gtm.sandbox.cards import validate_card

    card = answer(parse("状态"), ctx_for(snapshot, check, policy))  # project language: zh
    validate_card(card)  # the sandbox (Feishu's rules) accepts the i18n fields
    title = card["header"]["title"]
    assert title["content"].startswith("项目状态") and title["i18n_content"]["en_us"].startswith("Status")
    zh, en = localized(card, "zh_cn"), localized(card, "en_us")
    assert "整体状态" in text_of(zh["header"]) and "Overall" in text_of(en["header"])
    en_md = [e["content"] for e in en["body"]["elements"] if e.get("tag") == "markdown"]
    assert any("Milestone progress" in x for x in en_md) and not any("里程碑进度" in x for x in en_md)
    # the English reader gets no Chinese punctuation around the reasons
    punct = __import__("re").compile(r"[（）：、，。]")
    assert not any(punct.search(x) for x in en_md), en_md


def test_phases_and_statuses_come_from_the_catalogue(snapshot, check, policy):
    from gtm.bot.cards.render import localized

    card = answer(parse("M1"), ctx_for(snapshot, check, policy))
    zh, en = text_of(localized(card, "zh_cn")), text_of(localized(card, "en_us"))
    assert "阶段：发布前准备" in zh and "阶段：Pre-Launch" not in zh  # Chinese first
    assert "phase: Pre-Launch" in en


def test_did_you_mean_is_in_one_language(snapshot, check, policy):
    from gtm.bot.cards.render import localized

    card = answer(parse("staus"), ctx_for(snapshot, check, policy))
    en = localized(card, "en_us")
    from gtm.bot.cards.render import walk_elements

    buttons = [el["text"]["content"] for el, _, _ in walk_elements(en["body"]["elements"])
               if el.get("tag") == "button"]
    assert buttons and all(not CJK.search(b) for b in buttons)
    assert "状态 / status" not in text_of(card)


def test_sandbox_refuses_unknown_i18n_languages():
    import pytest

    from gtm.sandbox.cards import CardError, validate_card

    card = {"schema": "2.0", "config": {"update_multi": True}, "body": {"elements": [
        {"tag": "markdown", "content": "你好", "i18n_content": {"zh_cn": "你好", "english": "hi"}}]}}
    with pytest.raises(CardError):
        validate_card(card)
    card["body"]["elements"][0]["i18n_content"] = {"zh_cn": "你好", "en_us": "hi"}
    validate_card(card)


# ---- 9. demo owners are the same on every run ----------------------------------------------------
def test_demo_owners_do_not_depend_on_the_hash_seed():
    import json
    import os
    import subprocess

    code = ("import json; from datetime import date; from gtm.schemas.plan import Deliverable, Person;"
            "from gtm.bot.cli.demo_data import deliverable_owners;"
            "ds=[Deliverable(record_id=f'r{i}', name=n) for i, n in enumerate(['网站', 'Deck', 'FAQ', 'CRM', '培训'])];"
            "team=[Person(open_id=f'ou_{k}') for k in 'abcd'];"
            "print(json.dumps({k: v.open_id for k, v in deliverable_owners(ds, team, date(2026, 12, 1)).items()}))")
    runs = [subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                           env={**os.environ, "PYTHONHASHSEED": seed}).stdout for seed in ("1", "2", "3")]
    assert len({r for r in runs}) == 1 and json.loads(runs[0])["r0"] == "ou_a"


def test_my_tasks_shows_overdue_and_two_weeks_then_a_button_for_the_rest(snapshot, check, policy):
    from gtm.bot.chat.answers import view_for

    ctx = ctx_for(snapshot, check, policy)
    _, view = view_for(parse("我的任务"), ctx)
    rows = [r for g in view.groups for r in g.rows.items]
    assert rows and all(r.days_left is None or r.days_left <= 14 for r in rows)
    assert any(r.days_overdue for r in rows)  # overdue first
    assert view.later > 0 and view.more_button is not None
    card = answer(parse("我的任务"), ctx)
    body = text_of(card)
    assert f"还有 {view.later} 项在两周以后到期" in body and "查看全部" in body
    _, everything = view_for(parse("我的全部任务"), ctx)
    assert everything.total == view.total + view.later
    # the header counts what is shown and the whole, never the shown part as the whole
    assert f"两周内 {view.total} 项，共 {everything.total} 项" in body and f"共 {view.total} 项 ·" not in body
    en = text_of(answer(parse("我的任务"), ctx_for(snapshot, check, policy, locale="en")))
    assert f"{view.total} in the next two weeks, {everything.total} items in all" in en
    assert f"共 {everything.total} 项 ·" in text_of(answer(parse("我的全部任务"), ctx))


def test_green_project_report_shows_a_green_dot(policy):
    snap = build_snapshot()
    snap.project.rag = "绿色"
    snap.project.rag_reason = "按计划推进"
    body = text_of(report_card(build_weekly_report(snap, None, NOW, policy.timezone, policy=policy)))
    assert "🟢 按计划推进" in body and "🟡 按计划推进" not in body


def test_risks_card_says_what_is_known_and_its_map_counts_every_risk(policy):
    from gtm.bot.rules.engine import run_checks
    from gtm.schemas.plan import Risk

    snap = build_snapshot()
    snap.risks = [Risk(record_id="recR1", risk="客户需求变更", level="高", status="开放"),
                  Risk(record_id="recR2", risk="竞品降价", likelihood="高", impact="中", status="开放"),
                  Risk(record_id="recR3", risk="渠道冲突", likelihood="高", status="开放"),
                  Risk(record_id="recR4", risk="人员流失", status="开放")]
    result = run_checks(snap, NOW, policy)
    zh_card = answer(parse("风险"), ctx_for(snap, result, policy))
    zh, en = text_of(zh_card), text_of(answer(parse("风险"), ctx_for(snap, result, policy, locale="en")))
    assert "(×)" not in zh and "评分 0" not in zh and "score 0" not in en
    assert "客户需求变更** · 评分 9 · 等级 高" in zh and "score 9 · level High" in en
    assert "评分 6 (高×中)" in zh
    assert "未评分 · 可能性 高 · 影响未填" in zh and "not scored · likelihood High · impact blank" in en
    assert "人员流失** · 未评分 · 可能性/影响未填" in zh and "not scored · likelihood/impact blank" in en
    # the header's 4 open risks are all accounted for: 2 on the map, 2 said under it
    heat = next(e for e in zh_card["body"]["elements"] if e.get("element_id") == "heatmap")
    assert sum(int(c[0]["text"]) for row in heat["rows"] for k, c in row.items()
               if k != "l" and c[0]["text"] != "·") == 2
    assert "未关闭 4 · 高风险 2 · 未评分 2" in zh
    assert "其中 1 项按风险等级计入" in zh and "另有 2 项未填可能性/影响" in zh
    assert "2 more risks without likelihood/impact" in en


def test_risks_card_of_a_fresh_plan_is_not_scored_not_orange(policy):
    from gtm.bot.rules.engine import run_checks
    from gtm.schemas.plan import Risk

    snap = build_snapshot()
    snap.risks = [Risk(record_id=f"recR{i}", risk=f"风险 {i}", status="开放") for i in range(3)]
    result = run_checks(snap, NOW, policy)
    card = answer(parse("风险"), ctx_for(snap, result, policy))
    assert card["header"]["template"] == "grey"
    assert "评分 0" not in text_of(card) and "另有 3 项未填可能性/影响" in text_of(card)


def test_looking_up_an_unknown_task_id_says_not_found_with_the_closest_ids(snapshot, check, policy):
    card = answer(parse("T-999"), ctx_for(snapshot, check, policy))
    body = text_of(card)
    assert "🎉" not in body and "共 0 项" not in body
    assert "找不到「T-999」" in body and "No “T-999” in this plan" in body
    ids = sorted(t.task_id for t in snapshot.tasks)
    assert ids[-1] in body  # the nearest id is offered
    known = text_of(answer(parse(ids[0]), ctx_for(snapshot, check, policy)))
    assert "找不到" not in known


def test_looking_up_an_unknown_id_with_no_near_one_says_how_to_list_tasks(snapshot):
    from gtm.bot.chat.lookup import not_found

    view = not_found(snapshot, {"Q-7"})
    assert view is not None and view.choices == []
    assert "找不到「Q-7」" in view.text and "我的任务" in view.text and "my tasks" in view.text_en
    assert not_found(snapshot, {snapshot.tasks[0].task_id.upper(), "Q-7"}) is None  # one of them is there


def test_critical_path_is_not_green_for_a_milestone_with_overdue_or_blocked_tasks(policy):
    from datetime import timedelta

    from gtm.bot.rules.engine import run_checks
    from gtm.schemas.plan import Milestone, Task

    day = NOW.date()  # Monday 11-23
    m3 = Milestone(record_id="recM3", code="M3", name="发布准备就绪", owner=ALICE,
                   target_date=day + timedelta(days=28), status="进行中")

    def task(rid: str, start: int, end: int, **kw) -> Task:
        return Task(record_id=rid, task_id=rid, name=f"任务{rid}", owner=ALICE, milestone=["recM3"],
                    planned_start=day + timedelta(days=start), planned_end=day + timedelta(days=end), **kw)

    snap = build_snapshot()
    snap.milestones, snap.dependencies = [m3], []
    snap.tasks = [task("T-301", -10, -3, status="进行中", progress=0.6),
                  task("T-303", -5, 3, status="阻塞", progress=0.3),
                  task("T-306", 5, 12, status="未开始")]
    result = run_checks(snap, NOW, policy)
    card = answer(parse("关键路径"), ctx_for(snap, result, policy))
    zh = text_of(card)
    assert "🟢" not in zh and "🟠 **M3 发布准备就绪**" in zh
    assert "⏰ T-301 任务T-301（Alice） · 逾期 3 天 · 预计" in zh
    assert "⛔ T-303 任务T-303（Alice） · 阻塞 · 预计" in zh
    assert "有逾期/阻塞任务 **1**" in zh and "逾期或阻塞的任务按今天起的剩余工作量预计" in zh
    assert card["header"]["template"] == "orange"
    en = text_of(answer(parse("关键路径"), ctx_for(snap, result, policy, locale="en")))
    assert "3 days overdue · forecast" in en and "Blocked · forecast" in en


def test_critical_path_marks_an_overdue_task_on_the_chain_once(policy):
    from datetime import timedelta

    from gtm.bot.rules.engine import run_checks
    from gtm.schemas.plan import Milestone, Task

    day = NOW.date()
    snap = build_snapshot()
    snap.dependencies = []
    snap.milestones = [Milestone(record_id="recM3", code="M3", name="发布准备就绪", owner=ALICE,
                                 target_date=day + timedelta(days=28), status="进行中")]
    snap.tasks = [Task(record_id="T-301", task_id="T-301", name="官网", owner=ALICE, milestone=["recM3"],
                       planned_start=day - timedelta(days=40), planned_end=day - timedelta(days=2),
                       status="进行中", progress=0.1)]
    result = run_checks(snap, NOW, policy)
    zh = text_of(answer(parse("关键路径"), ctx_for(snap, result, policy)))
    assert "└ ⚠️ T-301 官网（Alice） · 逾期 2 天 · 预计" in zh and "⏰" not in zh
    assert "🔴 **M3 发布准备就绪**" in zh  # 90 % of 28 working days left, from today: past the target


def test_item_lists_do_not_repeat_overdue_as_the_status(policy):
    from datetime import timedelta

    from gtm.bot.rules.engine import run_checks

    snap = build_snapshot()
    t4 = next(t for t in snap.tasks if t.task_id == "T-004")
    snap.tasks = [t.model_copy(update={"status": "延期"}) if t is t4 else t for t in snap.tasks]
    assert t4.planned_end == NOW.date() - timedelta(days=3)
    result = run_checks(snap, NOW, policy)
    en = text_of(answer(parse("逾期"), ctx_for(snap, result, policy, locale="en")))
    zh = text_of(answer(parse("逾期"), ctx_for(snap, result, policy)))
    assert "3 d overdue** · 60%" in en and "Overdue · 60%" not in en
    assert "逾期 3 天** · 60%" in zh and "延期 · 60%" not in zh
    assert "1 d overdue** · In progress · 40%" in en  # a status that says something else stays


def test_help_gives_examples_in_the_plans_own_ids_and_never_peoples_markup(check, policy):
    snap = build_snapshot()
    snap.tasks = [snap.tasks[0].model_copy(update={"task_id": "<at id=all></at>"}),
                  snap.tasks[1].model_copy(update={"task_id": "S1-01"})] + snap.tasks[2:]
    snap.milestones = [m.model_copy(update={"code": f"S{i}"}) for i, m in enumerate(snap.milestones, 1)]
    body = text_of(answer(parse("帮助"), ctx_for(snap, check, policy)))
    assert "按任务编号查找：如「S1-01」" in body and "里程碑详情：如「S1」" in body and "「S1-01 80%」" in body
    assert "T-301" not in body and "<at" not in body

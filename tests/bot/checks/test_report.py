"""Weekly report: seed-000 sections, chart + checklist, what changed, archive row, size at scale."""
from __future__ import annotations

import json
import time

from gtm.bot.cards.render import card_bytes, check_card
from gtm.bot.checks.portfolio import build_portfolio, portfolio_card
from gtm.bot.checks.weekly_report import build_weekly_report, report_archive_row, report_card, report_summary
from tests.support.snapshots import NOW, build_snapshot


try:
    from gtm.sandbox.cards import validate_card
except ImportError:  # pragma: no cover
    validate_card = lambda card: None  # noqa: E731


def texts(view_section) -> list[str]:
    return [x.text for x in view_section]


def test_sections_follow_the_seed_template(snapshot, check):
    view = build_weekly_report(snapshot, check, NOW, "Asia/Shanghai", None, None, None)
    assert view.week == "2026-W48" and view.period == "2026-11-17 – 2026-11-23"
    assert view.header_color == "red" and view.rag.zh == "红色"
    assert any("产品延期" in r.text for r in view.reasons)
    done = texts(view.done)
    assert "T-003 产品页上线（Alice）" in done and "T-010 博客与视频内容（Bob）" in done
    assert not any("T-001" in d for d in done)  # finished weeks ago
    nxt = texts(view.next_week)
    assert any("T-006" in x for x in nxt) and any("T-008" in x for x in nxt)
    assert not any("T-009" in x for x in nxt)  # due in 20 days
    risks = texts(view.risks)
    assert any("产品延期" in x for x in risks) and any("管理层" in x and "8 天" in x for x in risks)
    assert any("法务合规审批" in x for x in risks)
    assert [m.metric for m in view.metrics] == ["MQL", "网站转化率", "NPS"]
    support = texts(view.support)
    assert any(x.startswith("阻塞：T-006") for x in support)
    assert any("需管理层决策" in x for x in support) and any("变更申请" in x for x in support)
    assert [m.code for m in view.milestones][:3] == ["M1", "M2", "M3"]
    assert [v["pct"] for v in view.chart["data"]["values"]][:3] == [100, 100, 50]


def test_card_has_chart_and_checklist_table(snapshot, check):
    view = build_weekly_report(snapshot, check, NOW, "Asia/Shanghai")
    card = report_card(view)
    check_card(card)
    validate_card(card)
    tags = [e["tag"] for e in card["body"]["elements"]]
    assert tags.count("chart") == 1 and tags.count("table") == 2
    chart = next(e for e in card["body"]["elements"] if e["tag"] == "chart")
    assert chart["chart_spec"]["xField"] == "milestone" and chart["chart_spec"]["yField"] == "pct"
    checklist = next(e for e in card["body"]["elements"] if e.get("element_id") == "checklist")
    m3 = checklist["rows"][2]
    assert m3["ms"] == "M3 发布准备就绪" and m3["target"] == "2026-11-23" and m3["pct"] == 50
    en = report_card(view, "en")
    assert en["header"]["title"]["content"].startswith("GTM weekly report - 2026-W48")


def test_failed_deliveries_and_system_problems_need_support(snapshot, check):
    view = build_weekly_report(snapshot, check, NOW, "Asia/Shanghai", None,
                               [{"title": "逾期提醒", "recipient": "ou_bob", "error": "230013"}],
                               ["飞书接口限流，同步延迟 2 小时"])
    support = texts(view.support)
    assert "未送达：逾期提醒 · ou_bob · 230013" in support
    assert "系统问题：飞书接口限流，同步延迟 2 小时" in support


def test_what_changed_since_last_report(snapshot, check):
    first = build_weekly_report(snapshot, check, NOW, "Asia/Shanghai")
    assert texts(first.changes) == ["没有上周的周报快照，暂无对比"]
    prev = report_summary(first)
    json.dumps(prev)  # storable as JSON
    prev.update(rag="yellow", overdue=["T-004 销售 Deck 与 Demo 脚本", "T-099 旧任务"], open_issues=1)
    prev["milestones"] = {**prev["milestones"], "M3": 20}
    prev["metrics"] = {**prev["metrics"], "MQL": "250"}
    view = build_weekly_report(snapshot, check, NOW, "Asia/Shanghai", prev)
    changes = texts(view.changes)
    assert "整体状态：黄色 → 红色" in changes
    assert "M3 进度 20% → 50%" in changes
    assert any(c.startswith("新增逾期 1 项：T-005") for c in changes)
    assert any(c.startswith("不再逾期 1 项：T-099") for c in changes)
    assert "未解决问题：1 → 2" in changes and "指标 MQL：250 → 320" in changes
    same = build_weekly_report(snapshot, check, NOW, "Asia/Shanghai", report_summary(view))
    assert texts(same.changes) == ["与上周相比无明显变化"]


def test_archive_row(snapshot, check):
    view = build_weekly_report(snapshot, check, NOW, "Asia/Shanghai")
    row = report_archive_row(view)
    assert set(row) == {"week", "rag", "summary", "sent_at"}
    assert row["week"] == "2026-W48" and row["rag"] == "红色" and row["sent_at"] == NOW
    assert row["summary"].startswith("红色：") and "本周完成 5 项" in row["summary"]


def test_report_for_10000_tasks_stays_under_30kb(policy, capsys):
    from gtm.bot.rules.engine import run_checks

    snap = build_snapshot(n_extra_tasks=10_000)
    chk = run_checks(snap, NOW, policy)
    t0 = time.perf_counter()
    view = build_weekly_report(snap, chk, NOW, "Asia/Shanghai")
    t1 = time.perf_counter()
    card = report_card(view)
    t2 = time.perf_counter()
    size = card_bytes(card)
    validate_card(card)
    assert size <= 28 * 1024
    assert view.done.more > 0 and "还有" in json.dumps(card, ensure_ascii=False)
    with capsys.disabled():
        print(f"\n[report 10k tasks] build {1000 * (t1 - t0):.0f} ms, render {1000 * (t2 - t1):.0f} ms, "
              f"{size} bytes")


def test_portfolio(snapshot, check, policy):
    calm = build_snapshot(name="平稳项目")
    calm.tasks = [t for t in calm.tasks if t.status == "已完成"]
    calm.issues, calm.risks, calm.dependencies = [], [], []
    calm.project.spent = 50_000
    from gtm.bot.rules.engine import run_checks

    view = build_portfolio([("平稳项目", calm, run_checks(calm, NOW, policy)), ("星河", snapshot, check)], NOW, policy)
    assert [r.name for r in view.rows] == ["星河", "平稳项目"]  # red first
    star = view.rows.items[0]
    assert star.rag.color == "red" and star.management_issues == 1 and star.top_reason
    card = portfolio_card(view)
    check_card(card)
    validate_card(card)
    table = next(e for e in card["body"]["elements"] if e["tag"] == "table")
    assert table["rows"][0]["rag"] == [{"text": "红色", "color": "red"}]

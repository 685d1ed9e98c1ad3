"""The templates transcribe the seeds, and layout puts them on a calendar 2–4 weeks apart."""
from __future__ import annotations

from datetime import date

import pytest

from gtm.schemas.plan import MilestoneStatus, TaskStatus
from gtm.schemas.tables import tables_for
from gtm.schemas.templates import CAMPAIGN, GTM, SALES, TEMPLATES, get_template, layout

START = date(2025, 3, 3)

SEED_000_MILESTONES = ["市场调研完成", "GTM 战略确定", "发布准备就绪", "软发布", "正式发布", "首批付费客户",
                       "PMF 验证", "规模化准备", "增长目标达成"]


def test_gtm_is_seed_000():
    assert [m.code for m in GTM.milestones] == [f"M{i}" for i in range(1, 10)]
    assert [m.name for m in GTM.milestones] == SEED_000_MILESTONES
    assert [p.name for p in GTM.phases] == ["Pre-Launch（发布前准备）", "Launch（发布）", "Early Traction（早期牵引力）",
                                            "Scale（规模化）"]
    assert [p.en for p in GTM.phases] == ["Pre-Launch", "Launch", "Early Traction", "Scale"]
    assert GTM.phase_names("Pre-Launch") == ("发布前准备（Pre-Launch）", "Pre-Launch")  # an older Base's value
    m1 = GTM.milestone("M1")
    assert [(d.name, d.standard) for d in m1.deliverables][:2] == [("ICP 定义文档", "完成 5.2 工作表"),
                                                                    ("竞品分析报告", "完成 5.3 矩阵")]
    assert len(GTM.milestone("M3").deliverables) == 6
    assert "Go/No-Go 决策完成" in GTM.milestone("M4").exit_criteria
    assert all(len(m.exit_criteria) == 4 for m in GTM.milestones)
    assert [(d.item, d.party, d.milestones) for d in GTM.dependencies] == [
        ("产品功能完成", "产品团队", ("M3", "M4")), ("法务合规审批", "法务", ("M3",)),
        ("预算审批", "财务", ("M8",)), ("合作伙伴协议", "BD", ("M5",))]
    assert [r.risk for r in GTM.risks] == ["产品延期", "竞品动作", "预算不足", "人员变动", "市场变化"]


def test_sales_and_campaign_follow_their_seeds():
    assert [p.name for p in SALES.phases] == ["启动", "规划", "执行", "监控", "收尾"]
    assert any(d.name == "《项目章程》" for d in SALES.milestone("S1").deliverables)
    assert {t.phase for t in SALES.tasks} == {"启动", "规划", "执行", "监控", "收尾"}
    assert "客户需求变更" in [r.risk for r in SALES.risks]
    assert [p.name for p in CAMPAIGN.phases] == ["筹备期", "预热期", "执行期", "收尾期"]
    prefix = {"筹备期": "M", "预热期": "P", "执行期": "E", "收尾期": "C"}
    for t in CAMPAIGN.tasks:
        assert t.task_id[0] == prefix[t.phase] and len(t.task_id) == 4, t.task_id
    ids = [t.task_id for t in CAMPAIGN.tasks]
    assert {"M001", "M002", "M003", "P001", "P002", "E001", "E002", "C001"} <= set(ids)


@pytest.mark.parametrize("key", sorted(TEMPLATES))
def test_layout_spacing_and_defaults(key):
    t = get_template(key)
    rows = layout(t, START, "Asia/Shanghai")
    dates = [r["target_date"] for r in rows["milestone"]]
    assert dates[0] > START and dates == sorted(dates)
    gaps = [(b - a).days for a, b in zip([START, *dates], dates)]
    assert all(14 <= g <= 28 for g in gaps), (key, gaps)  # the seeds' 2–4 weeks
    for table_key, table_rows in rows.items():
        if not table_rows:
            continue
        spec = tables_for(key)[table_key]
        for r in table_rows:
            assert set(r) <= {f.attr for f in spec.fields}, (table_key, r)
            assert "owner" not in r and "approver" not in r  # people assign owners
    assert {r["status"] for r in rows["milestone"]} == {MilestoneStatus.NOT_STARTED.value}
    assert {r["status"] for r in rows["task"]} <= {TaskStatus.NOT_STARTED.value}
    for task in rows["task"]:
        assert task["planned_start"] <= task["planned_end"]
    assert rows["project"][0]["start_date"] == START


def test_unknown_template_names_the_known_ones():
    with pytest.raises(KeyError, match="gtm"):
        get_template("nope")

"""Each template carries its seed word for word: the seeds' lists (docs/seeds/*.yaml, extracted once
from the seed texts in docs/seeds/) are compared with what `gtm init` provisions in the sandbox, read
back through the SDK. An edit of a template that drifts from its seed fails here.
"""
from __future__ import annotations

from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml

from gtm.bot.rules.engine import run_checks
from gtm.schemas.plan import PlanSnapshot
from gtm.schemas.settings import Policy
from gtm.schemas.tables import PLAN_TABLES
from gtm.sync.binding import BaseBinding
from gtm.sync.provision_read import Reader
from gtm.sync.records import decode_record

START = date(2025, 3, 3)  # the provisioning fixtures' start date (tests/provision/conftest.py)

SEEDS = Path(__file__).resolve().parents[2] / "docs" / "seeds"
TZ = ZoneInfo("Asia/Shanghai")
# the seeds mix ASCII and full-width punctuation; compare words, not punctuation widths
_PUNCT = str.maketrans({"，": ",", "（": "(", "）": ")", "：": ":", "；": ";", "“": '"', "”": '"'})


def words(text: str | None) -> str:
    return (text or "").translate(_PUNCT).strip()


def seed(name: str) -> dict[str, Any]:
    return yaml.safe_load((SEEDS / name).read_text(encoding="utf-8"))


def seed_text(data: dict[str, Any]) -> str:
    return words((SEEDS.parent.parent / data["source"]).read_text(encoding="utf-8"))


def read_back(gateway, binding: BaseBinding) -> tuple[PlanSnapshot, dict[str, dict[str, dict]]]:
    """The provisioned Base as the service reads it (snapshot) plus each table's fields by name."""
    rd = Reader(gateway)
    snap = PlanSnapshot()
    fields: dict[str, dict[str, dict]] = {}
    for key, tid in binding.table_ids.items():
        fields[key] = {f["field_name"]: f for f in rd.fields(binding.app_token, tid)}
        for raw in rd.records(binding.app_token, tid):
            model, problems = decode_record(PLAN_TABLES[key], raw, TZ, binding)
            assert problems == [], problems
            if key == "project":
                snap.project = model
            else:
                snap.rows(key).append(model)
    return snap, fields


def field_order(fields: dict[str, dict]) -> list[str]:
    return list(fields)


@pytest.fixture
def provision_template(gateway, run_init):
    def run(template: str, **kw):
        _, res = run_init(template=template, **kw)
        snap, fields = read_back(gateway, res.binding)
        return res, snap, fields
    return run


def _in_seed_text(text: str, values: list[str]) -> None:
    missing = [v for v in values if v and words(v) not in text]
    assert missing == [], f"not in the seed text: {missing}"


# -- docs/seeds/000: gtm --------------------------------------------------------------------------
def test_gtm_base_matches_seed_000(provisioned, gateway):
    s = seed("000-gtm.yaml")
    _in_seed_text(seed_text(s), [m["name"] for m in s["milestones"]] + [c["meeting"] for c in s["communication_plan"]])
    snap, fields = read_back(gateway, provisioned.binding)
    assert [(m.code, m.name, m.phase) for m in snap.milestones] == [
        (m["code"], m["name"], m["phase"]) for m in s["milestones"]]
    by_id = {m.record_id: m.code for m in snap.milestones}
    got = sorted((by_id[d.milestone[0]], d.name, d.standard) for d in snap.deliverables)
    assert got == sorted((m["code"], d["name"], d["standard"]) for m in s["milestones"] for d in m["deliverables"])
    got = sorted((by_id[c.milestone[0]], c.criterion) for c in snap.exit_criteria)
    assert got == sorted((m["code"], c) for m in s["milestones"] for c in m["exit_criteria"])
    assert [(d.item, d.party, sorted(by_id[x] for x in d.milestones)) for d in snap.dependencies] == [
        (d["item"], d["party"], sorted(d["milestones"])) for d in s["dependencies"]]
    assert [r.risk for r in snap.risks] == s["risks"]
    assert [c.model_dump(include={"meeting", "frequency", "participants", "purpose", "form"})
            for c in snap.communications] == s["communication_plan"]  # 站会 and 月度汇报 included
    assert [o["name"] for o in fields["project"]["GTM类型"]["property"]["options"]] == s["gtm_types"]
    assert fields["project"]["预算"]["property"]["currency_code"] == "USD"  # 项目预算 | $
    assert "目标发布日期" in fields["project"]
    gaps = [(b.target_date - a).days for a, b in zip([START] + [m.target_date for m in snap.milestones],
                                                      snap.milestones)]
    assert all(14 <= g <= 28 for g in gaps), gaps  # "里程碑之间间隔 2-4 周为宜"


# -- docs/seeds/002: sales ------------------------------------------------------------------------
def test_sales_base_matches_seed_002(provision_template):
    s = seed("002-sales.yaml")
    text = seed_text(s)
    _in_seed_text(text, [x for p in s["phases"] for x in (*p["steps"], *p["outputs"])]
                  + [r["risk"] for r in s["risk_register"]["risks"]] + [r["mitigation"] for r in s["risk_register"]["risks"]]
                  + s["project_fields"] + s["success_criteria"] + s["risk_register"]["columns"] + [s["payment"]["text"]])
    res, snap, fields = provision_template("sales", name="某客户系统部署")
    phases = [p["name"] for p in s["phases"]]
    assert [m.phase for m in snap.milestones] == phases
    for p in s["phases"]:  # the seed's step names, one task each, in order (detail goes to 说明)
        assert [t.name for t in snap.tasks if t.phase == p["name"]] == p["steps"], p["name"]
    assert next(t for t in snap.tasks if t.name == "质量管控").description
    ms_phase = {m.record_id: m.phase for m in snap.milestones}
    for p in s["phases"]:  # every output of the seed is a deliverable of its phase
        mine = [d.name for d in snap.deliverables if ms_phase[d.milestone[0]] == p["name"]]
        assert all(o in mine for o in p["outputs"]), (p["name"], p["outputs"], mine)
    # the risk register under the seed's column names and words; blank where the seed gives none
    risk_fields = fields["risk"]
    assert all(c in risk_fields for c in s["risk_register"]["columns"]) and "负责人" not in risk_fields
    assert [o["name"] for o in risk_fields["风险等级"]["property"]["options"]] == s["risk_register"]["levels"]
    assert [(r.risk, words(r.mitigation)) for r in snap.risks] == [
        (r["risk"], words(r["mitigation"])) for r in s["risk_register"]["risks"]]
    assert all(f in fields["project"] for f in s["project_fields"] + s["contract_fields"])
    assert "GTM类型" not in fields["project"]
    assert all(c in snap.project.success_criteria for c in s["success_criteria"])
    assert "验收日期" in fields["project"] and "目标发布日期" not in fields["project"]
    # 《回款跟踪表》: the 回款 table with the seed's example payment, due 15 days after acceptance
    assert all(c in fields["payment"] for c in s["payment"]["columns"])
    (pay,) = snap.payments
    assert pay.note == s["payment"]["text"]
    assert (pay.due_date - snap.project.launch_date).days == s["payment"]["days_after_acceptance"]
    # WBS 阶段 → 模块 → 任务: a parent link on the task table, pointing at the task table
    assert fields["task"]["上级任务"]["property"]["table_id"] == res.binding.table_ids["task"]
    assert fields["project"]["合同金额"]["property"]["currency_code"] == "CNY"


# -- docs/seeds/003: campaign ---------------------------------------------------------------------
def _offset(d: date, start: date) -> int:
    return (d - start).days


def test_campaign_base_matches_seed_003(provision_template):
    s = seed("003-campaign.yaml")
    text = seed_text(s)
    _in_seed_text(text, s["columns"] + [t[k] for t in s["tasks"] for k in ("name", "role", "risk", "note")]
                  + [t["name"] for t in s["text_tasks"]] + [m["text"] for m in s["milestones"]]
                  + [p["name"] for p in s["phases"]] + list(s["raci"].values()) + [s["emergency_tag"]]
                  + s["outputs"] + [s["permissions"]])
    res, snap, fields = provision_template("campaign", name="品牌618周年庆")
    seed_start: date = s["start"]
    # the task table's columns are the seed's header, in the seed's order
    names = field_order(fields["task"])
    assert [n for n in names if n in s["columns"]] == s["columns"]
    assert names.index("负责人角色") == names.index("负责人") + 1  # the role right next to the person
    tasks = {t.task_id: t for t in snap.tasks}
    for x in s["tasks"]:  # names, phases, roles and every date offset exactly as the seed's
        t = tasks[x["id"]]
        assert (t.name, t.phase, t.owner_role) == (x["name"], x["phase"], x["role"]), x["id"]
        assert (_offset(t.planned_start, START), _offset(t.planned_end, START)) == (
            _offset(x["planned"][0], seed_start), _offset(x["planned"][1], seed_start)), x["id"]
        assert t.actual_start is None and t.progress == 0 and not t.risk_note  # a clean plan by default
    windows = {p["name"]: (_offset(p["start"], seed_start), _offset(p["end"], seed_start)) for p in s["phases"]}
    for t in snap.tasks:  # tasks the seed names without dates stay inside their phase
        lo, hi = windows[t.phase]
        assert lo <= _offset(t.planned_start, START) <= _offset(t.planned_end, START) <= hi, t.task_id
    for x in s["text_tasks"]:
        t = next(t for t in snap.tasks if t.name == x["name"])
        assert (t.phase, t.owner_role) == (x["phase"], x["role"])
    assert [(m.name, m.phase, _offset(m.target_date, START)) for m in snap.milestones] == [
        (m["name"], m["phase"], _offset(m["by"], seed_start)) for m in s["milestones"]]
    assert _offset(max(t.planned_end for t in snap.tasks), START) == windows["收尾期"][1]  # ends 6.30, not 7.09
    assert _offset(snap.project.launch_date, START) == _offset(s["tasks"][5]["planned"][0], seed_start)  # E001
    assert "活动日期" in fields["project"] and "目标发布日期" not in fields["project"]
    raci = next(t for t in snap.tasks if t.name == s["raci"]["task"])
    assert (raci.owner_role, raci.approver_role, raci.consulted_role, raci.informed_role) == (
        s["raci"]["R"], s["raci"]["A"], s["raci"]["C"], s["raci"]["I"])
    assert [o["name"] for o in fields["task"]["标签"]["property"]["options"]] == [s["emergency_tag"]]
    assert set(s["roles"]) <= {o["name"] for o in fields["task"]["负责人角色"]["property"]["options"]}
    assert {d.name: d.phase for d in snap.deliverables}[s["outputs"][0]] == "收尾期"
    assert "GTM类型" not in fields["project"]


def test_campaign_example_is_the_seeds_worked_example(provision_template):
    s = seed("003-campaign.yaml")
    res, snap, fields = provision_template("campaign", name="品牌618周年庆", example=True)
    seed_start: date = s["start"]
    assert sorted(t.task_id for t in snap.tasks) == sorted(x["id"] for x in s["tasks"])
    for x in s["tasks"]:
        t = next(t for t in snap.tasks if t.task_id == x["id"])
        assert (_offset(t.actual_start, START), _offset(t.actual_end, START)) == (
            _offset(x["actual"][0], seed_start), _offset(x["actual"][1], seed_start)), x["id"]
        assert (round(t.progress * 100), t.status, t.risk_note, t.note) == (
            x["progress"], x["status"], x["risk"], x["note"]), x["id"]
    # the service reads and checks the example like any plan: the seed's milestones were met on time
    snap.project_slug = "demo618"
    when = datetime.combine(START + timedelta(days=61), time(10), TZ)
    result = run_checks(snap, when, Policy(template="campaign"))
    assert [p for p in result.problems if p.field != "owner"] == []  # (owners are the team's to fill)
    assert {m.status for m in snap.milestones} == {"完成"}
    assert not [n for n in result.notices if n.kind == "gate"]

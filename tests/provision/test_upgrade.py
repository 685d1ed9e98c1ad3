"""Upgrades in place: Bases made by the previous release (fixtures/previous_release.json, written by
fixtures/make_previous_release.py with that release's code) keep working, and `gtm init --repair`
adds the new tables and fields without removing or renaming anything of theirs.
"""
from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest

from gtm.schemas.tables import PLAN_TABLES, tables_for
from gtm.sync.binding import BaseBinding
from gtm.sync.provision_read import Reader
from gtm.sync.records import decode_record

FIXTURE = Path(__file__).parent / "fixtures" / "previous_release.json"
TZ = ZoneInfo("Asia/Shanghai")


@pytest.fixture
def previous(sandbox, seed):
    """Load the previous release's Bases into this test's sandbox; → {template: BaseBinding}."""
    data = json.loads(FIXTURE.read_text(encoding="utf-8"))
    sandbox.bitable.load_json(data["state"])
    out = {}
    for template, fields in data["bindings"].items():
        row = SimpleNamespace(slug=template, base_token=fields["base_token"], table_ids=fields["table_ids"],
                              field_ids=fields["field_ids"], view_ids=fields["view_ids"],
                              timezone=fields["timezone"], base_url=fields["base_url"])
        out[template] = BaseBinding.from_row(row)
    return out


def _records(gateway, b: BaseBinding) -> dict[str, dict[str, dict]]:
    rd = Reader(gateway)
    return {k: {r["record_id"]: r["fields"] for r in rd.records(b.app_token, tid)} for k, tid in b.table_ids.items()}


def _decoded_problems(gateway, b: BaseBinding) -> list:
    rd = Reader(gateway)
    out = []
    for k, tid in b.table_ids.items():
        for raw in rd.records(b.app_token, tid):
            out += decode_record(PLAN_TABLES[k], raw, TZ, b)[1]
    return out


@pytest.mark.parametrize("template", ["gtm", "sales", "campaign"])
def test_previous_release_base_reads_then_repair_adds_only(previous, gateway, run_init, writes, sandbox, template):
    old = previous[template]
    before = _records(gateway, old)
    assert _decoded_problems(gateway, old) == []  # the service reads the old Base as it is
    mark = sandbox.journal.mark()
    plan, res = run_init(old, template=template, repair=True)
    made = writes(mark)
    assert not [w for w in made if w["method"] == "DELETE" or "batch_delete" in w["path"]]
    assert {s.op for s in plan.steps} <= {"create_table", "create_field", "create_view", "seed_rows", "fix_options"}
    seeded = {s.table for s in plan.steps if s.op == "seed_rows"}
    assert seeded <= {"communication", "payment"}  # only tables that did not exist get template rows
    b = res.binding
    after = _records(gateway, b)
    for key, rows in before.items():  # every old record and cell is still there, unchanged
        for rid, cells in rows.items():
            assert {n: v for n, v in after[key][rid].items() if n in cells} == cells, (key, rid)
    # the template's tables and fields are all there now (found by the old names where they differ)
    rd = Reader(gateway)
    for spec in tables_for(template):
        have = {f["field_name"] for f in rd.fields(b.app_token, b.table_ids[spec.key])}
        for f in spec.fields:
            assert b.field_name(spec.key, f.attr) in have, (spec.key, f.attr)
    assert "communication" in b.table_ids and (template != "sales" or "payment" in b.table_ids)
    assert _decoded_problems(gateway, b) == []
    again_mark = sandbox.journal.mark()
    plan2, _ = run_init(b, template=template)
    assert plan2.steps == [] and writes(again_mark) == []  # a second run writes nothing


def test_old_campaign_column_names_are_followed_not_duplicated(previous, gateway, run_init):
    """The campaign Base of the previous release says 计划开始/状态/阶段; the template now says
    计划开始时间/当前状态/所属阶段 (docs/seeds/003 §3). Found by id, or by the old name when the binding is
    lost (adopting the Base by token): no second column is created and nothing is renamed."""
    old = previous["campaign"]
    lost = BaseBinding(slug="campaign", app_token=old.app_token)
    plan, res = run_init(lost, template="campaign")
    created = {s.attr for s in plan.steps if s.op == "create_field" and s.table == "task"}
    assert not created & {"phase", "planned_start", "planned_end", "actual_start", "actual_end", "progress",
                          "status"}
    assert {"owner_role", "tags"} <= created
    kinds = {f.kind for f in plan.findings if f.table == "task"}
    assert "field_old_name" in kinds and "field_renamed" not in kinds
    b = res.binding
    assert b.field_name("task", "planned_start") == "计划开始"  # the old column, followed
    assert b.field_name("task", "status") == "状态"
    assert _decoded_problems(gateway, b) == []

"""`gtm init` on an empty tenant creates the Base; a second run and a dry run write nothing."""
from __future__ import annotations

import json

import pytest

from gtm.schemas.fields import FieldType, ViewType
from gtm.schemas.tables import tables_for
from gtm.schemas.templates import get_template
from gtm.sync.binding import BaseBinding
from gtm.sync.provision import apply_provision, base_url, register_project
from gtm.sync.provision_plan import plan_provision
from gtm.sync.provision_read import Reader
from gtm.sync.store.base import Base, Store, make_engine
from gtm.sync.store.registry import get_project

from datetime import date

START = date(2025, 3, 3)


def _names(rec, field):
    v = rec["fields"].get(field)
    return "".join(x.get("text", "") for x in v) if isinstance(v, list) else v


def test_init_creates_everything(sandbox, gateway, run_init, writes):
    mark = sandbox.journal.mark()
    _, res = run_init()
    b = res.binding
    assert res.base_created and b.app_token and b.base_url.endswith(b.app_token)
    rd = Reader(gateway)
    tables = {t["name"]: t["table_id"] for t in rd.tables(b.app_token)}
    gtm_tables = tables_for("gtm")
    assert set(tables) == {s.name for s in gtm_tables}  # the default table was reused, not left over
    assert b.table_ids == {s.key: tables[s.name] for s in gtm_tables}
    for spec in gtm_tables:
        fields = {f["field_name"]: f for f in rd.fields(b.app_token, tables[spec.name])}
        assert set(fields) == {f.name for f in spec.fields}, spec.key  # default fields removed
        for f in spec.fields:
            a = fields[f.name]
            assert a["type"] == int(f.type), (spec.key, f.name)
            assert b.field_ids[spec.key][f.attr] == a["field_id"]
            if f.options:
                got = [(o["name"], o["color"]) for o in a["property"]["options"]]
                assert got == [(o.name, o.color) for o in f.options]
            if f.link_table:
                assert a["property"]["table_id"] == b.table_ids[f.link_table]
        assert fields[spec.primary.name].get("is_primary")
        assert fields["最后修改时间"]["type"] == FieldType.MODIFIED_TIME
        views = {v["view_name"]: v for v in rd.views(b.app_token, tables[spec.name])}
        assert set(views) == {v.name for v in spec.views}
        for v in spec.views:
            assert views[v.name]["view_type"] == v.type.value
    task_views = {v["view_name"]: v for v in rd.views(b.app_token, b.table_ids["task"])}
    assert task_views["任务看板"]["view_type"] == ViewType.KANBAN.value
    assert task_views["任务甘特"]["view_type"] == ViewType.GANTT.value
    # a filtered grid carries filter_info with field ids (read back through GET view)
    from lark_oapi.api.bitable.v1 import GetAppTableViewRequest
    req = (GetAppTableViewRequest.builder().app_token(b.app_token).table_id(b.table_ids["task"])
           .view_id(b.view_ids["task"]["逾期"]).build())
    view = gateway.call("v", lambda: gateway.client.bitable.v1.app_table_view.get(req))
    conds = view.view.property.filter_info.conditions
    assert {c.field_id for c in conds} == {b.field_ids["task"]["planned_end"], b.field_ids["task"]["status"]}
    assert json.loads(next(c.value for c in conds if c.operator == "isNot")) == ["已完成"]

    # rows: M1–M9 with the names of docs/seeds/000, deliverables with 完成标准 linked to their milestone
    ms = rd.records(b.app_token, b.table_ids["milestone"])
    by_code = {_names(r, "编号"): r for r in ms}
    tmpl = get_template("gtm")
    assert {c: _names(r, "名称") for c, r in by_code.items()} == {m.code: m.name for m in tmpl.milestones}
    assert all(r["fields"]["状态"] == "未开始" for r in ms)
    dl = rd.records(b.app_token, b.table_ids["deliverable"])
    assert len(dl) == sum(len(m.deliverables) for m in tmpl.milestones)
    icp = next(r for r in dl if _names(r, "名称") == "ICP 定义文档")
    assert _names(icp, "完成标准") == "完成 5.2 工作表"
    assert icp["fields"]["里程碑"]["link_record_ids"] == [by_code["M1"]["record_id"]]
    deps = rd.records(b.app_token, b.table_ids["dependency"])
    prod = next(r for r in deps if _names(r, "依赖项") == "产品功能完成")
    assert set(prod["fields"]["影响的里程碑"]["link_record_ids"]) == {by_code["M3"]["record_id"],
                                                                  by_code["M4"]["record_id"]}
    project = rd.records(b.app_token, b.table_ids["project"])
    assert len(project) == 1  # the platform's empty default rows are gone
    assert _names(project[0], "项目名称") == "新品发布"
    assert res.writes == len(writes(mark))
    assert not res.problems


def test_second_run_and_dry_run_write_nothing(sandbox, gateway, provisioned, run_init, writes):
    mark = sandbox.journal.mark()
    plan, res = run_init(provisioned.binding)
    assert plan.steps == [] and plan.findings == []
    assert res.writes == 0 and writes(mark) == []
    assert res.binding.table_ids == provisioned.binding.table_ids
    assert res.binding.view_ids == provisioned.binding.view_ids
    mark = sandbox.journal.mark()
    dry = plan_provision(gateway, binding=None, name="另一个", template="gtm", start=START, slug="x")
    assert dry.create_base and dry.writes > 50
    assert any("创建表「任务」" == s.label for s in dry.steps)
    assert writes(mark) == []  # planning a new Base makes no calls at all


@pytest.mark.parametrize("key,first,count", [("sales", "S1", 5), ("campaign", "MS1", 2)])
def test_other_templates_with_progress(gateway, key, first, count):
    seen = []
    plan = plan_provision(gateway, name=f"{key} 项目", template=key, start=START, slug=key)
    res = apply_provision(plan, gateway, progress=lambda step, done, total: seen.append((step, done, total)))
    assert seen[-1][1] == seen[-1][2] and all(0 < d <= t for _, d, t in seen) and "任务" in "".join(s for s, _, _ in seen)
    b = res.binding
    rd = Reader(gateway)
    ms = rd.records(b.app_token, b.table_ids["milestone"])
    assert len(ms) == count and first in {_names(r, "编号") for r in ms}
    tasks = rd.records(b.app_token, b.table_ids["task"])
    tmpl = get_template(key)
    assert sorted(_names(r, "任务ID") for r in tasks) == sorted(t.task_id for t in tmpl.tasks)
    linked = {t.task_id for t in tmpl.tasks if t.milestone}
    assert all(r["fields"].get("里程碑", {}).get("link_record_ids") for r in tasks if _names(r, "任务ID") in linked)
    assert all("负责人" not in r["fields"] and "审批人" not in r["fields"] for r in tasks)  # RACI empty


def test_registry(provisioned, sqlite_url):
    res = provisioned
    res.binding.field_names = {"task": {"status": "进展"}}
    store = Store(make_engine(sqlite_url))
    Base.metadata.create_all(store.engine)
    with store.session() as s:
        register_project(s, "p1", "带进度", "gtm", res.binding, ["oc_1"])
    with store.session() as s:
        register_project(s, "p1", "带进度", "gtm", res.binding, ["oc_1", "oc_2"])
    with store.session() as s:
        row = get_project(s, "p1")
        assert row.chat_ids == ["oc_1", "oc_2"] and row.template == "gtm"
        back = BaseBinding.from_row(row)
    assert back.table_ids == res.binding.table_ids and back.field_name("task", "status") == "进展"
    assert base_url("bascnX", "example") == "https://example.feishu.cn/base/bascnX"


def test_lost_binding_finds_the_tables_by_name(sandbox, gateway, provisioned, writes):
    """Find-or-create: with only the Base token, every table and field is found again by name,
    no template rows are added to tables that hold data, and nothing is written."""
    b = provisioned.binding
    mark = sandbox.journal.mark()
    plan = plan_provision(gateway, binding=BaseBinding(slug="demo", app_token=b.app_token), name="新品发布",
                          template="gtm", start=START, slug="demo")
    assert plan.steps == [] and writes(mark) == []
    assert plan.binding.table_ids == b.table_ids and plan.binding.field_ids == b.field_ids
    assert plan.binding.view_ids == b.view_ids
    assert {f.kind for f in plan.findings} == {"table_not_empty"}
    assert "表「里程碑」已有" in next(f.message for f in plan.findings if f.table == "milestone")


def test_missing_base_is_a_clear_error(gateway):
    from gtm.sync.provision_plan import BaseMissing

    with pytest.raises(BaseMissing, match="bascnGone"):
        plan_provision(gateway, binding=BaseBinding(slug="x", app_token="bascnGone"), name="x",
                       template="gtm", start=START, slug="x")

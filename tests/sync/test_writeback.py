"""Write-back against the sandbox: minimal batches, idempotence, never overwriting a person."""
from __future__ import annotations

import math
from datetime import timedelta

import pytest

from gtm.sandbox import SandboxConfig
from gtm.schemas.decisions import CellWrite
from gtm.sync.mirror import Mirror
from gtm.bot.cli.sync_table import render_summary
from gtm.sync.refresh import sync_project
from gtm.sync.writeback import WriteBackError, WriteRefused, apply, plan_writes, write_user_action

from tests.support.sync_bases import T0, calls, create_rows, make_base

N = 1_200


@pytest.fixture
def sandbox_config() -> SandboxConfig:
    return SandboxConfig(batch_limit=500)


@pytest.fixture
def setup(gateway, sandbox, store, sb_clock, seed):
    b = make_base(gateway, ["milestone", "task", "issue"])
    ids = create_rows(gateway, b, "task", [{"task_id": f"T{i}", "name": f"任务{i}", "status": "进行中"}
                                           for i in range(N)])
    sandbox.bitable.add_member(b.app_token, "openid", seed.users["member"], "edit")
    m = Mirror(store, gateway, b)
    m.refresh(T0)
    return b, ids, m


def cell(sandbox, b, key, rid, name):
    return sandbox.bitable.record(b.app_token, b.table_ids[key], rid)["fields"].get(name)


def test_write_back_uses_minimal_batches_and_is_idempotent(setup, gateway, sandbox):
    b, ids, m = setup
    writes = [CellWrite(table="task", record_id=rid, attr="variance_days", value=i % 7 + 1)
              for i, rid in enumerate(ids)]
    plan = plan_writes(writes, m, batch_limit=500)
    assert (plan.records, plan.cells, plan.calls) == (N, N, math.ceil(N / 500))
    mark = sandbox.journal.mark()
    report = apply(plan, m, gateway)
    assert calls(sandbox, mark, "/records/batch_update") == 3 == report.update_calls
    assert calls(sandbox, mark, "/records/batch_get") == math.ceil(N / 100) == report.get_calls
    assert calls(sandbox, mark, "", write=True) == 3
    assert report.written_records == N and report.conflicts == []
    assert cell(sandbox, b, "task", ids[5], "偏差(天)") == 6
    # the mirror holds the written values: a second pass plans nothing and writes nothing
    mark = sandbox.journal.mark()
    again = plan_writes(writes, m, batch_limit=500)
    assert again.is_empty() and again.unchanged == N
    assert apply(again, m, gateway).calls == 0
    assert calls(sandbox, mark, "") == 0
    # and after a refresh (Feishu echoes our writes with new modified times) still nothing to do
    m.refresh(T0 + timedelta(hours=1))
    assert plan_writes(writes, m).is_empty()
    assert {t.variance_days for t in m.snapshot().tasks} == set(range(1, 8))


def test_a_concurrent_human_edit_is_never_overwritten(setup, gateway, sandbox, sb_clock, seed):
    b, ids, m = setup
    plan = plan_writes([CellWrite(table="task", record_id=ids[0], attr="status", value="延期"),
                        CellWrite(table="task", record_id=ids[1], attr="status", value="延期"),
                        CellWrite(table="task", record_id=ids[2], attr="variance_days", value=3)], m)
    sb_clock.set(T0 + timedelta(minutes=5))  # a person edits between our read and our write
    sandbox.bitable.act_update(seed.users["member"], b.app_token, b.table_ids["task"], ids[0], {"状态": "已完成"})
    sandbox.bitable.act_update(seed.users["member"], b.app_token, b.table_ids["task"], ids[2], {"备注": "改了备注"})
    report = apply(plan, m, gateway)
    assert sorted(report.conflicts) == sorted([("task", ids[0]), ("task", ids[2])])
    assert report.written_records == 1
    assert cell(sandbox, b, "task", ids[0], "状态") == "已完成"  # the person's value stays
    assert cell(sandbox, b, "task", ids[1], "状态") == "延期"
    assert cell(sandbox, b, "task", ids[2], "偏差(天)") is None
    # the mirror already knows the person's version; the next cycle re-plans from it
    snap = {t.record_id: t for t in m.snapshot().tasks}
    assert snap[ids[0]].status == "已完成" and snap[ids[2]].note == "改了备注"
    report = apply(plan_writes([CellWrite(table="task", record_id=ids[2], attr="variance_days", value=3)], m), m)
    assert report.written_records == 1 and cell(sandbox, b, "task", ids[2], "偏差(天)") == 3


def test_user_fields_are_refused_but_card_actions_write_them(setup, gateway, sandbox):
    b, ids, m = setup
    with pytest.raises(WriteRefused, match="任务.负责人"):
        plan_writes([CellWrite(table="task", record_id=ids[0], attr="owner", value="ou_x")], m)
    with pytest.raises(WriteRefused, match="no field"):
        plan_writes([CellWrite(table="task", record_id=ids[0], attr="nope", value=1)], m)
    mark = sandbox.journal.mark()
    write_user_action(m, "task", ids[0], {"status": "已完成", "progress": 1.0}, actor_open_id="ou_sandbox_pm")
    assert calls(sandbox, mark, "", write=True) == 1
    assert cell(sandbox, b, "task", ids[0], "状态") == "已完成" and cell(sandbox, b, "task", ids[0], "进度") == 1
    assert next(t for t in m.snapshot().tasks if t.record_id == ids[0]).status == "已完成"


def test_write_faults_are_retried_and_end_with_the_right_data(setup, gateway, sandbox):
    b, ids, m = setup
    sandbox.inject("/records/batch_update", "code", count=1, code=1254291)  # write conflict
    sandbox.inject("/records/batch_update", "429", count=1)
    sandbox.inject("/records/batch_update", "5xx", count=1)
    sandbox.inject("/records/batch_get", "timeout", count=1, delay=0.05)
    plan = plan_writes([CellWrite(table="task", record_id=rid, attr="status", value="延期") for rid in ids[:700]], m)
    report = apply(plan, m, gateway)
    assert report.written_records == 700 and report.update_calls == 2
    assert gateway.stats.retries["bitable.record.batch_update"] == 3
    got = [cell(sandbox, b, "task", rid, "状态") for rid in ids[:701]]
    assert got[:700] == ["延期"] * 700 and got[700] == "进行中"


def test_a_missing_field_stops_with_a_message_naming_table_and_field(setup, gateway, sandbox):
    b, ids, m = setup
    _, t = sandbox.bitable.table(b.app_token, b.table_ids["task"])
    with sandbox.world.lock:
        t.field_by_name("偏差(天)").name = "偏差天数"  # someone renamed it after we read
    plan = plan_writes([CellWrite(table="task", record_id=ids[0], attr="variance_days", value=2),
                        CellWrite(table="task", record_id=ids[1], attr="status", value="延期")], m)
    with pytest.raises(WriteBackError) as exc:
        apply(plan, m, gateway)
    assert exc.value.table == "task" and exc.value.fields == ["偏差(天)"]
    assert "任务" in str(exc.value) and "偏差(天)" in str(exc.value) and "1254045" in str(exc.value)
    assert gateway.stats.retries["bitable.record.batch_update"] == 0  # not retried


def test_sync_project_counts_calls_and_renders(setup, gateway, sandbox, store):
    from rich.console import Console

    b, ids, m = setup
    summary = sync_project(store, gateway, b, T0 + timedelta(hours=1), full=True)
    assert summary.report.full and summary.counts()["task"] == N
    # tasks in 3 pages + 2 empty tables, and one field list per table (the schema-drift comparison)
    assert summary.calls == {"bitable.record.search": 3 + 1 + 1, "bitable.field.list": 3}
    console = Console(record=True, width=120)
    console.print(render_summary(summary))
    text = console.export_text()
    assert "任务" in text and str(N) in text and "bitable.record.search" in text
    summary = sync_project(store, gateway, b, T0 + timedelta(hours=2))
    assert summary.total_calls == 3 + 3 and summary.report.changed == 0  # 3 searches + 3 field lists


def test_a_computed_value_can_be_cleared(setup, gateway, sandbox, store):
    """None clears a cell (e.g. 偏差(天) after a date moved later); the SDK's typed models would drop it."""
    b, ids, m = setup
    rid = ids[0]
    apply(plan_writes([CellWrite(table="task", record_id=rid, attr="variance_days", value=4)], m), m, gateway)
    assert cell(sandbox, b, "task", rid, "偏差(天)") == 4
    m.refresh(T0 + timedelta(minutes=5))
    report = apply(plan_writes([CellWrite(table="task", record_id=rid, attr="variance_days", value=None)], m),
                   m, gateway)
    assert report.written_cells == 1
    assert cell(sandbox, b, "task", rid, "偏差(天)") is None
    m.refresh(T0 + timedelta(minutes=10))
    assert next(t for t in m.snapshot().tasks if t.record_id == rid).variance_days is None

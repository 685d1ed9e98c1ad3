"""The mirror against the sandbox through the real SDK: paging, incremental refresh, reconcile."""
from __future__ import annotations

import math
from datetime import timedelta

import pytest

from gtm.schemas.plan import Person
from gtm.sync.mirror import Mirror
from gtm.sync.reader import ReadResult

from tests.support.sync_bases import T0, calls, create_rows, make_base, ms

N = 2_100  # > 4 pages of 500
SMALL = 1_100  # 3 pages


@pytest.fixture
def plan(request, gateway, sandbox, sb_clock, seed):
    """A Base with milestones and N tasks (default 2,100) created in batches a minute apart."""
    n = getattr(request, "param", N)
    b = make_base(gateway, ["milestone", "task"])
    mids = create_rows(gateway, b, "milestone", [{"code": "M1", "name": "上市"}, {"code": "M2", "name": "复盘"}])
    ids: list[str] = []
    for i in range(0, n, 500):
        sb_clock.set(T0 + timedelta(minutes=i // 500))
        ids += create_rows(gateway, b, "task", [
            {"task_id": f"T{j:04d}", "name": f"任务{j}", "milestone": [mids[j % 2]],
             "owner": seed.users["member"], "progress": 0.1, "status": "进行中",
             "planned_end": (T0 + timedelta(days=j % 30)).date()} for j in range(i, min(n, i + 500))])
    sandbox.bitable.add_member(b.app_token, "openid", seed.users["member"], "edit")
    return b, mids, ids


def edit(sandbox, b, key, rid, fields, who):
    sandbox.bitable.act_update(who, b.app_token, b.table_ids[key], rid, fields)


def test_full_read_pages_with_minimum_calls(plan, gateway, sandbox, store):
    b, mids, ids = plan
    mark = sandbox.journal.mark()
    before = gateway.stats.total("bitable.record.search")
    report = Mirror(store, gateway, b).refresh(T0 + timedelta(hours=1))
    assert calls(sandbox, mark, "/records/search") == math.ceil(N / 500) + 1  # + one for milestones
    assert gateway.stats.total("bitable.record.search") - before == math.ceil(N / 500) + 1
    t = report.table("task")
    assert (t.mode, t.read, t.changed, t.deleted, t.calls, t.total) == ("full", N, N, 0, 5, N)
    snap = Mirror(store, gateway, b).snapshot(T0)
    assert len(snap.tasks) == N and len(snap.milestones) == 2 and snap.problems == []
    assert {t.record_id for t in snap.tasks} == set(ids)
    task = next(t for t in snap.tasks if t.task_id == "T0007")
    assert task.milestone == [mids[1]] and task.owner.name == "王芳" and task.progress == 0.1
    assert task.planned_end == (T0 + timedelta(days=7)).date()
    assert task.modified_at == T0  # created in the first batch


def test_incremental_refresh_reads_only_recent_changes(plan, gateway, sandbox, store, sb_clock, seed):
    b, mids, ids = plan
    m = Mirror(store, gateway, b)
    m.refresh(T0 + timedelta(hours=1))
    snap0 = m.snapshot()
    sb_clock.set(T0 + timedelta(hours=2))
    for rid, status in zip((ids[3], ids[1500], ids[-1]), ("已完成", "阻塞", "延期")):
        edit(sandbox, b, "task", rid, {"状态": status}, seed.users["member"])
    mark = sandbox.journal.mark()
    report = m.refresh(T0 + timedelta(hours=3))
    t = report.table("task")
    assert t.mode == "incremental" and t.changed == 3 and t.deleted == 0
    assert t.calls == 1 and calls(sandbox, mark, "/records/search") == 2  # task + milestone table
    body = next(e["body"] for e in sandbox.journal.since(mark) if b.table_ids["task"] in e["path"])
    assert body["filter"]["conditions"][0]["operator"] == "isGreater" and body["sort"][0]["desc"] is True
    snap = m.snapshot()
    by_id = {x.record_id: x for x in snap.tasks}
    assert [by_id[r].status for r in (ids[3], ids[1500], ids[-1])] == ["已完成", "阻塞", "延期"]
    assert by_id[ids[3]].modified_at == T0 + timedelta(hours=2)
    # unchanged rows are the very same decoded objects: only the changed table was re-decoded
    assert snap.milestones[0] is snap0.milestones[0]
    # nothing changed since: one search call per table, nothing changed
    report = m.refresh(T0 + timedelta(hours=4))
    assert report.changed == 0 and report.calls == 2


@pytest.mark.parametrize("plan", [SMALL], indirect=True)
def test_deleted_record_disappears_at_reconcile(plan, gateway, sandbox, store, seed):
    b, mids, ids = plan
    m = Mirror(store, gateway, b, reconcile_interval=timedelta(hours=24))
    m.refresh(T0 + timedelta(hours=1))
    sandbox.bitable.act_delete(seed.users["member"], b.app_token, b.table_ids["task"], ids[10])
    assert m.refresh(T0 + timedelta(hours=2)).table("task").deleted == 0  # invisible to incremental
    assert ids[10] in {t.record_id for t in m.snapshot().tasks}
    report = m.refresh(T0 + timedelta(hours=26))  # the last full read is over 24 h old
    assert report.table("task").mode == "full" and report.table("task").deleted == 1
    assert ids[10] not in {t.record_id for t in m.snapshot().tasks}
    assert len(m.snapshot().tasks) == SMALL - 1
    assert m.refresh(T0 + timedelta(hours=27)).table("task").mode == "incremental"
    assert m.refresh(T0 + timedelta(hours=27), full=True).table("task").mode == "full"


@pytest.mark.parametrize("plan", [SMALL], indirect=True)
def test_refresh_records_picks_up_an_edit_in_one_call(plan, gateway, sandbox, store, sb_clock, seed):
    b, mids, ids = plan
    m = Mirror(store, gateway, b)
    m.refresh(T0 + timedelta(hours=1))
    sb_clock.set(T0 + timedelta(hours=2))
    edit(sandbox, b, "task", ids[42], {"负责人": [{"id": seed.users["pm"]}], "进度": 0.9}, seed.users["member"])
    sandbox.bitable.act_delete(seed.users["member"], b.app_token, b.table_ids["task"], ids[43])
    mark = sandbox.journal.mark()
    r = m.refresh_records("task", [ids[42], ids[43]])
    assert r.calls == 1 and calls(sandbox, mark, "/records/batch_get") == 1
    assert (r.changed, r.deleted) == (1, 1)
    task = {t.record_id: t for t in m.snapshot().tasks}
    assert task[ids[42]].owner == Person(open_id=seed.users["pm"], name="张伟") and task[ids[42]].progress == 0.9
    assert ids[43] not in task


@pytest.mark.parametrize("plan", [SMALL], indirect=True)
def test_faults_are_retried_and_end_with_the_right_data(plan, gateway, sandbox, store):
    b, mids, ids = plan
    sandbox.inject("/records/search", "429", count=2)
    sandbox.inject("/records/search", "5xx", count=1)
    sandbox.inject("/records/search", "code", count=1, code=1254607, status=400)
    report = Mirror(store, gateway, b).refresh(T0)
    assert report.table("task").read == SMALL
    assert len(Mirror(store, gateway, b).snapshot().tasks) == SMALL
    assert sum(gateway.stats.retries.values()) == 4 and gateway.stats.rate_limited["bitable.record.search"] == 2


@pytest.mark.parametrize("plan", [SMALL], indirect=True)
def test_client_timeout_is_retried(plan, sandbox, seed, store):
    from gtm.sync.feishu.gateway import Gateway

    b, mids, ids = plan
    gw = Gateway(seed.app_id, seed.app_secret, sandbox.url, timeout=0.3, sleep=lambda s: None)
    sandbox.inject("/records/batch_get", "timeout", count=1, delay=1.0)
    r = Mirror(store, gw, b).refresh_records("task", ids[:5])
    # the client gave up after its 0.3 s timeout (not the 1 s the server took) and retried once
    assert r.read == 5 and gw.stats.retries["bitable.record.batch_get"] == 1


def test_snapshot_reports_links_to_missing_records_and_extra_project_rows(gateway, sandbox, store):
    b = make_base(gateway, ["project", "milestone", "task"])
    m = Mirror(store, gateway, b)
    m.merge_read("milestone", ReadResult(records=[{"record_id": "recM", "fields": {"编号": "M1", "名称": "上市"}}]))
    m.merge_read("task", ReadResult(records=[
        {"record_id": "recT", "fields": {"任务ID": "T1", "任务名称": "x",
                                         "里程碑": {"link_record_ids": ["recM", "recGone"]}}}]))
    m.merge_read("project", ReadResult(records=[{"record_id": "recP1", "fields": {"项目名称": "A"}},
                                                {"record_id": "recP2", "fields": {"项目名称": "B"}}]))
    snap = m.snapshot()
    assert snap.project.name == "A"
    probs = {(p.table, p.record_id, p.field, p.value) for p in snap.problems}
    assert ("task", "recT", "milestone", "'recGone'") in probs
    assert any(p.table == "project" and p.record_id == "recP2" for p in snap.problems)
    assert len(snap.problems) == 2


def test_snapshot_decodes_each_row_once_and_serves_the_cache(gateway, store, monkeypatch):
    """Counts, not timings (speed figures: `python -m gtm.benchmarks`)."""
    import gtm.sync.mirror as mirror_mod
    from gtm.sync.binding import BaseBinding

    decoded: list[str] = []
    real_decoder_for = mirror_mod.decoder_for

    class Counting:  # wraps the shared (cached) decoder without changing it
        def __init__(self, dec) -> None:
            self.dec = dec

        def decode(self, raw):
            decoded.append(raw["record_id"])
            return self.dec.decode(raw)

        def decode_stored(self, rid, fields, lm):  # the mirror's entry point for stored rows
            decoded.append(rid)
            return self.dec.decode_stored(rid, fields, lm)

        def __getattr__(self, name: str):
            return getattr(self.dec, name)

    def counting_decoder_for(table, *args, **kw):
        return Counting(real_decoder_for(table, *args, **kw))

    monkeypatch.setattr(mirror_mod, "decoder_for", counting_decoder_for)
    b = BaseBinding("perf", "basX", table_ids={"milestone": "tblM", "task": "tblT"})
    m = Mirror(store, gateway, b)
    n = 2_000
    recs = [{"record_id": f"rec{i:06d}", "last_modified_time": ms(T0) + i, "fields": {
        "任务ID": [{"type": "text", "text": f"T{i}"}], "任务名称": [{"type": "text", "text": f"任务{i}"}],
        "负责人": [{"id": "ou_1", "name": "张伟"}], "计划结束": ms(T0), "进度": 0.5, "状态": "进行中",
        "里程碑": {"link_record_ids": []}}} for i in range(n)]
    m.merge_read("task", ReadResult(records=recs))
    fresh = Mirror(store, gateway, b)
    snap = fresh.snapshot()
    assert len(snap.tasks) == n and snap.problems == []
    assert len(decoded) == n and len(set(decoded)) == n  # every row decoded exactly once
    again = fresh.snapshot()
    assert len(decoded) == n  # nothing decoded again: served from the cache
    assert again.tasks[0] is snap.tasks[0]
    # a change bumps the table version: the next snapshot sees it
    m.merge_read("task", ReadResult(records=[{**recs[0], "last_modified_time": ms(T0) + n,
                                               "fields": {**recs[0]["fields"], "状态": "阻塞"}}]))
    assert fresh.snapshot().tasks[0].status == "阻塞"
    assert decoded[n:] == [recs[0]["record_id"]]  # another mirror's change: that row, from the store's change log


@pytest.mark.postgres
def test_mirror_on_postgres(pg_store, gateway, sandbox, sb_clock):
    """The same mirror on the real PostgreSQL, in a schema of its own (dropped afterwards)."""
    b = make_base(gateway, ["milestone", "task"], slug="pg-sync-test")
    ids = create_rows(gateway, b, "task", [{"task_id": f"T{i}", "name": "x"} for i in range(600)])
    m = Mirror(pg_store, gateway, b)
    assert m.refresh(T0).table("task").read == 600
    assert {t.record_id for t in Mirror(pg_store, gateway, b).snapshot().tasks} == set(ids)
    sandbox.bitable.add_member(b.app_token, "openid", "ou_sandbox_pm", "edit")
    sandbox.bitable.act_delete("ou_sandbox_pm", b.app_token, b.table_ids["task"], ids[0])
    report = m.refresh(T0 + timedelta(days=2))  # the reconcile is due
    assert (report.table("task").mode, report.table("task").deleted) == ("full", 1)
    assert len(m.snapshot().tasks) == 599


@pytest.mark.parametrize("plan", [SMALL], indirect=True)
def test_listeners_hear_each_change_once(plan, gateway, sandbox, store, seed):
    """Subscribers (the answer cache) are told after a change is stored: once per refresh however
    many tables and batches changed, once per record-change re-read, never when nothing changed."""
    b, mids, ids = plan
    m = Mirror(store, gateway, b)
    heard: list[dict[str, int]] = []
    m.subscribe(lambda mirror: heard.append(mirror.versions()))
    m.refresh(T0 + timedelta(hours=1))  # two tables, three merge batches
    assert len(heard) == 1 and heard[0] == m.versions()
    m.refresh(T0 + timedelta(hours=2))  # nothing changed
    assert len(heard) == 1
    edit(sandbox, b, "task", ids[0], {"任务名称": "改过的名字"}, seed.users["member"])
    m.refresh_records("task", [ids[0]])
    assert len(heard) == 2 and heard[1]["task"] > heard[0]["task"]


def test_stored_fields_read_as_the_standard_library_reads_them():
    """The start-up's JSON reader (orjson) gives the same cells as `json.loads`, NaN included."""
    import json

    from gtm.sync.mirror import stored_fields

    for text in ('{"任务名称": [{"type": "text", "text": "发布\\u4e2d"}], "进度": 0.25, "计划结束": 1798905600000}',
                 '{"负责人": [{"id": "ou_1", "name": "王芳"}], "备注": null, "完成": true, "x": []}',
                 '{"预算": NaN, "y": -Infinity}', b'{"a": 1}'):
        got, want = stored_fields(text), json.loads(text)
        assert repr(got) == repr(want) and type(got) is dict

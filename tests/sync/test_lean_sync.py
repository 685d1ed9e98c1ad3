"""The lean sync path: problem counting without models, generic JSON reads, page-wise merges."""
from __future__ import annotations

from hypothesis import HealthCheck, given, settings, strategies as st

from gtm.schemas.tables import PLAN_TABLES
from gtm.sync.mirror import Mirror
from gtm.sync.reader import ReadResult, Reader
from gtm.sync.records import decoder_for
from gtm.sync.store.mirror import MirrorRecord, MirrorTable

from tests.support.sync_bases import TZ, create_rows, make_base

CELL = st.recursive(st.none() | st.booleans() | st.integers(-10, 2 ** 42) | st.floats(allow_nan=True)
                    | st.text(max_size=4) | st.sampled_from(["进行中", "已完成", "高"]),
                    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
                        st.sampled_from(["text", "id", "name", "link", "link_record_ids", "type"]), inner, max_size=3),
                    max_leaves=6)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_count_problems_equals_the_problems_decode_reports(data):
    spec = data.draw(st.sampled_from(PLAN_TABLES.tables))
    fields = {f.name: data.draw(CELL, label=f.attr) for f in spec.fields if data.draw(st.booleans())}
    if data.draw(st.booleans(), label="unknown column"):
        fields["不认识的列"] = [{"type": "text", "text": "x"}]
    raw = data.draw(st.sampled_from([{"record_id": "recA", "fields": fields}, {"record_id": "recA"},
                                     {"record_id": "recA", "fields": ["odd"]}, "not a record"]))
    dec = decoder_for(spec, TZ)
    assert dec.count_problems(raw) == len(dec.decode(raw)[1])


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_fast_decode_equals_the_field_by_field_decode(data):
    """`decode` walks the cells a record has; `_decode_all` every field of the table: the same
    model (values and fields set) and the same problems in the same order."""
    spec = data.draw(st.sampled_from(PLAN_TABLES.tables))
    names = [f.name for f in spec.fields]
    fields = {n: data.draw(CELL, label=n) for n in data.draw(st.permutations(names))[:data.draw(st.integers(0, len(names)))]}
    if data.draw(st.booleans(), label="unknown column"):
        fields["不认识的列"] = [{"type": "text", "text": "x"}]
    raw = {"record_id": "recA", "fields": fields,
           "last_modified_time": data.draw(st.none() | st.integers(0, 2 ** 42) | st.just("x"))}
    dec = decoder_for(spec, TZ)
    fast, fast_problems = dec.decode(raw)
    slow, slow_problems = dec._decode_all(raw)
    assert fast == slow and fast.model_fields_set == slow.model_fields_set
    assert fast_problems == slow_problems


def test_generic_reads_match_the_typed_sdk_records(gateway, sandbox, seed):
    """search and batch_get through `Gateway.call_json` give what the typed SDK objects gave."""
    from lark_oapi.api.bitable.v1 import SearchAppTableRecordRequest, SearchAppTableRecordRequestBody

    def record_to_raw(rec):  # the SDK's typed record as the read-format dict the mirror keeps
        out = {"record_id": rec.record_id or "", "fields": dict(rec.fields or {})}
        if rec.last_modified_time is not None:
            out["last_modified_time"] = int(rec.last_modified_time)
        return out

    b = make_base(gateway, ["task"])
    ids = create_rows(gateway, b, "task", [{"task_id": f"T{i}", "name": f"任务{i}", "owner": seed.users["member"],
                                            "progress": 0.5} for i in range(7)])
    rd = Reader(gateway, b, page_size=3)
    mark = sandbox.journal.mark()
    got = rd.read_all("task")
    assert got.calls == 3 and [r["record_id"] for r in got.records] == ids
    typed = []
    token = None
    while True:
        req = (SearchAppTableRecordRequest.builder().app_token(b.app_token).table_id(b.table_ids["task"])
               .page_size(3).user_id_type("open_id"))
        if token:
            req = req.page_token(token)
        req = req.request_body(SearchAppTableRecordRequestBody.builder().automatic_fields(True).build()).build()
        data = gateway.call("x", lambda req=req: gateway.client.bitable.v1.app_table_record.search(req))
        typed += [record_to_raw(r) for r in data.items or []]
        if not data.has_more:
            break
        token = data.page_token
    assert got.records == typed
    # the same requests went out: query and body as the typed builder makes them
    sent = [e for e in sandbox.journal.since(mark) if e["path"].endswith("/records/search")]
    def shape(e):  # page tokens name a server-side cursor: compare which parameters were sent
        return sorted((k, v if k != "page_token" else "…") for k, v in e["query"].items())

    assert len(sent) == 6 and [shape(e) for e in sent[:3]] == [shape(e) for e in sent[3:]]
    assert [e["body"] for e in sent[:3]] == [e["body"] for e in sent[3:]]
    bg = rd.batch_get("task", [ids[2], "recGone0000"])
    assert [r["record_id"] for r in bg.records] == [ids[2]] and bg.absent == ["recGone0000"]
    assert bg.records[0] == typed[2]


def test_generic_read_errors_are_typed_and_retried(gateway, sandbox):
    from gtm.sync.feishu.errors import NotFound

    b = make_base(gateway, ["task"])
    create_rows(gateway, b, "task", [{"task_id": "T1", "name": "x"}])
    sandbox.inject("/records/search", "429", count=1)
    sandbox.inject("/records/search", "5xx", count=1)
    before = sum(gateway.stats.retries.values())
    assert Reader(gateway, b).read_all("task").calls == 1
    assert sum(gateway.stats.retries.values()) - before == 2
    b.table_ids["task"] = "tblMissing0000"
    try:
        Reader(gateway, b).read_all("task")
    except NotFound as exc:
        assert exc.code and "任务" in str(exc)
    else:  # pragma: no cover - the assertion above must run
        raise AssertionError("a missing table must raise NotFound")


def test_merge_compares_text_and_counts_like_before(gateway, store):
    """Unchanged records (also ones stored with keys in another order) change nothing; a re-read of
    a reordered row rewrites it canonically without a version bump."""
    from gtm.sync.binding import BaseBinding

    b = BaseBinding("lean", "basX", table_ids={"task": "tblT"})
    m = Mirror(store, gateway, b, tables=["task"])
    recs = [{"record_id": f"rec{i}", "last_modified_time": 1000 + i,
             "fields": {"任务ID": [{"type": "text", "text": f"T{i}"}], "任务名称": f"任务{i}", "进度": 0.5}}
            for i in range(1200)]
    first = m.merge_read("task", ReadResult(records=recs))
    assert (first.changed, first.total, first.problems) == (1200, 1200, 0)
    v = m.versions()["task"]
    again = m.merge_read("task", ReadResult(records=recs))
    assert (again.changed, again.total) == (0, 1200) and m.versions()["task"] == v
    # our own write stores keys in another order: same values, so no change
    m.apply_written("task", {"rec5": {"任务ID": None}})
    m.apply_written("task", {"rec5": {"任务ID": [{"type": "text", "text": "T5"}]}})
    v = m.versions()["task"]
    assert m.merge_read("task", ReadResult(records=recs)).changed == 0 and m.versions()["task"] == v
    assert m.raw_records("task", ["rec5"])["rec5"]["fields"] == recs[5]["fields"]
    # a changed cell counts, an echo of only the modified time does not (but is stored)
    edited = [dict(recs[7], fields={**recs[7]["fields"], "进度": 0.9}), dict(recs[8], last_modified_time=5000)]
    r = m.merge_read("task", ReadResult(records=edited))
    assert r.changed == 1 and m.versions()["task"] > v
    assert m.raw_records("task", ["rec8"])["rec8"]["last_modified_time"] == 5000
    assert {t.record_id: t.progress for t in m.snapshot().tasks}["rec7"] == 0.9
    with store.session() as s:
        assert s.get(MirrorTable, ("lean", "task")).record_count == 1200
        assert s.query(MirrorRecord).count() == 1200


def test_decoded_rows_share_one_key_table_and_behave_as_models():
    """A decoded task costs ~0.35 KB, not ~1.2 KB: its fields are values against the class's
    shared key table (`schemas.plan.share_keys`), even after tasks were made by validation."""
    import tracemalloc

    from gtm.schemas.plan import Person, Task

    Task(task_id="T0", name="先验证一个")  # pydantic assigns `__dict__` whole: must not spoil the table
    Task.model_construct(name="再构造一个")
    dec = decoder_for(PLAN_TABLES["task"], TZ)
    owner = {"id": "ou_1", "name": "王芳"}
    raws = [{"record_id": f"rec{i:06d}", "last_modified_time": 1_760_000_000_000,
             "fields": {"任务ID": f"T{i}", "任务名称": [{"type": "text", "text": f"任务{i}"}],
                        "负责人": [owner], "状态": "进行中", "进度": 0.5}} for i in range(2000)]
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        rows = [dec.decode(r)[0] for r in raws]
        per_row = (tracemalloc.get_traced_memory()[0] - before) / len(rows)
    finally:
        tracemalloc.stop()
    assert per_row < 600, f"{per_row:.0f} bytes per decoded task"
    t = rows[7]
    assert (t.task_id, t.name, t.status, t.progress, t.owner) == ("T7", "任务7", "进行中", 0.5, Person(open_id="ou_1", name="王芳"))
    assert t == Task.model_validate(t.model_dump()) and t.model_copy(update={"name": "x"}).name == "x"
    assert "modified_at" in t.model_fields_set and t.milestone == []

"""After a change the mirror made itself, a snapshot re-decodes only the touched rows — and gets
exactly what a full decode of the store gets (rows, order, data problems); a change made by
another replica (another Mirror) is never patched over."""
from __future__ import annotations

import random

import pytest
from sqlalchemy import func, select

from gtm.sync import mirror as mirror_mod
from gtm.sync.binding import BaseBinding
from gtm.sync.mirror import Mirror
from gtm.sync.reader import ReadResult
from gtm.sync.records import decoder_for as real_decoder_for
from gtm.sync.store.base import Store
from gtm.sync.store.mirror import MirrorChange, MirrorRecord, MirrorTable

from tests.support.concurrency import run_together
from tests.support.sync_bases import T0, ms

B = BaseBinding("patch", "basP", table_ids={"milestone": "tblM", "task": "tblT"})


def record(i: int, *, status: str = "进行中", progress: object = 0.5, at: int = 0,
           after: tuple[int, ...] = (), milestones: tuple[int, ...] = ()) -> dict:
    fields = {
        "任务ID": [{"type": "text", "text": f"T{i}"}], "任务名称": [{"type": "text", "text": f"任务{i}"}],
        "负责人": [{"id": f"ou_{i % 7}", "name": f"成员{i % 7}"}], "计划结束": ms(T0) + i * 86_400_000,
        "进度": progress, "状态": status}
    if after:  # predecessors: a link to the task table itself
        fields["前置任务"] = {"link_record_ids": [f"rec{j:05d}" for j in after]}
    if milestones:
        fields["里程碑"] = {"link_record_ids": [f"recM{j:03d}" for j in milestones]}
    return {"record_id": f"rec{i:05d}", "last_modified_time": ms(T0) + at, "fields": fields}


def milestone(j: int, at: int = 0) -> dict:
    return {"record_id": f"recM{j:03d}", "last_modified_time": ms(T0) + at,
            "fields": {"编号": [{"type": "text", "text": f"M{j}"}], "名称": [{"type": "text", "text": f"里程碑{j}"}]}}


@pytest.fixture
def counted(monkeypatch):
    """How many rows the mirrors decode (every decoder the mirror module makes is wrapped)."""
    decoded: list[str] = []

    class Counting:
        def __init__(self, dec) -> None:
            self.dec = dec

        def decode_stored(self, rid, fields, lm):
            decoded.append(rid)
            return self.dec.decode_stored(rid, fields, lm)

        def __getattr__(self, name: str):
            return getattr(self.dec, name)

    monkeypatch.setattr(mirror_mod, "decoder_for", lambda *a, **kw: Counting(real_decoder_for(*a, **kw)))
    return decoded


def same_as_full_decode(store: Store, m: Mirror) -> None:
    got = m.snapshot()
    full = Mirror(store, None, B).snapshot()  # a Mirror of its own: decodes the whole store
    assert [t.record_id for t in got.tasks] == [t.record_id for t in full.tasks]
    assert got.tasks == full.tasks
    assert got.problems == full.problems


def test_own_changes_re_decode_only_the_touched_rows(store, counted):
    m = Mirror(store, None, B)
    m.merge_read("task", ReadResult(records=[record(i) for i in range(400)]))
    assert len(m.snapshot().tasks) == 400 and len(counted) == 400
    counted.clear()
    # an edit, a bad cell, a new record and a deletion: four rows decoded, not 400
    m.merge_read("task", ReadResult(records=[record(3, status="阻塞", at=1), record(4, progress="五成", at=1),
                                             record(400, at=1)]))
    m.merge_read("task", ReadResult(records=[]), gone=["rec00005"])
    snap = m.snapshot()
    assert sorted(counted) == ["rec00003", "rec00004", "rec00400"]  # the deleted row is just dropped
    assert len(snap.tasks) == 400 and snap.tasks[-1].record_id == "rec00400"
    assert {t.record_id: t.status for t in snap.tasks}["rec00003"] == "阻塞"
    assert [(p.record_id, p.field) for p in snap.problems] == [("rec00004", "progress")]
    # our own write-back: the row it wrote, once
    counted.clear()
    m.apply_written("task", {"rec00007": {"状态": "已完成"}}, modified={"rec00007": ms(T0) + 2})
    assert {t.record_id: t.status for t in m.snapshot().tasks}["rec00007"] == "已完成"
    assert counted == ["rec00007"]
    same_as_full_decode(store, m)


def test_random_changes_match_a_full_decode(store, counted):
    rnd = random.Random(7)
    m = Mirror(store, None, B)
    m.merge_read("task", ReadResult(records=[record(i) for i in range(300)]))
    m.snapshot()
    live, next_id = set(range(300)), 300
    for step in range(40):
        kind = rnd.choice(["edit", "bad", "new", "gone", "write"])
        if kind in ("edit", "bad"):
            picked = rnd.sample(sorted(live), rnd.randint(1, 5))
            m.merge_read("task", ReadResult(records=[
                record(i, status=rnd.choice(["未开始", "进行中", "搞定了"]),
                       progress=rnd.choice([0.1, 0.9, "五成", 7]) if kind == "bad" else 0.2, at=step + 1)
                for i in picked]))
        elif kind == "new":
            m.merge_read("task", ReadResult(records=[record(next_id, at=step + 1)]))
            live.add(next_id)
            next_id += 1
        elif kind == "gone" and len(live) > 10:
            i = rnd.choice(sorted(live))
            m.merge_read("task", ReadResult(records=[]), gone=[f"rec{i:05d}"])
            live.discard(i)
        elif kind == "write":
            i = rnd.choice(sorted(live))
            m.apply_written("task", {f"rec{i:05d}": {"进度": 1.0, "状态": "已完成"}})
        if step % 5 == 4:
            same_as_full_decode(store, m)
    counted.clear()
    m.merge_read("task", ReadResult(records=[record(1, status="阻塞", at=99)]))
    m.snapshot()
    assert counted == ["rec00001"]


def test_links_after_changes_match_a_full_decode(store, counted):
    """Links to records that are not there (deleted, never were) are data problems; after an edit
    only the edited rows' links are looked at again, and the problems are those, in the order, a
    full decode finds — through edits, new and deleted tasks and milestones."""
    rnd = random.Random(11)
    m = Mirror(store, None, B)
    m.merge_read("milestone", ReadResult(records=[milestone(j) for j in range(6)]))

    def links(i: int, live: set[int]) -> dict:
        return {"after": tuple(rnd.sample(sorted(live | {900, 901}), 2)) if rnd.random() < 0.5 else (),
                "milestones": (rnd.randint(0, 7),) if rnd.random() < 0.6 else ()}  # M6, M7 do not exist

    live = set(range(200))
    m.merge_read("task", ReadResult(records=[record(i, **links(i, live)) for i in range(200)]))
    first = m.snapshot()
    assert any(p.field == "predecessors" for p in first.problems)
    assert any(p.field == "milestone" for p in first.problems)
    next_id = 200
    for step in range(60):
        kind = rnd.choice(["edit", "edit", "edit", "new", "gone", "milestone"])
        if kind == "edit":
            picked = rnd.sample(sorted(live), rnd.randint(1, 3))
            m.merge_read("task", ReadResult(records=[record(i, at=step + 1, **links(i, live)) for i in picked]))
        elif kind == "new":
            m.merge_read("task", ReadResult(records=[record(next_id, at=step + 1, **links(next_id, live))]))
            live.add(next_id)
            next_id += 1
        elif kind == "gone":
            i = rnd.choice(sorted(live))
            m.merge_read("task", ReadResult(records=[]), gone=[f"rec{i:05d}"])
            live.discard(i)
        else:
            j = rnd.randint(0, 7)
            if rnd.random() < 0.5:
                m.merge_read("milestone", ReadResult(records=[milestone(j, at=step + 1)]))
            else:
                m.merge_read("milestone", ReadResult(records=[]), gone=[f"recM{j:03d}"])
        same_as_full_decode(store, m)


def test_an_edit_walks_only_its_own_links(store, monkeypatch):
    m = Mirror(store, None, B)
    m.merge_read("milestone", ReadResult(records=[milestone(0)]))
    m.merge_read("task", ReadResult(records=[record(i, after=(i + 1,), milestones=(0,)) for i in range(300)]))
    walked: list[int] = []
    real = mirror_mod._links_of

    def counting(key, f, rows, places, targets):
        places = list(places)
        walked.extend(places)
        return real(key, f, rows, places, targets)

    monkeypatch.setattr(mirror_mod, "_links_of", counting)
    assert [p.record_id for p in m.snapshot().problems] == ["rec00299"]  # its predecessor rec00300 is not there
    assert len(walked) == 3 * 300  # three link fields: milestone, predecessors, parent
    walked.clear()
    m.merge_read("task", ReadResult(records=[record(5, after=(777,), at=1)]))
    assert sorted(p.record_id for p in m.snapshot().problems) == ["rec00005", "rec00299"]
    assert walked == [5, 5, 5]
    walked.clear()
    m.merge_read("task", ReadResult(records=[]), gone=["rec00004"])  # a record went: every link is looked at
    assert sorted(p.record_id for p in m.snapshot().problems) == ["rec00003", "rec00005", "rec00299"]
    assert len(walked) == 3 * 299
    same_as_full_decode(store, m)


def test_another_replicas_changes_are_patched_from_the_store_log(store, counted):
    """Replicas share the store: a change one makes is logged with its version in the same
    transaction, so another replica's next snapshot re-decodes just those rows — and gets what a
    full decode gets."""
    m = Mirror(store, None, B)
    m.merge_read("task", ReadResult(records=[record(i) for i in range(100)]))
    m.snapshot()
    other = Mirror(store, None, B)  # another process's mirror of the same store
    other.merge_read("task", ReadResult(records=[record(8, status="阻塞", at=5), record(100, at=5)]))
    other.merge_read("task", ReadResult(records=[]), gone=["rec00003"])
    m.merge_read("task", ReadResult(records=[record(9, status="阻塞", at=5)]))  # ours: the version after theirs
    other.apply_written("task", {"rec00010": {"状态": "已完成"}}, modified={"rec00010": ms(T0) + 9})
    counted.clear()
    snap = m.snapshot()
    assert sorted(counted) == ["rec00008", "rec00009", "rec00010", "rec00100"]
    assert {t.record_id: t.status for t in snap.tasks if t.record_id in ("rec00008", "rec00009", "rec00010")} == {
        "rec00008": "阻塞", "rec00009": "阻塞", "rec00010": "已完成"}
    assert "rec00003" not in {t.record_id for t in snap.tasks}
    same_as_full_decode(store, m)


def test_a_change_the_log_cannot_list_decodes_the_table(store, counted, monkeypatch):
    """No log entry for a version (a schema drift's re-read bumps without one), an entry too large
    to list, or older than the log keeps: the whole table again, never a wrong patch."""
    m = Mirror(store, None, B)
    m.merge_read("task", ReadResult(records=[record(i) for i in range(100)]))
    m.snapshot()
    other = Mirror(store, None, B)
    monkeypatch.setattr(mirror_mod, "LOGGED_IDS", 1)
    other.merge_read("task", ReadResult(records=[record(1, status="阻塞", at=1), record(2, status="阻塞", at=1)]))
    counted.clear()
    assert sum(t.status == "阻塞" for t in m.snapshot().tasks) == 2 and len(counted) == 100
    monkeypatch.setattr(mirror_mod, "LOGGED_IDS", 1_000)
    with store.session() as s:  # a version moved on without a log entry (as `save_drift` does)
        row = s.get(MirrorTable, ("patch", "task"))
        row.version += 1
    counted.clear()
    m.snapshot()
    assert len(counted) == 100
    for k in range(mirror_mod.CHANGE_LOG + 1):  # more changes than the log keeps
        other.merge_read("task", ReadResult(records=[record(4, progress=round(0.01 * (k + 1), 2), at=10 + k)]))
    counted.clear()
    m.snapshot()
    assert len(counted) == 100
    with store.session() as s:
        kept = s.scalars(select(MirrorChange.version).where(MirrorChange.table_key == "task")).all()
        assert len(kept) == mirror_mod.CHANGE_LOG  # pruned as it goes
    same_as_full_decode(store, m)
    with store.session() as s:  # versions started again (a store restored from a backup): no clash
        s.get(MirrorTable, ("patch", "task")).version = 3
    other.merge_read("task", ReadResult(records=[record(6, status="阻塞", at=500)]))
    with store.session() as s:
        assert s.get(MirrorChange, ("patch", "task", 4)).record_ids == ["rec00006"]
        assert s.scalar(select(func.max(MirrorChange.version)).where(MirrorChange.table_key == "task")) == 4
    same_as_full_decode(store, m)


def test_a_large_change_decodes_the_table(store, counted):
    m = Mirror(store, None, B)
    m.merge_read("task", ReadResult(records=[record(i) for i in range(100)]))
    m.snapshot()
    m.merge_read("task", ReadResult(records=[record(i, status="阻塞", at=1) for i in range(50)]))
    counted.clear()
    assert sum(t.status == "阻塞" for t in m.snapshot().tasks) == 50
    assert len(counted) == 100  # half the table changed: one pass over all of it is cheaper


def _versions_are_counted_exactly(st: Store) -> None:
    """Changes committed at once by several mirrors (replicas) each move the version on."""
    Mirror(st, None, B).merge_read("task", ReadResult(records=[record(i) for i in range(20)]))
    with st.session() as s:
        before = s.get(MirrorTable, ("patch", "task")).version

    def work(n: int) -> None:
        mirror = Mirror(st, None, B)
        for k in range(5):
            mirror.merge_read("task", ReadResult(records=[record(n, status="阻塞", at=100 * n + k + 1)]))

    errors = run_together(work, 4)
    assert not errors
    with st.session() as s:
        assert s.get(MirrorTable, ("patch", "task")).version == before + 20
        assert s.scalar(select(MirrorRecord.modified_ms).where(MirrorRecord.record_id == "rec00002")) == ms(T0) + 205


def test_versions_are_counted_exactly_on_sqlite(store):
    _versions_are_counted_exactly(store)


def test_versions_are_counted_exactly_without_returning(store, monkeypatch, counted):
    """SQLite before 3.35 has no UPDATE … RETURNING: the version is read back in the same
    transaction, and the patch still follows our own changes."""
    monkeypatch.setattr(store.engine.dialect, "update_returning", False)
    _versions_are_counted_exactly(store)
    m = Mirror(store, None, B)
    m.snapshot()
    m.merge_read("task", ReadResult(records=[record(3, status="阻塞", at=999)]))
    counted.clear()
    assert {t.record_id: t.status for t in m.snapshot().tasks}["rec00003"] == "阻塞" and counted == ["rec00003"]


@pytest.mark.postgres
def test_versions_are_counted_exactly_on_postgres(pg_store):
    """Replicas on PostgreSQL: a version read and written back by each would lose one."""
    _versions_are_counted_exactly(pg_store)

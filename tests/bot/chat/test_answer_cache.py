"""The answer cache: an edit reaches the next answer (the changing thread swaps the entry), rules
rerun only when they must, one build per project under concurrency, readers never wait for a
rebuild (copy-on-write), and the indexed item lists equal the plain filter-and-sort."""
from __future__ import annotations

import threading
import time
from datetime import timedelta
from types import SimpleNamespace

import pytest

from gtm.bot.cards import views as V
from gtm.bot.rules import local_date
from gtm.bot.rules import queries as Q
from gtm.bot.chat.answer_cache import CACHE, AnswerCache, ProjectAnswers
from gtm.bot.cards.terminal import card_to_text
from gtm.bot.chat.ask import answer_incoming
from gtm.bot.chat.parse import parse
from gtm.bot.chat.answers import AskContext, view_for
from gtm.bot.chat.item_lists import LIST_CAP
from gtm.schemas.decisions import EscalationState
from gtm.schemas.settings import Policy
from gtm.schemas.tables import table
from tests.support.plans import NOW, create_plan, task
from tests.support.runtime import make_runtime, open_test_store
from tests.support.snapshots import ALICE, build_snapshot


@pytest.fixture
def bot(sandbox, seed, gateway, sqlite_url):
    store = open_test_store(sqlite_url)
    rt = make_runtime(sandbox, seed, gateway, store)
    u = seed.users
    plan = create_plan(rt, slug="alpha", name="Alpha 发布", chat_ids=[seed.chat_id], pm=u["pm"],
                       management=[u["management"]],
                       tasks=[task("T1", "准备发布会物料", u["王芳"], NOW.date() - timedelta(days=3)),
                              task("T2", "渠道培训", u["刘洋"], NOW.date() + timedelta(days=10))])
    project = rt.project("alpha")
    rt.mirror(project).refresh(NOW, full=True)
    yield SimpleNamespace(rt=rt, plan=plan, project=project, u=u, seed=seed)
    store.dispose()


def ask(bot, text: str, who: str, now=NOW) -> str:
    inc = SimpleNamespace(text=text, open_id=who, chat_id=bot.seed.chat_id, chat_type="group")
    return card_to_text(answer_incoming(bot.rt, inc, bot.rt.project("alpha"), now))


def test_an_edit_reaches_the_next_answer(sandbox, bot):
    mirror = bot.rt.mirror(bot.project)
    first = ask(bot, "我的任务", bot.u["王芳"])
    assert "准备发布会物料" in first
    entry = CACHE.peek(mirror)
    again = ask(bot, "我的任务", bot.u["王芳"])
    assert again == first and CACHE.peek(mirror) is entry  # unchanged mirror: the same entry

    # a person renames the task in the Base; the record-change event re-reads that record
    b, tid = bot.plan["binding"], bot.plan["tasks"][0]
    sandbox.bitable.add_member(b.app_token, "openchat", bot.seed.chat_id, "edit")  # the team may edit
    sandbox.bitable.act_update(bot.u["王芳"], b.app_token, b.table_ids["task"], tid,
                               {table("task").field("name").name: "发布会物料（终版）"})
    mirror.refresh_records("task", [tid])
    assert CACHE.peek(mirror) is not entry  # swapped by the refreshing thread, before anyone asks
    after = ask(bot, "我的任务", bot.u["王芳"])
    assert "发布会物料（终版）" in after and "准备发布会物料" not in after
    # …and so does a status change, in an answer that also runs the rules
    sandbox.bitable.act_update(bot.u["王芳"], b.app_token, b.table_ids["task"], tid,
                               {table("task").field("status").name: "已完成"})
    mirror.refresh_records("task", [tid])
    assert "没有需要处理的事项" in ask(bot, "我的任务", bot.u["王芳"])
    assert "发布会物料" not in ask(bot, "逾期", bot.u["pm"])


def test_rules_rerun_per_minute_policy_and_escalation_state():
    snap = build_snapshot()
    runs = []
    jobs: list = []  # background recomputes, run when the test says so

    def run(snapshot, now, policy, states):
        runs.append(now)
        from gtm.bot.rules.engine import run_checks

        return run_checks(snapshot, now, policy, states)

    pa = ProjectAnswers((("task", 1),), snap, spawn=jobs.append)
    pol = Policy()
    a = pa.check(NOW, pol, {}, run)
    assert pa.check(NOW + timedelta(seconds=59), Policy(), {}, run) is a  # same minute, equal policy
    assert len(runs) == 1
    # the clock moved on: the reader gets the last result at once, the new minute's is computed off-path
    assert pa.check(NOW + timedelta(minutes=1), pol, {}, run) is a and len(runs) == 1
    assert pa.check(NOW + timedelta(minutes=1), pol, {}, run) is a and len(jobs) == 1  # one recompute queued
    jobs.pop()()
    b = pa.check(NOW + timedelta(minutes=1), pol, {}, run)
    assert len(runs) == 2 and b is not a
    # far from the last result (another as-of instant): computed for the reader, never served stale
    c = pa.check(NOW + timedelta(days=3), pol, {}, run)
    assert len(runs) == 3 and c is not b and not jobs
    # a changed policy or escalation state (a person acted) is computed at once
    pa.check(NOW + timedelta(days=3), Policy(escalation_days=[1, 2]), {}, run)
    assert len(runs) == 4
    state = EscalationState(table="issue", record_id="recI1", level=1, since=NOW)
    pa.check(NOW + timedelta(days=3), Policy(escalation_days=[1, 2]), {("issue", "recI1"): state}, run)
    assert len(runs) == 5


def test_an_entry_built_without_its_index_builds_it_once_when_asked():
    """`gtm serve` says ready once the mirrors are loaded; the open-item index follows (or the first
    question builds it): concurrent askers share one build."""
    snap = build_snapshot(n_extra_tasks=50)
    pa = ProjectAnswers((("task", 1),), snap, indexed=False)
    assert not pa.indexed
    seen: list[Q.ItemIndex] = []
    threads = [threading.Thread(target=lambda: seen.append(pa.index)) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert pa.indexed and len(seen) == 8 and all(i is seen[0] for i in seen)
    assert pa.build_index() is seen[0]
    expected = Q.ItemIndex(snap)
    assert [i.record_id for i in seen[0].all.items] == [i.record_id for i in expected.all.items]
    assert ProjectAnswers((("task", 1),), snap).indexed  # the default: built with the entry


def test_after_a_small_change_the_index_is_updated_not_rebuilt():
    """The answers after an edit take over the open items of the rows the edit left alone (the
    same objects) and give exactly the index a full build gives: order, owners, counts."""
    import random

    from gtm.schemas.plan import Task

    old = build_snapshot(n_extra_tasks=400)
    before = ProjectAnswers((("task", 1),), old)
    rnd = random.Random(3)
    tasks = list(old.tasks)
    for i in rnd.sample(range(len(tasks)), 12):  # edited: new row objects, as the mirror's patch makes them
        tasks[i] = tasks[i].model_copy(update=rnd.choice([
            {"status": "已完成"}, {"status": "进行中"}, {"planned_end": None}, {"name": "改名"},
            {"owner": None}, {"task_id": tasks[0].task_id, "name": tasks[0].name}]))  # a twin of another row
    del tasks[5]  # deleted
    tasks.append(Task(record_id="recTNEW", task_id="TNEW", name="新任务", owner=ALICE, planned_end=NOW.date()))  # added
    new = old.model_copy(update={"tasks": tasks})
    after = ProjectAnswers((("task", 2),), new, previous=before)
    full = Q.ItemIndex(new)
    assert after.index.all.items == full.all.items and after.index.all.dues == full.all.dues
    assert {o: after.index.owned_by(o).items for o in {i.owner_id for i in full.all.items}} == {
        o: full.owned_by(o).items for o in {i.owner_id for i in full.all.items}}
    assert (after.index.blocked, after.index.milestone_counts) == (full.blocked, full.milestone_counts)
    untouched = {id(it) for it in before.index.all.items}
    assert sum(id(it) in untouched for it in after.index.all.items) >= len(full.all.items) - 14  # taken over
    # a large change is built afresh, with the same result
    redone = ProjectAnswers((("task", 3),), build_snapshot(n_extra_tasks=400), previous=before)
    assert not any(id(it) in untouched for it in redone.index.all.items)


def test_edits_in_place_update_owners_and_counts_as_a_full_build_does():
    """The usual edit (rows replaced in place, none added or removed): found by position; the
    owners it did not touch keep their lists (the same objects), and the blocked and per-milestone
    counts are corrected by the changed rows only — equal to a full build after every round."""
    import random

    from tests.support.snapshots import BOB, PM

    rnd = random.Random(5)
    snap = build_snapshot(n_extra_tasks=300)
    answers = ProjectAnswers((("task", 1),), snap)
    milestones = [m.record_id for m in snap.milestones] + ["recGone"]
    for round_ in range(8):  # Bob's rows are never touched: his list is taken over whole
        tasks, deliverables = list(snap.tasks), list(snap.deliverables)
        for i in rnd.sample([i for i, t in enumerate(tasks) if t.owner != BOB], rnd.randint(1, 6)):
            tasks[i] = tasks[i].model_copy(update=rnd.choice([
                {"status": "阻塞"}, {"status": "已完成"}, {"status": "进行中"}, {"milestone": [rnd.choice(milestones)]},
                {"milestone": []}, {"owner": rnd.choice([ALICE, PM, None])}, {"planned_end": None}]))
        j = rnd.choice([j for j, d in enumerate(deliverables) if d.owner != BOB])
        deliverables[j] = deliverables[j].model_copy(update={"status": rnd.choice(["完成", "进行中"])})
        new = snap.model_copy(update={"tasks": tasks, "deliverables": deliverables})
        after = ProjectAnswers((("task", round_ + 2),), new, previous=answers)
        full = Q.ItemIndex(new)
        owners = {i.owner_id for i in full.all.items} | {i.owner_id for i in answers.index.all.items} | {"ou_nobody"}
        assert after.index.all.items == full.all.items and after.index.all.dues == full.all.dues
        assert {o: after.index.owned_by(o).items for o in owners} == {o: full.owned_by(o).items for o in owners}
        assert (after.index.blocked, after.index.milestone_counts) == (full.blocked, full.milestone_counts)
        assert after.index.owned_by(BOB.open_id).items and after.index.owned_by(BOB.open_id) is answers.index.owned_by(BOB.open_id)
        snap, answers = new, after


def test_cached_check_keeps_what_answers_show_not_notices_and_writes():
    from gtm.bot.rules.engine import run_checks

    snap = build_snapshot(n_extra_tasks=200)
    full = run_checks(snap, NOW, Policy(), {})
    assert full.notices and full.writes  # the plan has overdue work: the full result carries both
    kept = ProjectAnswers((("task", 1),), snap).check(NOW, Policy(), {})
    assert kept.notices == [] and kept.writes == []
    assert kept.rag.color == full.rag.color and V.reasons_of(kept.rag) == V.reasons_of(full.rag)
    assert sum(len(r.records) for r in kept.rag.reasons) < sum(len(r.records) for r in full.rag.reasons)
    issues = [st for st in full.escalations if st.table == "issue"]
    assert issues and kept.escalations == issues and len(full.escalations) > len(issues)
    for issue in snap.issues:  # the levels answers show are the same
        assert Q.issue_level(issue, NOW, Policy(), kept) == Q.issue_level(issue, NOW, Policy(), full)
    assert kept.problems == full.problems and kept.warnings == full.warnings
    assert kept.slips == full.slips  # the report and status card list them (进度影响)


class SlowMirror:
    """Stands in for `Mirror`: versions() and a slow snapshot() that counts its calls."""

    def __init__(self, snapshot) -> None:
        self.version = 1
        self.built = 0
        self.snap = snapshot

    def versions(self) -> dict[str, int]:
        return {"task": self.version}

    def snapshot(self, now=None):
        self.built += 1
        time.sleep(0.05)  # long enough that every thread arrives while the first one builds
        return self.snap


def test_one_build_per_version_while_others_wait():
    cache = AnswerCache()
    m = SlowMirror(build_snapshot())
    got: list[ProjectAnswers] = []
    start = threading.Barrier(8)

    def asker() -> None:
        start.wait()
        got.append(cache.get(m, m.versions(), NOW))

    threads = [threading.Thread(target=asker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert m.built == 1 and len(got) == 8 and all(e is got[0] for e in got)
    m.version = 2  # the mirror changed (in another process: nobody told this cache)
    assert cache.get(m, m.versions(), NOW) is got[0]  # the published entry, at once …
    cache.settle()  # … while the background worker rebuilt
    assert cache.peek(m) is not got[0] and cache.peek(m).versions == (("task", 2),) and m.built == 2
    # a caller holding versions older than the cached entry gets the cached (newer) entry
    assert cache.get(m, {"task": 1}, NOW).versions == (("task", 2),)
    cache.settle()
    assert m.built == 2


class GatedMirror:
    """A mirror whose snapshot() blocks until the test opens the gate (a slow rebuild)."""

    def __init__(self, snapshot) -> None:
        self.version = 1
        self.snap = snapshot
        self.gate = threading.Event()
        self.building = threading.Event()
        self.gate.set()

    def versions(self) -> dict[str, int]:
        return {"task": self.version}

    def snapshot(self, now=None):
        self.building.set()
        assert self.gate.wait(30), "the test never opened the gate"
        return self.snap


def test_readers_never_wait_for_a_rebuild():
    cache = AnswerCache()
    m = GatedMirror(build_snapshot())
    first = cache.get(m, m.versions(), NOW)
    m.gate.clear()
    m.building.clear()
    m.version = 2
    writer = threading.Thread(target=cache.rebuild, args=(m,))  # e.g. a record-change event's thread
    writer.start()
    assert m.building.wait(10)  # the rebuild is under way and blocked on the gate
    answered: list[ProjectAnswers] = []
    reader = threading.Thread(target=lambda: answered.append(cache.get(m, m.versions(), NOW)))
    reader.start()
    reader.join(10)
    # the reader finished while the rebuild is still blocked: it got the published entry
    assert not reader.is_alive() and answered == [first] and writer.is_alive()
    m.gate.set()
    writer.join(10)
    swapped = cache.peek(m)
    assert swapped is not first and swapped.versions == (("task", 2),)
    assert cache.get(m, m.versions(), NOW) is swapped


def test_a_swap_carries_the_rules_result_over():
    cache = AnswerCache()
    m = SlowMirror(build_snapshot())
    first = cache.get(m, m.versions(), NOW)
    first.check(NOW, Policy(), {})
    m.version = 2
    swapped = cache.rebuild(m, NOW)
    assert swapped is not first and swapped.check_runs == 1  # computed by the rebuilding thread
    swapped.check(NOW, Policy(), {})
    assert swapped.check_runs == 1  # the reader found it ready


def _old_rows(snap, keep, day, name=""):
    rows = [V.with_days(r, day) for r in V.open_items(snap, name)]
    return V.by_due([r for r in rows if keep(r)])


@pytest.mark.parametrize("text,asker", [("我的任务", ALICE.open_id), ("我的任务", "ou_nobody"),
                                        ("逾期", ""), ("本周到期", "")])
def test_indexed_lists_equal_filter_then_sort(text, asker):
    snap = build_snapshot(n_extra_tasks=500)
    policy = Policy()
    day = local_date(NOW, policy)
    start = day - timedelta(days=day.weekday())
    end = start + timedelta(days=6)
    horizon = (day + timedelta(days=14)).isoformat()  # 我的任务: overdue and the next two weeks
    keep = {"我的任务": lambda r: r.owner_id == asker and bool(r.due) and r.due <= horizon,
            "逾期": lambda r: bool(r.due) and r.due < day.isoformat(),
            "本周到期": lambda r: bool(r.due) and start.isoformat() <= r.due <= end.isoformat()}[text]
    old = _old_rows(snap, keep, day, "星河")
    ctx = AskContext(project_name="星河", snapshot=snap, now=NOW, policy=policy, asker=asker)
    _, view = view_for(parse(text, []), ctx)
    rows = [r for g in view.groups for r in g.rows.items]
    issues = [r for r in rows if r.table == "issue"]
    mine = [i for i in Q.open_issues(snap) if i.owner and i.owner.open_id == asker] if text == "我的任务" else []
    assert view.total == len(old) + len(mine)
    assert [r.record_id for r in issues] == [i.record_id for i in mine][:max(0, LIST_CAP - len(old))]
    dated = [r for r in rows if r.table != "issue"]
    assert [r.model_dump() for r in dated] == [r.model_dump() for r in old[:LIST_CAP]]
    if view.groups:
        assert view.groups[0].rows.more == max(0, view.total - LIST_CAP)

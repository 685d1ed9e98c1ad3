"""B13: one record edited in a large plan — what the answers rebuild.

Someone edits a cell in Feishu; the record-change event makes the service re-read that record
(`Mirror.refresh_records`, one batch_get through the SDK) and, on the same thread, rebuild the
project's answers (`AnswerCache.rebuild`: the snapshot and its open-item index; the rules follow
on the next question). That thread holds the interpreter while it works, so its CPU time is what
every @mention answered meanwhile competes with. The previous release decoded and indexed the
whole plan again on every edit; now only the edited rows are decoded again (`Mirror._patched`)
and the index takes over the other rows' items (`ItemIndex`). Measured in this process with
`time.thread_time()`: the full build (what a first question or another replica's change costs),
then `edits` edits one after another, each by a person in the sandbox, each read back as the event
handler does. Goal: an edit costs at most a tenth of a full build. The same for a second replica
over the same store (its own mirror and answers): it did not make the change, so it learns which
records changed from the store's change log (`mirror_changes`, written with the version) and
catches up the same way (`AnswerCache.rebuild`, what its background worker runs).
"""
from __future__ import annotations

import time
from statistics import median

from sqlalchemy import select

from gtm.benchmarks.bench_memory import fill_projects
from gtm.benchmarks.common import Bench, Figure, now_local
from gtm.benchmarks.sandbox_side import sb_act_update, sb_add_member
from gtm.bot.chat.answer_cache import AnswerCache
from gtm.sync.binding import BaseBinding
from gtm.sync.mirror import Mirror
from gtm.sync.store.open import open_store
from gtm.sync.store.registry import ProjectRow

GOAL_SHARE = 0.1  # an edit's rebuild, as a share of a full build


def b13_edit(b: Bench, n: int, edits: int = 5, reuse: tuple[str, str] | None = None) -> Figure:
    """`reuse`: (store file, project slug) B7 already filled with n records."""
    fig = Figure("B13", f"一次编辑 / one record edited in a {n:,}-record plan: the answers' rebuild",
                 f"CPU of the edit's event ≤ {GOAL_SHARE:.0%} of a full build (decode + index)")
    name, slug = reuse if reuse and (b.dir / reuse[0]).exists() else ("b13.db", "b13")
    db_url = f"sqlite:///{b.dir / name}"
    if not (b.dir / name).exists():
        fill_projects(b, db_url, [(slug, n, b.seed.chat_id)])
    store = open_store(db_url)
    try:
        with store.session() as s:
            binding = BaseBinding.from_row(s.execute(select(ProjectRow).where(ProjectRow.slug == slug)).scalar_one())
        mirror = Mirror(store, b.fresh_gateway(), binding)
        cache = AnswerCache()  # the mirror's change listener rebuilds on the changing thread, as in `gtm serve`
        now = now_local()
        t0 = time.thread_time()
        entry = cache.get(mirror, mirror.versions(), now)
        full = time.thread_time() - t0
        replica, replica_cache = Mirror(store, None, binding), AnswerCache()  # a second replica's
        replica_cache.get(replica, replica.versions(), now)
        records = len(entry.snapshot.tasks)
        editor = b.seed.users["王芳"]
        b.call(sb_add_member, binding.app_token, editor)
        status = binding.field_name("task", "status")
        table_id = binding.table_id("task")
        picks = [entry.snapshot.tasks[i * (records // max(1, edits))].record_id for i in range(edits)]
        costs, reads, caught_up = [], [], []
        for i, rid in enumerate(picks):
            b.call(sb_act_update, editor, binding.app_token, table_id, rid, {status: "阻塞" if i % 2 == 0 else "进行中"})
            t0 = time.thread_time()
            rep = mirror.refresh_records("task", [rid], now)  # the event's read; the rebuild follows
            costs.append(time.thread_time() - t0)
            reads.append(rep.read)
            t0 = time.thread_time()
            seen = replica_cache.rebuild(replica, now)
            caught_up.append(time.thread_time() - t0)
            if seen is None or next(t.status for t in seen.snapshot.tasks if t.record_id == rid) != (
                    "阻塞" if i % 2 == 0 else "进行中"):
                fig.error = "the second replica did not see the edit"
        after = cache.peek(mirror)
        shown = {t.record_id: t.status for t in after.snapshot.tasks if t.record_id in set(picks)} if after else {}
        if after is None or after is entry or len(shown) != edits:
            fig.error = "the answers were not rebuilt after the edits"
        elif any(shown[rid] != ("阻塞" if i % 2 == 0 else "进行中") for i, rid in enumerate(picks)):
            fig.error = f"the rebuilt answers do not show the edits: {shown}"
        edit = median(costs)
        share = edit / full if full else 0.0
        fig.add("full build (decode + index)", round(full, 3), "s", "—", None, None, extra={"records": records})
        fig.add(f"one edit, median of {edits}", round(edit, 3), "s", f"≤ {GOAL_SHARE:.0%} of the full build",
                round(share / GOAL_SHARE, 3), share <= GOAL_SHARE,
                extra={"share": round(share, 4), "each_s": [round(c, 3) for c in costs], "records_read": reads})
        other = median(caught_up)
        other_share = other / full if full else 0.0
        fig.add(f"the other replica catching up, median of {edits}", round(other, 3), "s",
                f"≤ {GOAL_SHARE:.0%} of the full build", round(other_share / GOAL_SHARE, 3), other_share <= GOAL_SHARE,
                extra={"share": round(other_share, 4), "each_s": [round(c, 3) for c in caught_up]})
        fig.notes.append(f"{records:,} tasks; a full build {full:.2f} s CPU, an edit's event {edit * 1000:.0f} ms "
                         f"({share:.1%}: the one batch_get, the edited row decoded again, the index updated); "
                         f"the release before last decoded and indexed the whole plan on every edit, the previous one "
                         f"still walked every row (10 % of a full build)")
        fig.notes.append(f"a second replica over the same store catches up with each edit in {other * 1000:.0f} ms "
                         f"({other_share:.1%}: the store's change log names the edited record); the previous "
                         f"release decoded its whole table again")
        return fig
    finally:
        store.dispose()

"""B1 full read, B2 write-back, B3 incremental refresh, B8 sustained sync — the product's Mirror,
Reader and write-back against the rate-limited sandbox, counted by the gateway and the sandbox.

The bounds come from docs/feishu-api.md §5.1/§2.2: search returns ≤500 records per call at ≤20 calls/s
per app, so N records need ceil(N/500) calls and at least ceil(N/500)/20 seconds; batch_update
takes ≤500 records per call (the product's chunk) at ≤50 calls/s.
"""
from __future__ import annotations

import threading
import time
from collections import Counter
from typing import Any

from gtm.benchmarks.common import (
    BATCH_LIMIT,
    PAGE,
    SEARCH_RATE,
    Bench,
    Figure,
    Stopwatch,
    min_calls,
    now_local,
    profile_top,
    ratio,
    spread_modified,
    task_rows,
)
from gtm.benchmarks.sandbox_side import sb_act_update, sb_add_member
from gtm.schemas.decisions import CellWrite
from gtm.schemas.tables import PLAN_TABLES
from gtm.sync.mirror import Mirror
from gtm.sync.writeback import write_back

OWNERS = ("王芳", "刘洋", "陈静", "杨帆")


class SyncFixture:
    """Task tables of the requested sizes in one sandbox, created once and shared by B1/B2/B3/B8."""

    def __init__(self, bench: Bench) -> None:
        self.bench = bench
        self.tables: dict[str, Any] = {}

    def table(self, name: str, n: int):
        if name not in self.tables:
            b = self.bench
            binding = b.make_base(f"基准 {name}", name, ["task"])
            owners = [b.seed.users[k] for k in OWNERS]
            rows = task_rows(n, owners, now_local().date(), seed=len(self.tables) + 1)
            b.load(binding, "task", rows, modified=spread_modified(n, b.clock_ms()))
            self.tables[name] = binding
        return self.tables[name]

    def mirror(self, binding, gateway=None):
        return Mirror(self.bench.store, gateway or self.bench.gw, binding)


def _full_read(fx: SyncFixture, binding, profile: bool) -> dict[str, Any]:
    """One `Mirror.refresh(full=True)` (what `gtm sync --full` does) on a fresh gateway."""
    b = fx.bench
    gw = b.fresh_gateway()
    m = fx.mirror(binding, gw)
    limited0 = b.limited()
    prof: list[str] = []
    with Stopwatch() as sw:
        if profile:
            rep, prof = profile_top(lambda: m.refresh(now_local(), full=True))
        else:
            rep = m.refresh(now_local(), full=True)
    return {"calls": gw.stats.total(), "read": rep.read, "wall": sw.wall, "cpu": sw.cpu,
            "limited": b.limited() - limited0, "retries": sum(gw.stats.retries.values()),
            "failures": sum(gw.stats.failures.values()), "mirror": m, "profile": prof,
            "waited": gw.limiter.waited_seconds}


def b1_full_read(fx: SyncFixture, sizes: list[int], profile: bool = False) -> Figure:
    fig = Figure("B1", "全量读取 / full read (one table, Mirror.refresh(full=True))",
                 "calls = ceil(N/500) (ratio 1.00); wall time vs the rate bound ceil(N/500)/20 s")
    for n in sizes:
        binding = fx.table(f"t{n}", n)
        r = _full_read(fx, binding, profile)
        need = min_calls(n)
        bound = need / SEARCH_RATE
        fig.add(f"N={n:,} API calls", r["calls"], "calls", f"= {need}", ratio(r["calls"], need), r["calls"] == need,
                extra={"records": r["read"], "429": r["limited"], "retries": r["retries"], "failures": r["failures"]})
        fig.add(f"N={n:,} wall time", round(r["wall"], 2), "s", f"≈ bound {bound:.2f} s",
                ratio(r["wall"], bound), r["wall"] <= bound * 1.1,
                extra={"client_cpu_s": round(r["cpu"], 2), "client_cpu_vs_bound": ratio(r["cpu"], bound),
                       "limiter_waited_s": round(r["waited"], 2), "429": r["limited"]})
        fig.notes.append(f"N={n:,}: {r['read']:,} records, client CPU {r['cpu']:.2f} s "
                         f"({ratio(r['cpu'], bound)}× bound), 429s {r['limited']}, retries {r['retries']}, "
                         f"failures {r['failures']}")
        fig.profile += r["profile"]
    return fig


def _variance_writes(mirror, k: int, salt: int):
    ids = sorted(mirror.raw_records("task"))[:k]
    return [CellWrite(table="task", record_id=rid, attr="variance_days", value=(i % 9) + 1 + salt)
            for i, rid in enumerate(ids)]


def b2_write_back(fx: SyncFixture, ks: list[int], table_n: int, profile: bool = False) -> Figure:
    fig = Figure("B2", "写回 / write-back of k changed cells (plan_writes + apply)",
                 "batch_update calls = ceil(k/500) (ratio 1.00); 0 calls when nothing changed")
    b = fx.bench
    binding = fx.table(f"t{table_n}", table_n)
    gw = b.fresh_gateway()
    m = fx.mirror(binding, gw)
    m.refresh(now_local(), full=True)
    for n, k in enumerate(ks):
        writes = _variance_writes(m, k, salt=10 * n)
        m.refresh(now_local())  # every check cycle refreshes before it writes (untimed here)
        before = Counter(gw.stats.calls)
        limited0 = b.limited()
        with Stopwatch() as sw:
            if profile:
                (plan, rep), prof = profile_top(lambda: write_back(writes, m, batch_limit=BATCH_LIMIT))
                fig.profile += prof
            else:
                plan, rep = write_back(writes, m, batch_limit=BATCH_LIMIT)
        delta = Counter(gw.stats.calls)
        delta.subtract(before)
        updates, gets = delta["bitable.record.batch_update"], delta["bitable.record.batch_get"]
        need = min_calls(k, BATCH_LIMIT)
        fig.add(f"k={k:,} batch_update calls", updates, "calls", f"= {need}", ratio(updates, need),
                updates == need and rep.written_cells == k,
                extra={"cells_written": rep.written_cells, "conflicts": len(rep.conflicts),
                       "batch_get_calls": gets, "wall_s": round(sw.wall, 2), "429": b.limited() - limited0})
        fig.notes.append(f"k={k:,}: {rep.written_cells:,} cells in {updates} batch_update + {gets} batch_get "
                         f"(pre-write conflict check, ceil(k/100)) in {sw.wall:.2f} s; "
                         f"conflicts {len(rep.conflicts)}, 429s {b.limited() - limited0}")
        # next cycle, same decisions: the Base already holds the values, so nothing may be sent
        m.refresh(now_local())
        before = gw.stats.total()
        plan2, rep2 = write_back(writes, m, batch_limit=BATCH_LIMIT)
        again = gw.stats.total() - before
        fig.add(f"k={k:,} unchanged next cycle", again, "calls", "= 0", None, again == 0,
                extra={"unchanged_cells": plan2.unchanged})
    return fig


def b3_incremental(fx: SyncFixture, n: int, k: int, full: dict[str, Any] | None, profile: bool = False) -> Figure:
    fig = Figure("B3", f"增量刷新 / incremental refresh, {k} changed records in {n:,}",
                 "1 search call when the changes fit one page (vs ceil(N/500) for a full read)")
    b = fx.bench
    binding = fx.table(f"t{n}", n)
    gw = b.fresh_gateway()
    m = fx.mirror(binding, gw)
    if full is None:
        with Stopwatch() as sw:
            m.refresh(now_local(), full=True)
        full = {"calls": gw.stats.total(), "wall": sw.wall}
    else:
        m.refresh(now_local(), full=True)
    # k people edit a record each (as they would in the grid: permission-checked, modified time set)
    editor = b.seed.users["王芳"]
    b.call(sb_add_member, binding.app_token, editor)
    note_name = PLAN_TABLES["task"].field("note").name
    ids = sorted(m.raw_records("task"))[:k]
    for i, rid in enumerate(ids):
        b.call(sb_act_update, editor, binding.app_token, binding.table_id("task"), rid, {note_name: f"改动 {i}"})
    calls0 = gw.stats.total()
    with Stopwatch() as sw:
        if profile:
            rep, prof = profile_top(lambda: m.refresh(now_local()))
            fig.profile += prof
        else:
            rep = m.refresh(now_local())
    calls = gw.stats.total() - calls0
    t = rep.table("task")
    need = min_calls(k)
    fig.add("incremental calls", calls, "calls", f"= {need}", ratio(calls, need), calls == need,
            extra={"mode": t.mode, "read": t.read, "changed": t.changed})
    fig.add("incremental wall time", round(sw.wall, 3), "s", f"vs full read {full['wall']:.2f} s",
            ratio(sw.wall, full["wall"]), None, extra={"client_cpu_s": round(sw.cpu, 3)})
    fig.add("full read, same table (attempts incl. 429 retries)", full["calls"], "calls", f"min {min_calls(n)}", None, None,
            extra={"wall_s": round(full["wall"], 2)})
    fig.notes.append(f"mode {t.mode}: read {t.read} record(s), {t.changed} changed (expected {k}); "
                     f"{calls} call(s) in {sw.wall:.3f} s vs full read {full['calls']} calls in {full['wall']:.2f} s")
    if t.changed != k:
        fig.notes.append(f"MISMATCH: the refresh saw {t.changed} changed records, {k} were edited")
        fig.lines[0].ok = False
    return fig


def b8_sustained(fx: SyncFixture, seconds: float, n_tables: int, table_n: int) -> Figure:
    fig = Figure("B8", f"持续同步 / sustained sync under enforced limits (~{seconds:.0f} s)",
                 "≥ 90% of the 20 calls/s (10,000 records/s) search bound, 0 failed calls")
    b = fx.bench
    bindings = [fx.table(f"s{i}_{table_n}", table_n) for i in range(n_tables)]

    def run(threads: int) -> dict[str, Any]:
        gw = b.fresh_gateway()  # one app, one limiter: the way the service shares it
        mirrors = [fx.mirror(bd, gw) for bd in bindings[:threads]]
        for m in mirrors:  # first read outside the window (inserts into the store)
            m.refresh(now_local(), full=True)
        time.sleep(1.1)  # let the server's one-second window drain
        c0, limited0 = gw.stats.total(), b.limited()
        f0 = sum(gw.stats.failures.values())
        stop = time.monotonic() + seconds
        read = [0] * threads
        errors: list[str] = []

        def loop(i: int) -> None:
            while time.monotonic() < stop:
                try:
                    read[i] += mirrors[i].refresh(now_local(), full=True).read
                except Exception as exc:  # noqa: BLE001 - count it as a failure and go on
                    errors.append(f"{exc.__class__.__name__}: {exc}")

        t0 = time.perf_counter()
        ts = [threading.Thread(target=loop, args=(i,)) for i in range(threads)]
        for t in ts:
            t.start()
        for t in ts:
            t.join(seconds + 120)
        wall = time.perf_counter() - t0
        calls = gw.stats.total() - c0
        return {"threads": threads, "wall": wall, "calls": calls, "records": sum(read),
                "calls_per_s": calls / wall, "records_per_s": sum(read) / wall,
                "limited": b.limited() - limited0, "failures": sum(gw.stats.failures.values()) - f0 + len(errors),
                "retries": sum(gw.stats.retries.values()), "errors": errors[:3]}

    for threads in (1, n_tables):
        r = run(threads)
        share = r["calls_per_s"] / SEARCH_RATE
        what = "one table, sequential" if threads == 1 else f"{threads} tables on {threads} threads (scheduler pool)"
        fig.add(f"{what}: calls/s", round(r["calls_per_s"], 2), "calls/s", "≥ 18 (90% of 20)",
                round(share, 3), share >= 0.9 and r["failures"] == 0,
                extra={k: (round(v, 2) if isinstance(v, float) else v) for k, v in r.items()})
        fig.add(f"{what}: records/s", round(r["records_per_s"]), "rec/s", "≥ 9,000 (90% of 10,000)",
                round(r["records_per_s"] / (SEARCH_RATE * PAGE), 3), None)
        fig.add(f"{what}: failed calls", r["failures"], "", "= 0", None, r["failures"] == 0,
                extra={"429_answered": r["limited"], "retries": r["retries"]})
        fig.notes.append(f"{what}: {r['calls']} calls, {r['records']:,} records in {r['wall']:.1f} s; "
                         f"429s answered {r['limited']}, retried {r['retries']}, failed {r['failures']}"
                         + (f" ({r['errors'][0]})" if r["errors"] else ""))
    return fig

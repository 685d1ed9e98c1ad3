"""B4 all rules over 100,000 items (CPU time) and B6 the weekly report for 10,000 tasks.

Pure CPU figures: no sandbox. B4 reuses `rules_speed.measure` (the rules engineer's harness:
snapshot building and the first escalation pass excluded, best of 3). B6 builds the report view
and renders the card exactly as `gtm.bot.checks.posting.build_report` does, from a synthetic plan.
"""
from __future__ import annotations

import json
import math
import time
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from gtm.benchmarks.common import Figure, profile_top, ratio
from gtm.benchmarks.rules_speed import MIX, generate_plan, measure
from gtm.bot.checks.weekly_report import build_weekly_report, report_card
from gtm.bot.rules.calendar import WorkCalendar
from gtm.bot.rules.engine import run_checks
from gtm.schemas.settings import Policy

CARD_LIMIT = 30 * 1024  # docs/feishu-api.md §6.1: a card request body ≤ 30 KB


def b4_rules(n: int, profile: bool = False) -> Figure:
    fig = Figure("B4", f"全部规则 / all rules (run_checks) over {n:,} items",
                 "CPU time (time.process_time) < 1 s")
    r = measure(n)
    fig.add(f"{r['n_items']:,} items CPU", r["cpu_seconds"], "s", "< 1.0 s", ratio(r["cpu_seconds"], 1.0),
            r["cpu_seconds"] < 1.0, extra={k: v for k, v in r.items() if k not in ("ok",)})
    fig.notes.append(f"wall {r['wall_seconds']} s; {r['notices']:,} notices, {r['writes']:,} writes, "
                     f"{r['escalations']:,} escalations, {r['problems']:,} problems, RAG {r['rag']}")
    if profile:
        now = datetime(2025, 9, 16, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
        policy = Policy()
        snap = generate_plan(n, now)
        cal = WorkCalendar(policy)
        first = run_checks(snap, now, policy, {}, cal)
        states = {(s.table, s.record_id): s for s in first.escalations}
        _, fig.profile = profile_top(lambda: run_checks(snap, now + timedelta(minutes=30), policy, states, cal))
    return fig


def b6_report(n_tasks: int, repeat: int = 3, profile: bool = False) -> Figure:
    fig = Figure("B6", f"周报 / weekly report for {n_tasks:,} tasks",
                 "card always < 30 KB (docs/feishu-api.md §6.1); render time reported")
    now = datetime(2025, 9, 19, 17, 0, tzinfo=ZoneInfo("Asia/Shanghai"))  # a Friday afternoon
    policy = Policy()
    snap = generate_plan(math.ceil(n_tasks / MIX["task"]), now)
    check = run_checks(snap, now, policy, {}, WorkCalendar(policy))

    def render():
        view = build_weekly_report(snap, check, now, policy.timezone, None, [], [],
                                   project_name="基准项目", policy=policy)
        return view, report_card(view, policy.locale)

    best_wall = best_cpu = float("inf")
    view = card = None
    for _ in range(repeat):
        w0, c0 = time.perf_counter(), time.process_time()
        view, card = render()
        best_wall = min(best_wall, time.perf_counter() - w0)
        best_cpu = min(best_cpu, time.process_time() - c0)
    size = len(json.dumps(card, ensure_ascii=False).encode("utf-8"))
    en_size = len(json.dumps(report_card(view, "en"), ensure_ascii=False).encode("utf-8"))
    fig.add(f"{len(snap.tasks):,} tasks render (build + card)", round(best_wall, 3), "s", "reported", None, None,
            extra={"cpu_s": round(best_cpu, 3)})
    fig.add("card size (zh)", size, "bytes", "< 30,720", ratio(size, CARD_LIMIT), size < CARD_LIMIT)
    fig.add("card size (en)", en_size, "bytes", "< 30,720", ratio(en_size, CARD_LIMIT), en_size < CARD_LIMIT)
    fig.notes.append(f"counts {view.counts}; run_checks for the report not included in render time")
    if profile:
        _, fig.profile = profile_top(render)
    return fig

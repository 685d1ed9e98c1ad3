"""B12 schedule logic: forecasts, slips and cycles over 10,000 tasks with 20,000 前置任务 links.

Pure CPU: `rules.schedule.check_schedule` (graph, forecast per task and milestone with the work
calendar, slip tracing, notices) over a synthetic plan; best of 3, `time.process_time`, with the
cyclic garbage collector paused as `rules.engine.run_checks` pauses it for every rule.
"""
from __future__ import annotations

import gc
import random
import time
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from gtm.benchmarks.common import Figure, profile_top, ratio
from gtm.bot.rules.calendar import WorkCalendar
from gtm.bot.rules.schedule import check_schedule
from gtm.schemas.plan import Milestone, Person, PlanSnapshot, ProjectInfo, Task
from gtm.schemas.settings import Policy

NOW = datetime(2026, 3, 2, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai"))


def generate(n_tasks: int, n_links: int, seed: int = 19) -> PlanSnapshot:
    """Tasks in dependency layers over a year, each linked to one of n/200 milestones; every link
    points from a task to one listed before it (acyclic), plus one 3-task cycle."""
    rnd = random.Random(seed)
    start = NOW.date() - timedelta(days=30)
    n_ms = max(1, n_tasks // 200)
    people = [Person(open_id=f"ou_{i}", name=f"成员{i}") for i in range(50)]
    milestones = [Milestone(record_id=f"m{i}", code=f"M{i}", name=f"里程碑{i}", owner=people[i % 50],
                            target_date=start + timedelta(days=30 + i * 300 // n_ms), status="进行中")
                  for i in range(n_ms)]
    tasks: list[Task] = []
    for i in range(n_tasks):
        s = start + timedelta(days=i * 330 // n_tasks)
        tasks.append(Task.model_construct(
            record_id=f"t{i}", task_id=f"T-{i}", name=f"任务{i}", owner=people[i % 50],
            planned_start=s, planned_end=s + timedelta(days=rnd.randint(1, 10)),
            progress=rnd.choice((0.0, 0.2, 0.5, 0.8)), status=rnd.choice(("未开始", "进行中", "已完成")),
            milestone=[f"m{min(n_ms - 1, i * n_ms // n_tasks)}"], predecessors=[], informed=[],
            actual_start=None, actual_end=None))
    links = 0
    while links < n_links:
        i = rnd.randrange(1, n_tasks)
        j = rnd.randrange(max(0, i - 300), i)
        if f"t{j}" not in tasks[i].predecessors:
            tasks[i].predecessors.append(f"t{j}")
            links += 1
    if n_tasks >= 3:
        tasks[0].predecessors.append("t2")
        tasks[2].predecessors.append("t1")
        tasks[1].predecessors.append("t0")
    return PlanSnapshot(project_slug="bench", project=ProjectInfo(record_id="p", name="基准", pm=people[0]),
                        milestones=milestones, tasks=tasks)


def b12_schedule(n_tasks: int, n_links: int, repeat: int = 3, profile: bool = False) -> Figure:
    fig = Figure("B12", f"排期 / schedule (check_schedule): {n_tasks:,} tasks, {n_links:,} links",
                 "CPU time (time.process_time) < 0.5 s")
    snap = generate(n_tasks, n_links)
    policy = Policy()
    best_cpu, best_wall, result = float("inf"), float("inf"), None
    for _ in range(repeat):
        cal = WorkCalendar(policy)  # a fresh calendar each time: its day cache is part of the cost
        gc.collect()
        gc.disable()
        try:
            c0, w0 = time.process_time(), time.perf_counter()
            result = check_schedule(snap, NOW, policy, cal)
            cpu_s, wall_s = time.process_time() - c0, time.perf_counter() - w0
        finally:
            gc.enable()
        best_cpu = min(best_cpu, cpu_s)
        best_wall = min(best_wall, wall_s)
    assert result is not None
    out, slips, sched = result
    cpu = round(best_cpu, 3)
    fig.add(f"{n_tasks:,} tasks CPU", cpu, "s", "< 0.5 s", ratio(cpu, 0.5), cpu < 0.5)
    late = sum(1 for m in sched.milestones.values() if m.late_days > 0)
    fig.notes.append(f"wall {best_wall:.3f} s; {len(slips):,} slips, {len(out.notices):,} notices, "
                     f"{late} of {len(sched.milestones)} milestones forecast late, "
                     f"{len(sched.cycles)} cycle(s) left out of the forecast (reported by the data checks)")
    if profile:
        _, fig.profile = profile_top(lambda: check_schedule(snap, NOW, policy, WorkCalendar(policy)))
    return fig



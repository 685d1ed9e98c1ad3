"""B4: CPU time of all rules (`run_checks`) over a large synthetic plan. Target: 100k items < 1 s.

    .venv/bin/python -m gtm.benchmarks.rules_speed [n_items]

`generate_plan(n_items, now)` builds a deterministic plan (a mix of every table, with overdue,
due-soon, blocked, escalated, gate-violating and risky rows); `measure(n)` times the rules only
(snapshot building and the first escalation pass are excluded) and returns the figures.
"""
from __future__ import annotations

import random
import sys
import time
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from gtm.bot.rules.calendar import WorkCalendar
from gtm.bot.rules.engine import run_checks
from gtm.schemas.plan import (
    Deliverable,
    Dependency,
    ExitCriterion,
    Issue,
    Milestone,
    Person,
    PlanSnapshot,
    ProjectInfo,
    Risk,
    Task,
)
from gtm.schemas.settings import Policy

# share of items per table (sums to 1)
MIX = {"task": 0.60, "deliverable": 0.10, "milestone": 0.02, "exit_criterion": 0.05,
       "risk": 0.08, "dependency": 0.05, "issue": 0.10}
TASK_STATUS = ["未开始", "进行中", "进行中", "已完成", "已完成", "延期", "阻塞"]
MS_STATUS = ["未开始", "进行中", "完成", "延期"]
LEVELS = ["高", "中", "低"]


def generate_plan(n_items: int, now: datetime, seed: int = 7) -> PlanSnapshot:
    """A deterministic plan of about `n_items` rows spread over the plan tables around `now`."""
    rnd = random.Random(seed)
    today = now.date()
    people = [Person(open_id=f"ou_{i:04d}", name=f"成员{i}") for i in range(200)]
    counts = {k: max(1, int(n_items * share)) for k, share in MIX.items()}

    def when() -> date:
        return today + timedelta(days=rnd.randint(-30, 60))

    def owner() -> Person | None:
        return rnd.choice(people) if rnd.random() > 0.02 else None  # 2 % without owner

    milestones = [Milestone(record_id=f"m{i}", code=f"M{i}", name=f"里程碑{i}", owner=owner(),
                            target_date=when(), status=rnd.choice(MS_STATUS))
                  for i in range(counts["milestone"])]
    mids = [m.record_id for m in milestones]
    tasks = []
    for i in range(counts["task"]):
        end = when()
        status = rnd.choice(TASK_STATUS)
        tasks.append(Task(
            record_id=f"t{i}", task_id=f"T{i:05d}", name=f"任务{i}", owner=owner(),
            milestone=[rnd.choice(mids)], planned_start=end - timedelta(days=5), planned_end=end,
            actual_end=end + timedelta(days=rnd.randint(-3, 3)) if status == "已完成" else None,
            status=status, progress=rnd.random(),
            modified_at=now - timedelta(hours=rnd.randint(1, 400))))
    deliverables = [Deliverable(record_id=f"d{i}", name=f"交付物{i}", milestone=[rnd.choice(mids)],
                                owner=owner(), due_date=when(), status=rnd.choice(MS_STATUS))
                    for i in range(counts["deliverable"])]
    criteria = [ExitCriterion(record_id=f"c{i}", criterion=f"标准{i}", milestone=[rnd.choice(mids)],
                              met=rnd.random() < 0.7) for i in range(counts["exit_criterion"])]
    risks = [Risk(record_id=f"r{i}", risk=f"风险{i}", likelihood=rnd.choice(LEVELS),
                  impact=rnd.choice(LEVELS), owner=owner(),
                  status=rnd.choice(["开放", "应对中", "已关闭"])) for i in range(counts["risk"])]
    deps = [Dependency(record_id=f"dep{i}", item=f"依赖{i}", status=rnd.choice(["已确认", "待确认"]),
                       needed_by=when(), owner=owner()) for i in range(counts["dependency"])]
    issues = [Issue(record_id=f"i{i}", issue=f"问题{i}",
                    raised_at=now - timedelta(hours=rnd.randint(1, 24 * 12)), owner=owner(),
                    status=rnd.choice(["待处理", "处理中", "已解决"])) for i in range(counts["issue"])]
    project = ProjectInfo(record_id="rec_proj", name="基准项目", pm=people[0],
                          management=people[1:3], budget=1_000_000, spent=1_150_000)
    return PlanSnapshot(project_slug="bench", project=project, milestones=milestones,
                        deliverables=deliverables, exit_criteria=criteria, tasks=tasks,
                        risks=risks, dependencies=deps, issues=issues, read_at=now)


def measure(n: int, repeat: int = 3) -> dict:
    """CPU seconds of one full `run_checks` over an n-item plan (best of `repeat`)."""
    now = datetime(2025, 9, 16, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
    policy = Policy()
    snap = generate_plan(n, now)
    items = sum(len(snap.rows(k)) for k in MIX)
    cal = WorkCalendar(policy)
    first = run_checks(snap, now, policy, {}, cal)  # warm the calendar, get ladder states
    states = {(s.table, s.record_id): s for s in first.escalations}
    best_cpu = best_wall = float("inf")
    result = first
    for _ in range(repeat):
        c0, w0 = time.process_time(), time.perf_counter()
        result = run_checks(snap, now + timedelta(minutes=30), policy, states, cal)
        best_cpu = min(best_cpu, time.process_time() - c0)
        best_wall = min(best_wall, time.perf_counter() - w0)
    return {"n_items": items, "cpu_seconds": round(best_cpu, 3), "wall_seconds": round(best_wall, 3),
            "notices": len(result.notices), "writes": len(result.writes),
            "escalations": len(result.escalations), "problems": len(result.problems),
            "rag": result.rag.color, "target_seconds": 1.0, "ok": best_cpu < 1.0}


if __name__ == "__main__":
    print(measure(int(sys.argv[1]) if len(sys.argv) > 1 else 100_000))

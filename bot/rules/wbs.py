"""The WBS of docs/seeds/002 §2.2: a three-level task list, 阶段 (the 阶段 column) → 模块 (a task) → 任务 (a task whose
上级任务 is that module). A parent chain that loops, or goes deeper than module → task, is a data
problem naming the task (the plan still reads; nothing is changed)."""
from __future__ import annotations

from datetime import datetime

from gtm.bot.rules import RuleResult, problem, require_aware
from gtm.bot.rules.calendar import WorkCalendar
from gtm.schemas.plan import PlanSnapshot
from gtm.schemas.settings import Policy

MAX_DEPTH = 1  # a task's parent is a module, and a module has no parent


def check_wbs(snapshot: PlanSnapshot, now: datetime, policy: Policy,
              calendar: WorkCalendar | None = None) -> RuleResult:
    require_aware(now)
    del policy, calendar  # the same signature as every rule; the shape does not depend on them
    out = RuleResult()
    parent = {t.record_id: t.parent[0] for t in snapshot.tasks if t.parent}
    if not parent:
        return out
    for t in snapshot.tasks:
        seen, cur, depth = {t.record_id}, parent.get(t.record_id), 0
        while cur is not None:
            depth += 1
            if cur in seen:
                out.problems.append(problem("task", t.record_id, "parent", t.label,
                                            "上级任务形成循环（例：任务 → 模块，模块不再填上级任务）",
                                            "the parent tasks form a loop (e.g. task → module, and the "
                                            "module has no parent)"))
                break
            seen.add(cur)
            cur = parent.get(cur)
        else:
            if depth > MAX_DEPTH:
                out.problems.append(problem("task", t.record_id, "parent", t.label,
                                            "任务清单最多三级：阶段 → 模块 → 任务（例：模块不再填上级任务）",
                                            "the task list has three levels at most: phase → module → task "
                                            "(e.g. leave the module's parent empty)"))
    return out

"""Data problems no single cell shows: 前置任务 cycles (self-links included) and dates that end
before they start. Pure: `(PlanSnapshot) -> [DataProblem]`; the engine adds them to a check.
"""
from __future__ import annotations

from gtm.bot.rules.graph import find_cycles
from gtm.schemas import tables as T
from gtm.schemas.plan import DataProblem, PlanSnapshot, clip_text, plausible_date, row_label

# (table, start attr, end attr): the end must not be before the start
SPANS = (("task", "planned_start", "planned_end"), ("task", "actual_start", "actual_end"),
         ("project", "start_date", "launch_date"))


def predecessor_cycles(snapshot: PlanSnapshot) -> list[DataProblem]:
    """One problem per task in a 前置任务 cycle (A→B→A, A→A), naming the whole chain."""
    # a task without predecessors is in no cycle: the graph and the lookup hold only the tasks that
    # link (the groups found and their first-seen order are the same; a map of every task was ~5 MB
    # at 100,000 tasks, at the run's peak); the rows' lists are read, not copied
    tasks = {t.record_id: t for t in snapshot.tasks if t.record_id and t.predecessors}
    cycles = find_cycles({rid: t.predecessors for rid, t in tasks.items()})
    f = T.table("task").field("predecessors")
    out: list[DataProblem] = []
    for comp in cycles:
        names = [row_label("task", tasks[r]) or r for r in comp]
        chain = " → ".join([*names, names[0]])
        self_link = len(comp) == 1
        for rid in comp:
            out.append(DataProblem(
                table="task", record_id=rid, field="predecessors", value=clip_text(chain, 120),
                label=row_label("task", tasks[rid]),
                reason=("前置任务指向了自己" if self_link else f"{f.name}形成循环：{clip_text(chain, 120)}"),
                reason_en=("the task is its own predecessor" if self_link
                           else f"predecessors form a cycle: {clip_text(chain, 120)}"),
                fix=("从「前置任务」中删掉它自己" if self_link else "在这条链路中删掉一个「前置任务」链接，让顺序只有一个方向"),
                fix_en=("remove the task from its own predecessors" if self_link
                        else "remove one predecessor link of the chain so the order runs one way")))
    return out


def ends_before_starts(snapshot: PlanSnapshot) -> list[DataProblem]:
    out: list[DataProblem] = []
    for table, start_attr, end_attr in SPANS:
        spec = T.table(table)
        fs, fe = spec.field(start_attr), spec.field(end_attr)
        for row in snapshot.rows(table):
            start, end = getattr(row, start_attr, None), getattr(row, end_attr, None)
            if not (plausible_date(start) and plausible_date(end)) or end >= start:
                continue  # an implausible date is reported as such, once
            out.append(DataProblem(
                table=table, record_id=row.record_id, field=end_attr,
                value=f"{fs.name} {start.isoformat()}，{fe.name} {end.isoformat()}",
                label=row_label(table, row),
                reason=f"{fe.name}早于{fs.name}", reason_en=f"{fe.en} is before {fs.en.lower()}",
                fix=f"把「{fe.name}」改到 {start.isoformat()} 之后，或把「{fs.name}」提前",
                fix_en=f"move “{fe.en}” after {start.isoformat()} or move “{fs.en}” earlier"))
    return out


def find_data_problems(snapshot: PlanSnapshot) -> list[DataProblem]:
    return [*predecessor_cycles(snapshot), *ends_before_starts(snapshot)]


def tells_the_pm(p: DataProblem) -> bool:
    """Rule-found problems that go to the PM's digest besides the record codec's: the ones found
    here (cycles, end before start) and a person's 延期 that disagrees with the dates."""
    if p.field == "predecessors" and ("cycle" in p.reason_en or "own predecessor" in p.reason_en):
        return True
    if " is before " in p.reason_en and p.fix_en.startswith("move"):
        return True
    return p.field == "status" and "(not overdue yet)" in p.reason_en

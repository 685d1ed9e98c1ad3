"""One check run: every rule over one plan snapshot at one instant → a CheckResult.

Pure: no I/O, no clock. The caller (scheduler/CLI) reads the snapshot and the stored escalation
states, passes `now`, then hands the result to the ledger/sender, write-back and the store.
Quiet hours are the sender's job (`gtm.bot.rules.quiet` gives it is_quiet/next_send_window).
"""
from __future__ import annotations

import gc
from datetime import datetime

from gtm.bot.rules import RuleResult, digest_mode, require_aware, urgent_mode
from gtm.bot.rules.baseline import check_baseline
from gtm.bot.rules.budget import check_budget
from gtm.bot.rules.sales import check_sales_fields
from gtm.bot.rules.wbs import check_wbs
from gtm.bot.rules.calendar import WorkCalendar
from gtm.bot.rules.data_checks import find_data_problems
from gtm.bot.rules.due_soon import check_due_soon
from gtm.bot.rules.escalation import check_escalations
from gtm.bot.rules.gates import check_gates
from gtm.bot.rules.overdue import check_overdue, tracked_rows
from gtm.bot.rules.rag import Findings, evaluate_rag
from gtm.bot.rules.raci import check_raci
from gtm.bot.rules.risk import check_risks
from gtm.bot.rules.schedule import check_schedule
from gtm.schemas.decisions import CheckResult, EscalationState
from gtm.schemas.plan import DataProblem, PlanSnapshot
from gtm.schemas.settings import Policy


def run_checks(snapshot: PlanSnapshot, now: datetime, policy: Policy,
               states: dict[tuple[str, str], EscalationState] | None = None,
               calendar: WorkCalendar | None = None,
               service_set: frozenset[tuple[str, str]] = frozenset(), *, digest: bool = False,
               urgent_only: bool = False) -> CheckResult:
    """All rules. `states` maps (table key, record id) to the stored ladder state;
    `service_set` names the rows whose 延期 the service wrote (only those it may lift).

    `digest=True` (what @mention answers need): the same decisions, but no notices and no cell
    writes are kept, and of the escalation states only the issues' (`digest_mode`). On a
    100,000-item plan a full result holds ~27,000 notices and ~67,000 writes at once (≈60 MB by
    tracemalloc); a digest run builds each and drops it at once, so its memory stays near the
    snapshot's.

    `urgent_only=True` (the periodic check, which leaves overdue / due-soon items to the morning
    digest): the full result without the notices marked `digest`, each dropped as it is made.

    The cyclic garbage collector is paused for the run: the rules allocate ~10^5 small,
    acyclic decision objects next to a large snapshot, and the collector's repeated passes over
    that snapshot otherwise cost about as much as the rules themselves (B4 benchmark).
    """
    require_aware(now)
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        if urgent_only and not digest:
            with urgent_mode():
                result = _run(snapshot, now, policy, states, calendar, service_set)
            return result.model_copy(update={"notices": list(result.notices)})
        if not digest:
            return _run(snapshot, now, policy, states, calendar, service_set)
        with digest_mode():
            result = _run(snapshot, now, policy, states, calendar, service_set)
        return result.model_copy(update={"notices": [], "writes": [],
                                         "escalations": list(result.escalations)})
    finally:
        if was_enabled:
            gc.enable()


def _run(snapshot: PlanSnapshot, now: datetime, policy: Policy,
         states: dict[tuple[str, str], EscalationState] | None,
         calendar: WorkCalendar | None,
         service_set: frozenset[tuple[str, str]] = frozenset()) -> CheckResult:
    cal = calendar or WorkCalendar(policy)
    total = RuleResult()
    # The schedule runs first and its output is merged in its place below: its task graph (~30 MB
    # at 100,000 tasks) is let go before the overdue findings (~28 MB, kept for RAG) are built, so
    # the two never peak together. Rules are independent; the merge order is what orders results.
    schedule_out, slips = check_schedule(snapshot, now, policy, cal)[:2]  # the task graph is let go
    rows = list(tracked_rows(snapshot, policy, total))  # dated rows, listed once for both
    overdue_out, overdue = check_overdue(snapshot, now, policy, cal, rows=rows,
                                           service_set=service_set)
    total.extend(overdue_out)
    total.extend(check_due_soon(snapshot, now, policy, cal, rows=rows))
    del rows  # one entry per dated row: not kept while the other rules run
    esc_out, ladder = check_escalations(snapshot, now, policy, states or {}, cal)
    total.extend(esc_out)
    budget_out, overrun = check_budget(snapshot, now, policy, cal)
    total.extend(budget_out)
    gate_out, gates = check_gates(snapshot, now, policy, cal)
    total.extend(gate_out)
    risk_out, _ = check_risks(snapshot, now, policy, cal)
    total.extend(risk_out)
    total.extend(check_sales_fields(snapshot, now, policy, cal))
    total.extend(check_wbs(snapshot, now, policy, cal))
    total.extend(schedule_out)
    total.extend(check_baseline(snapshot, now, policy))
    total.extend(check_raci(snapshot, now, policy, cal))
    total.problems += find_data_problems(snapshot)  # timeless: cycles, end before start
    rag, rag_writes = evaluate_rag(snapshot, now, policy,
                                   Findings(overdue=overdue, ladder=ladder, gates=gates,
                                            budget=overrun), cal)
    total.writes += rag_writes
    # the findings were for the RAG: let go before the problems are merged and labelled (at
    # 100,000 items ~24,000 overdue and ~14,000 ladder items, ~4 MB at the run's peak)
    del overdue, ladder, gates, overrun

    warning = cal.coverage_warning(now)
    if warning:
        total.warnings.append(warning)
    return CheckResult.model_construct(
        notices=total.notices, writes=total.writes,  # rules write disjoint attrs
        escalations=total.escalations, rag=rag,
        problems=snapshot.labelled(_unique([*snapshot.problems, *total.problems])),
        warnings=list(dict.fromkeys(total.warnings)), slips=slips)


def _unique(problems: list[DataProblem]) -> list[DataProblem]:
    """Each bad cell reported once: the first word on a cell wins (the record codec's, which
    comes first, over a rule's that saw the same cell); whole-record problems once each.

    Only the whole-record problems are hashed as models: hashing reads a model's `__dict__`, which
    a problem built by `_trusted` then keeps (~64 bytes each, 0.6 MB over 9,000 cell problems kept
    with the answers); a cell's repeats, equal ones included, are caught by its key."""
    cells: set[tuple[str, str, str]] = set()
    whole: set[DataProblem] = set()
    out: list[DataProblem] = []
    for p in problems:
        if p.field:
            key = (p.table, p.record_id, p.field)
            if key in cells:
                continue
            cells.add(key)
        elif p in whole:
            continue
        else:
            whole.add(p)
        out.append(p)
    return out

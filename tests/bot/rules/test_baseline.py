"""Baseline variance: planned (or actual) end against 基线结束; a postpone never moves the baseline."""
from __future__ import annotations

from datetime import date

from gtm.bot.rules.baseline import baseline_writes, check_baseline
from gtm.bot.rules.engine import run_checks
from gtm.schemas.plan import Milestone, Task
from gtm.schemas.settings import Policy
from tests.support.rule_plans import at, plan

NOW = at(2026, 12, 7, 10)
P = Policy()


def task(**kw) -> Task:
    base = dict(record_id="t1", task_id="T-1", name="物料", planned_start=date(2026, 12, 1),
                planned_end=date(2026, 12, 18), status="进行中")
    return Task(**{**base, **kw})


def writes(result) -> dict:
    return {(w.table, w.record_id, w.attr): w.value for w in result.writes}


def test_set_snapshots_planned_dates_then_a_postpone_shows_as_variance():
    snap = plan(tasks=[task()], milestones=[Milestone(record_id="m1", code="M3", target_date=date(2026, 12, 21))])
    got = writes(baseline_writes(snap, P))
    assert got == {("task", "t1", "baseline_end"): date(2026, 12, 18), ("task", "t1", "baseline_variance"): 0,
                   ("milestone", "m1", "baseline_end"): date(2026, 12, 21),
                   ("milestone", "m1", "baseline_variance"): 0}
    postponed = plan(tasks=[task(planned_end=date(2026, 12, 28), baseline_end=date(2026, 12, 18),
                                 baseline_variance=0)])
    assert writes(check_baseline(postponed, NOW, P)) == {("task", "t1", "baseline_variance"): 10}
    assert ("task", "t1", "baseline_end") not in writes(run_checks(postponed, NOW, P))
    # --missing-only keeps an existing baseline
    assert writes(baseline_writes(postponed, P, only_missing=True)) == {}


def test_done_counts_the_actual_end_and_no_baseline_writes_nothing():
    done = task(status="已完成", actual_end=date(2026, 12, 16), baseline_end=date(2026, 12, 18), baseline_variance=0)
    assert writes(check_baseline(plan(tasks=[done]), NOW, P)) == {("task", "t1", "baseline_variance"): -2}
    assert check_baseline(plan(tasks=[task()]), NOW, P).writes == []
    cleared = task(baseline_variance=4)  # the baseline was cleared by hand: the variance goes too
    assert writes(check_baseline(plan(tasks=[cleared]), NOW, P)) == {("task", "t1", "baseline_variance"): None}

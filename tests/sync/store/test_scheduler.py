"""Schedule computation from a fixed `now` (no wall clock), job isolation and bookkeeping."""
from __future__ import annotations

import threading
from datetime import datetime, time as dtime

from gtm.bot.service.scheduler import JobSet, PlanScheduler, build_schedule, run_job
from gtm.schemas.settings import Policy
from gtm.sync.store import ledger as st
from tests.support.notices import BERLIN, SH, at
from tests.support.waiting import wait_until

POLICIES = {
    "sh": Policy(),  # Asia/Shanghai, checks every 30 min 08:30–21:00, digest 09:00, report Mon 09:30
    "de": Policy(timezone="Europe/Berlin", check_interval_minutes=45, digest_time=dtime(8, 0),
                 report_weekday=4, report_time=dtime(16, 0), reconcile_time=dtime(3, 15)),
}


def noop(project: str, now: datetime) -> None:
    return None


ALL = JobSet(check=noop, digest=noop, report=noop, reconcile=noop, portfolio=noop)


def specs_by_id(jobs: JobSet = ALL):
    return {s.id: s for s in build_schedule(["sh", "de"], POLICIES.__getitem__, jobs)}


def test_next_fire_times_in_two_timezones():
    specs = specs_by_id()
    assert set(specs) == {"sh:check", "sh:digest", "sh:report", "sh:reconcile", "de:check", "de:digest",
                          "de:report", "de:reconcile", "*:portfolio"}
    now = at(2026, 11, 24, 8, 0)  # Tuesday 08:00 Shanghai = 01:00 Berlin
    assert specs["sh:check"].fire_times(now, 3) == [at(2026, 11, 24, 8, 30), at(2026, 11, 24, 9, 0),
                                                    at(2026, 11, 24, 9, 30)]
    assert specs["sh:check"].next_fire(at(2026, 11, 24, 20, 31)) == at(2026, 11, 25, 8, 30)  # last slot 20:30
    assert specs["sh:check"].next_fire(at(2026, 11, 24, 9, 0)) == at(2026, 11, 24, 9, 0)
    assert specs["sh:digest"].next_fire(now) == at(2026, 11, 24, 9, 0)
    assert specs["sh:report"].next_fire(now) == at(2026, 11, 30, 9, 30)  # next Monday
    assert specs["sh:reconcile"].next_fire(now) == at(2026, 11, 25, 2, 0)

    # Berlin, from the same instant
    assert specs["de:check"].fire_times(now, 3) == [at(2026, 11, 24, 8, 30, tz=BERLIN),
                                                    at(2026, 11, 24, 9, 15, tz=BERLIN),
                                                    at(2026, 11, 24, 10, 0, tz=BERLIN)]
    assert specs["de:check"].next_fire(now) == at(2026, 11, 24, 15, 30)  # the same instant in Shanghai
    assert specs["de:digest"].next_fire(now) == at(2026, 11, 24, 8, 0, tz=BERLIN)
    assert specs["de:report"].next_fire(now) == at(2026, 11, 27, 16, 0, tz=BERLIN)  # Friday
    assert specs["de:reconcile"].next_fire(now) == at(2026, 11, 24, 3, 15, tz=BERLIN)
    assert specs["sh:check"].timezone == SH and specs["de:check"].timezone == BERLIN


def test_berlin_wall_clock_survives_the_dst_change():
    specs = specs_by_id()
    # 2026-03-29: clocks go from 02:00 to 03:00 in Berlin; 08:30 stays 08:30 local (06:30 UTC, not 07:30)
    before = specs["de:check"].next_fire(at(2026, 3, 28, 21, 0, tz=BERLIN))
    assert before == at(2026, 3, 29, 8, 30, tz=BERLIN)
    assert before.utcoffset().total_seconds() == 2 * 3600


def test_digest_skips_holidays_and_runs_on_make_up_days():
    spec = specs_by_id()["sh:digest"]
    assert spec.next_fire(at(2026, 9, 30, 10, 0)) == at(2026, 10, 8, 9, 0)  # 国庆 1–7 Oct
    assert spec.next_fire(at(2026, 10, 9, 9, 1)) == at(2026, 10, 10, 9, 0)  # 调休 Saturday works
    assert spec.next_fire(at(2026, 11, 28, 9, 0)) == at(2026, 11, 30, 9, 0)  # weekend skipped
    assert spec.fire_times(at(2026, 11, 27, 9, 0), 2) == [at(2026, 11, 27, 9, 0), at(2026, 11, 30, 9, 0)]


def test_only_given_jobs_are_scheduled_and_policy_overrides_apply():
    specs = build_schedule(["x"], lambda s: Policy(check_interval_minutes=60), JobSet(check=noop))
    assert [s.id for s in specs] == ["x:check"]
    assert specs[0].fire_times(at(2026, 11, 24, 12, 10), 2) == [at(2026, 11, 24, 12, 30), at(2026, 11, 24, 13, 30)]


def test_run_job_records_runs_and_turns_failures_into_system_problems(store):
    def boom(project: str, now: datetime) -> None:
        raise RuntimeError(f"Base for {project} unreachable")

    seen: list[tuple[str, datetime]] = []
    specs = {s.id: s for s in build_schedule(["a", "b"], lambda s: Policy(),
                                             JobSet(check=lambda p, n: boom(p, n) if p == "a" else seen.append((p, n))))}
    now = at(2026, 11, 24, 9, 0)
    assert run_job(store, specs["a:check"], now) is False
    assert run_job(store, specs["b:check"], now) is True
    assert seen == [("b", now)]
    with store.session() as s:
        assert st.last_ok(s, "a", "check") is None
        assert st.last_ok(s, "b", "check") is not None
        [run] = st.job_runs(s, "a", "check")
        assert not run.ok and "unreachable" in run.error and run.started == now
        [problem] = st.system_problems(s, "a")
        # the 系统问题 (shown in the group's weekly report) is in words; the raw error stays in the run record
        assert problem.source == "job:check" and "job check failed" in problem.message
        assert "unreachable" not in problem.message
        assert st.system_problems(s, "b") == []


def test_a_slow_project_does_not_hold_up_another(store):
    release = threading.Event()
    started: list[str] = []

    def check(project: str, now: datetime) -> None:
        started.append(project)
        if project == "slow":
            release.wait(20)

    sched = PlanScheduler(store, ["slow", "fast"], lambda s: Policy(), JobSet(check=check))
    sched.start()
    try:
        assert sched.running and set(sched.next_runs()) == {"slow:check", "fast:check"}
        assert all(v is not None for v in sched.next_runs().values())
        sched.run_now("slow:check")
        wait_until(lambda: "slow" in started, timeout=10, interval=0.01, message="the slow project's check to start")
        sched.run_now("fast:check")

        def fast_ok() -> datetime | None:
            with store.session() as s:
                return st.last_ok(s, "fast", "check")

        ok = wait_until(fast_ok, timeout=10,
                        message="the fast project's check to run while the slow one was busy")
        assert ok is not None, "the fast project's check did not run while the slow one was busy"
        with store.session() as s:
            assert st.job_runs(s, "slow", "check") == []  # still running
        sched.reload(["fast"])
        assert set(sched.next_runs()) == {"fast:check"}
    finally:
        release.set()
        sched.shutdown()
    assert not sched.running
    with store.session() as s:
        assert [r.ok for r in st.job_runs(s, "slow", "check")] == [True]

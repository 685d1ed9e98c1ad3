"""When each project's jobs run: a thin typed layer over APScheduler 3 (BackgroundScheduler).

Per active project, in the project's timezone:
- `check` (refresh + checks) every `Policy.check_interval_minutes` within working hours,
- `digest` at `Policy.digest_time` on working days (China holiday calendar with 调休),
- `report` weekly at `Policy.report_weekday` / `report_time`,
- `reconcile` (full re-read) nightly at `Policy.reconcile_time`,
plus the optional cross-project `portfolio` job (weekly) and `monthly` job (月度汇报, on the 1st
of each month at `report_time`), project "" = all projects.

Each (project, job) is its own APScheduler job on a thread pool, so one failing or slow project
never holds up another; coalesce=True and max_instances=1 keep a late job from piling up. The
job bodies are plain callables `job(project_slug, now)` supplied by the caller (`JobSet`).
`build_schedule` is pure: tests compute fire times from a given `now` without a wall clock.
"""
from __future__ import annotations

import logging
import math
import traceback
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any, Callable, Iterable, Protocol
from zoneinfo import ZoneInfo

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger

from gtm.bot.failures import log_failure
from gtm.bot.rules.calendar import WorkCalendar
from gtm.schemas.settings import Policy
from gtm.sync.store.base import Store
from gtm.sync.store.ledger import add_system_problem, record_job_run

log = logging.getLogger(__name__)

JobFn = Callable[[str, datetime], Any]
# (job, project slug, exception, the run's instant, log id): what a failed run also needs to tell
FailureHook = Callable[[str, str, Exception, datetime, str], None]
PORTFOLIO = ""  # the project slug passed to the portfolio job: all projects


class Scheduled(Protocol):
    """A project as the schedule sees it (`ProjectRuntime` or a registry row): its slug."""

    slug: str


@dataclass
class JobSet:
    """The job bodies, provided by the caller. A missing one is simply not scheduled."""

    check: JobFn | None = None
    digest: JobFn | None = None
    report: JobFn | None = None
    reconcile: JobFn | None = None
    portfolio: JobFn | None = None
    monthly: JobFn | None = None
    on_failure: FailureHook | None = None  # called by `run_job` after a run failed and was recorded


# -- triggers ------------------------------------------------------------------------------------
def _search_from(previous_fire_time: datetime | None, now: datetime, tz: ZoneInfo) -> datetime:
    """Where a trigger looks for its next fire time: now, and strictly after the previous one, in `tz`."""
    if previous_fire_time is not None:
        now = max(now, previous_fire_time + timedelta(microseconds=1))
    return now.astimezone(tz)


class WorkingHoursTrigger(BaseTrigger):
    """Every `interval` minutes from `start` while before `end`, each day, wall-clock in `tz`.

    (A cron expression cannot say "every 30 minutes from 08:30 to 21:00".)
    """

    def __init__(self, start: time, end: time, interval_minutes: int, tz: ZoneInfo) -> None:
        if interval_minutes <= 0:
            raise ValueError("check_interval_minutes must be positive")
        self.start, self.end, self.interval, self.timezone = start, end, timedelta(minutes=interval_minutes), tz

    def get_next_fire_time(self, previous_fire_time: datetime | None, now: datetime) -> datetime | None:
        local = _search_from(previous_fire_time, now, self.timezone)
        for offset in range(3):
            day = local.date() + timedelta(days=offset)
            first = datetime.combine(day, self.start, tzinfo=self.timezone)
            last = datetime.combine(day, self.end, tzinfo=self.timezone)
            if self.end <= self.start:
                last += timedelta(days=1)
            if local <= first:
                return first
            k = math.ceil((local - first) / self.interval)
            cand = first + k * self.interval
            if cand < last:
                return cand
        return None  # pragma: no cover - unreachable with a positive interval

    def __str__(self) -> str:
        return f"working_hours[{self.start:%H:%M}-{self.end:%H:%M} every {self.interval}]"


class WorkingDayTrigger(BaseTrigger):
    """At `at` (wall clock in `tz`) on working days only (holidays skipped, 调休 days included)."""

    def __init__(self, at: time, tz: ZoneInfo, is_working_day: Callable[[date], bool]) -> None:
        self.at, self.timezone, self.is_working_day = at, tz, is_working_day

    def get_next_fire_time(self, previous_fire_time: datetime | None, now: datetime) -> datetime | None:
        local = _search_from(previous_fire_time, now, self.timezone)
        for offset in range(400):
            day = local.date() + timedelta(days=offset)
            cand = datetime.combine(day, self.at, tzinfo=self.timezone)
            if cand >= local and self.is_working_day(day):
                return cand
        return None

    def __str__(self) -> str:
        return f"working_days[{self.at:%H:%M}]"


def _working_day_fn(policy: Policy) -> Callable[[date], bool]:
    return WorkCalendar(policy).is_working_day


# -- the schedule --------------------------------------------------------------------------------
@dataclass
class JobSpec:
    """One scheduled (project, job): its trigger, body and misfire grace."""

    id: str
    project: str
    job: str
    trigger: BaseTrigger
    fn: JobFn
    timezone: ZoneInfo
    misfire_grace_time: int  # seconds: a run this late still happens (once, coalesced)
    on_failure: FailureHook | None = None  # `JobSet.on_failure`

    def next_fire(self, now: datetime, previous: datetime | None = None) -> datetime | None:
        return self.trigger.get_next_fire_time(previous, now)

    def fire_times(self, now: datetime, n: int) -> list[datetime]:
        """The next `n` fire times after `now` (for tests and `gtm status`)."""
        out: list[datetime] = []
        prev = None
        while len(out) < n:
            nxt = self.trigger.get_next_fire_time(prev, now if prev is None else prev)
            if nxt is None:
                break
            out.append(nxt)
            prev = nxt
        return out


def _slug(p: str | Scheduled) -> str:
    return p if isinstance(p, str) else p.slug


def build_schedule(projects: Iterable[str | Scheduled], policy_for: Callable[[str], Policy], jobs: JobSet, *,
                   portfolio_policy: Policy | None = None) -> list[JobSpec]:
    """All jobs for `projects` (slugs or objects with `.slug`); pure, no clock, no scheduler."""
    specs: list[JobSpec] = []
    for p in projects:
        slug = _slug(p)
        pol = policy_for(slug)
        tz = pol.tz
        if jobs.check:
            specs.append(JobSpec(f"{slug}:check", slug, "check",
                                 WorkingHoursTrigger(pol.working_hours_start, pol.working_hours_end,
                                                     pol.check_interval_minutes, tz),
                                 jobs.check, tz, max(60, pol.check_interval_minutes * 30)))
        if jobs.digest:
            specs.append(JobSpec(f"{slug}:digest", slug, "digest",
                                 WorkingDayTrigger(pol.digest_time, tz, _working_day_fn(pol)),
                                 jobs.digest, tz, 3 * 3600))
        if jobs.report:
            specs.append(JobSpec(f"{slug}:report", slug, "report",
                                 CronTrigger(day_of_week=pol.report_weekday, hour=pol.report_time.hour,
                                             minute=pol.report_time.minute, timezone=tz),
                                 jobs.report, tz, 6 * 3600))
        if jobs.reconcile:
            specs.append(JobSpec(f"{slug}:reconcile", slug, "reconcile",
                                 CronTrigger(hour=pol.reconcile_time.hour, minute=pol.reconcile_time.minute,
                                             timezone=tz),
                                 jobs.reconcile, tz, 4 * 3600))
    if jobs.portfolio:
        pol = portfolio_policy or Policy()
        specs.append(JobSpec("*:portfolio", PORTFOLIO, "portfolio",
                             CronTrigger(day_of_week=pol.report_weekday, hour=pol.report_time.hour,
                                         minute=pol.report_time.minute, timezone=pol.tz),
                             jobs.portfolio, pol.tz, 6 * 3600))
    if jobs.monthly:
        pol = portfolio_policy or Policy()
        specs.append(JobSpec("*:monthly", PORTFOLIO, "monthly",
                             CronTrigger(day=1, hour=pol.report_time.hour, minute=pol.report_time.minute,
                                         timezone=pol.tz),
                             jobs.monthly, pol.tz, 12 * 3600))
    for spec in specs:
        spec.on_failure = jobs.on_failure
    return specs


# -- running -------------------------------------------------------------------------------------
def run_job(store: Store | None, spec: JobSpec, now: datetime) -> bool:
    """Run one job body and record it: the scheduled jobs' one error boundary. An exception is
    logged with a log id (`gtm.bot.failures`), recorded in `job_runs`, becomes a "系统问题" for the
    PM's report and goes to `spec.on_failure` (the PM's card); it is never raised."""
    started = now
    try:
        spec.fn(spec.project, now)
    except Exception as exc:  # isolate: the scheduler and the other projects carry on
        f = log_failure(f"job {spec.job} for project {spec.project!r}", exc, logger=log)
        _record(store, spec, started, False, f"{f.operator} [{f.log_id}]\n" + traceback.format_exc(limit=5))
        if spec.on_failure is not None:
            try:
                spec.on_failure(spec.job, spec.project, exc, now, f.log_id)
            except Exception:  # noqa: BLE001 - reporting a failure must not raise; the log has both
                log.exception("could not report the failed job %s", spec.id)
        if store is not None:
            try:
                with store.session() as s:
                    add_system_problem(s, spec.project, f"job:{spec.job}",
                                       f"定时任务 {spec.job} 失败：{f.user} / job {spec.job} failed: "
                                       f"{f.user_en}",
                                       now=now)  # the run's instant: the report of that week shows it
            except Exception:  # pragma: no cover - the store itself is down; the log has it
                log.exception("could not record the system problem")
        return False
    _record(store, spec, started, True, "")
    return True


def _record(store: Store | None, spec: JobSpec, started: datetime, ok: bool, error: str) -> None:
    if store is None:
        return
    try:
        with store.session() as s:
            record_job_run(s, spec.project, spec.job, started, datetime.now(spec.timezone), ok, error)
    except Exception:  # pragma: no cover - a store outage must not kill the scheduler thread
        log.exception("could not record job run %s", spec.id)


@dataclass
class PlanScheduler:
    """The running schedule. Start it on the leader only (see `gtm.bot.service.leader`)."""

    store: Store | None
    projects: Iterable[str | Scheduled]
    policy_for: Callable[[str], Policy]
    jobs: JobSet
    portfolio_policy: Policy | None = None
    max_workers: int = 8
    specs: list[JobSpec] = field(default_factory=list)
    _sched: BackgroundScheduler | None = None

    @property
    def running(self) -> bool:
        return self._sched is not None and self._sched.running

    def start(self) -> None:
        if self.running:
            return
        self.specs = build_schedule(list(self.projects), self.policy_for, self.jobs,
                                    portfolio_policy=self.portfolio_policy)
        workers = max(2, min(self.max_workers, len(self.specs) or 1))
        self._sched = BackgroundScheduler(executors={"default": ThreadPoolExecutor(workers)},
                                          job_defaults={"coalesce": True, "max_instances": 1})
        for spec in self.specs:
            self._add(spec)
        self._sched.start()
        log.info("scheduler started: %d jobs", len(self.specs))

    def _add(self, spec: JobSpec) -> None:
        assert self._sched is not None
        self._sched.add_job(self._fire, trigger=spec.trigger, args=[spec], id=spec.id, name=spec.id,
                            coalesce=True, max_instances=1, misfire_grace_time=spec.misfire_grace_time,
                            replace_existing=True)

    def _fire(self, spec: JobSpec) -> None:
        run_job(self.store, spec, datetime.now(spec.timezone))  # the outermost edge: wall clock

    def shutdown(self, wait: bool = True) -> None:
        if self._sched is not None and self._sched.running:
            self._sched.shutdown(wait=wait)
        self._sched = None

    def reload(self, projects: Iterable[str | Scheduled]) -> None:
        """Replace the project set (a project added or deactivated) without restarting."""
        self.projects = list(projects)
        new = build_schedule(self.projects, self.policy_for, self.jobs, portfolio_policy=self.portfolio_policy)
        if not self.running:
            self.specs = new  # what `start` will schedule; `specs` never names an archived project
            return
        assert self._sched is not None
        keep = {s.id for s in new}
        for job in self._sched.get_jobs():
            if job.id not in keep:
                job.remove()
        for spec in new:
            self._add(spec)
        self.specs = new

    def run_now(self, job_id: str) -> None:
        """Fire one job as soon as a worker is free (e.g. `gtm check` while the service runs)."""
        if not self.running:
            raise RuntimeError("the scheduler is not running")
        spec = next((s for s in self.specs if s.id == job_id), None)
        if spec is None:
            raise KeyError(f"no job {job_id!r}; known: {', '.join(s.id for s in self.specs)}")
        assert self._sched is not None
        self._sched.modify_job(job_id, next_run_time=datetime.now(spec.timezone))

    def next_runs(self) -> dict[str, datetime | None]:
        if self._sched is None:
            return {}
        return {j.id: j.next_run_time for j in self._sched.get_jobs()}

"""The scheduler's job bodies: plain functions of (runtime, project_slug, now).

`gtm.bot.service.scheduler.PlanScheduler` fires them (on the leader only) and `run_job` records every run
in `job_runs`; a job that raises becomes a "系统问题" for the PM's report there, and `job_failed`
(the job set's failure hook) tells the PM of a failed check. Here each body only does its work
and feeds the Prometheus metrics (duration, failures, last successful check), so the same
functions can be called from a test or a CLI with any `now`.
"""
from __future__ import annotations

import logging
import time
from datetime import datetime, timedelta
from typing import Any, Callable

from gtm.bot.checks.check import notify_failure, run_check
from gtm.bot.checks.monthly import run_monthly
from gtm.bot.checks.posting import run_portfolio, run_weekly_report
from gtm.bot.runtime import ProjectRuntime, Runtime
from gtm.bot.service.metrics import Metrics
from gtm.bot.service.scheduler import JobSet
from gtm.sync.store.ledger import prune_events
from gtm.sync.store.registry import get_project

log = logging.getLogger(__name__)

JobBody = Callable[[Runtime, str, datetime], Any]


def _active_project(runtime: Runtime, slug: str) -> ProjectRuntime | None:
    """The project, or None when it was archived after the schedule was built (skip quietly)."""
    project = runtime.project(slug)
    if not project.active:
        log.info("project %s is archived: job skipped", slug)
        return None
    return project


def _check(runtime: Runtime, slug: str, now: datetime, *, include_digest: bool, metrics: Metrics | None = None) -> Any:
    project = _active_project(runtime, slug)
    if project is None:
        return None
    run = run_check(runtime, project, now, include_digest=include_digest)
    if metrics is not None:
        metrics.record_outcomes(slug, run.outcomes)
        metrics.last_check.labels(slug).set(now.timestamp())
    return run


def check_job(runtime: Runtime, slug: str, now: datetime, *, metrics: Metrics | None = None) -> Any:
    """The periodic check: refresh, rules, write-back; urgent notices only (no overdue digest)."""
    return _check(runtime, slug, now, include_digest=False, metrics=metrics)


def digest_job(runtime: Runtime, slug: str, now: datetime, *, metrics: Metrics | None = None) -> Any:
    """The morning run: the same check plus the digest of overdue / due-soon items."""
    return _check(runtime, slug, now, include_digest=True, metrics=metrics)


def report_job(runtime: Runtime, slug: str, now: datetime, *, metrics: Metrics | None = None) -> Any:
    """The weekly report to the project group."""
    project = _active_project(runtime, slug)
    if project is None:
        return None
    return run_weekly_report(runtime, project, now)


EVENT_MEMORY = timedelta(days=3)  # Feishu stops redelivering an event after about 7 hours


def reconcile_job(runtime: Runtime, slug: str, now: datetime, *, metrics: Metrics | None = None) -> Any:
    """The nightly full re-read (finds deletions the incremental refresh cannot see), and the
    nightly prune of remembered event ids (older than `EVENT_MEMORY`, wall clock)."""
    prune_processed_events(runtime, now)
    project = _active_project(runtime, slug)
    if project is None:
        return None
    return runtime.mirror(project).refresh(now, full=True)


def prune_processed_events(runtime: Runtime, now: datetime) -> int:
    """Forget event ids no redelivery can still bring (keeps `processed_events` small)."""
    with runtime.store.session() as s:
        n = prune_events(s, now - EVENT_MEMORY)
    if n:
        log.info("pruned %d processed event ids", n)
    return n


def portfolio_job(runtime: Runtime, slug: str, now: datetime, *, metrics: Metrics | None = None) -> Any:
    """The management portfolio across every active project (`slug` is "" for this job)."""
    return run_portfolio(runtime, now)


def monthly_job(runtime: Runtime, slug: str, now: datetime, *, metrics: Metrics | None = None) -> Any:
    """月度汇报 to management across every active project (`slug` is "" for this job)."""
    return run_monthly(runtime, now)


BODIES: dict[str, Callable[..., Any]] = {"check": check_job, "digest": digest_job, "report": report_job,
                                         "reconcile": reconcile_job, "portfolio": portfolio_job,
                                         "monthly": monthly_job}


def _note_error(runtime: Runtime, slug: str, exc: Exception) -> None:
    """Keep the last error on the project row (`gtm projects` shows it); never masks `exc`."""
    try:
        with runtime.store.session() as s:
            row = get_project(s, slug)
            if row is not None:
                row.last_error = f"{exc.__class__.__name__}: {exc}"[:2000]
    except Exception:  # noqa: BLE001 - the store may be what failed
        log.debug("could not record last_error for %s", slug, exc_info=True)


def job_failed(runtime: Runtime, job: str, slug: str, exc: Exception, now: datetime, log_id: str) -> None:
    """`JobSet.on_failure`, called by the scheduler's `run_job` once a run failed and was logged: a
    failed check or digest is kept on the project row and told to the PM (one card a day for
    check + digest, with the run's log id)."""
    if job not in ("check", "digest"):
        return
    _note_error(runtime, slug, exc)
    notify_failure(runtime, runtime.project(slug), exc, now, job="check", log_id=log_id)


def measured(name: str, body: Callable[..., Any], runtime: Runtime, metrics: Metrics | None = None) -> Callable[[str, datetime], Any]:
    """`body` as a scheduler job `fn(slug, now)`: times it and counts failures, then re-raises so
    the scheduler records the run and the 系统问题."""

    def job(slug: str, now: datetime) -> Any:
        label = slug or "*"
        started = time.perf_counter()
        try:
            return body(runtime, slug, now, metrics=metrics)
        except Exception:  # counted, then re-raised to the scheduler's boundary (`run_job`)
            if metrics is not None:
                metrics.job_failures.labels(label, name).inc()
            raise
        finally:
            if metrics is not None:
                metrics.job_duration.labels(label, name).observe(time.perf_counter() - started)

    job.__name__ = f"gtm_{name}_job"
    return job


def make_jobset(runtime: Runtime, metrics: Metrics | None = None, *, include: tuple[str, ...] | None = None) -> JobSet:
    """The `JobSet` for `PlanScheduler`: every job (or those named in `include`), measured."""
    names = include or tuple(BODIES)
    return JobSet(**{n: measured(n, BODIES[n], runtime, metrics) for n in names},
                  on_failure=lambda job, slug, exc, now, log_id: job_failed(runtime, job, slug, exc, now, log_id))

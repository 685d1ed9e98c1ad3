"""One check of one project at one instant: refresh → rules → write-back → notices.

This is the job the scheduler runs every N minutes and what `gtm check` runs once. It is a plain
function of (runtime, project, now): no clock inside, so tests and `--as-of` can replay any day.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from gtm.bot.runtime import ProjectRuntime, Runtime
from gtm.bot.watchdog import HealthIssue, collect, health_notices
from gtm.schemas.decisions import CheckResult, Notice, RecordRef
from gtm.schemas.plan import PlanSnapshot
from gtm.sync.drift import DriftReport

log = logging.getLogger(__name__)

DIGEST_KINDS = {"overdue", "due_soon"}


@dataclass
class CheckRun:
    """What one check did, for the CLI summary table, metrics and the PM's report."""

    project: str
    now: datetime
    snapshot: PlanSnapshot
    result: CheckResult
    refresh: Any = None
    writes_planned: int = 0
    writes_applied: int = 0
    writes_skipped: list[str] = field(default_factory=list)
    outcomes: list[Any] = field(default_factory=list)  # SendOutcome rows from the sender
    dry_run: bool = False
    error: str = ""
    drift: DriftReport | None = None
    health: list[HealthIssue] = field(default_factory=list)  # delivery-health causes after this run


def problem_notices(project: ProjectRuntime, snapshot: PlanSnapshot) -> list[Notice]:
    """Data problems go to the PM as one digest item each (rule "data_problem")."""
    pm = snapshot.project.pm.open_id if snapshot.project.pm else None
    if not pm:
        return []
    out = []
    for p in snapshot.problems:
        out.append(Notice(kind="data_problem", key=f"data_problem:{p.table}:{p.record_id}:{p.field}:{p.value}",
                          recipients=[pm], record=RecordRef(table=p.table, record_id=p.record_id),
                          digest=True, title="数据问题", text=p.describe("zh"), text_en=p.describe("en")))
    return out


def system_recipients(project: ProjectRuntime, snapshot: PlanSnapshot) -> list[str]:
    """Who hears about system problems (drift, failed deliveries): the PM and the admins."""
    pm = snapshot.project.pm.open_id if snapshot.project.pm else ""
    return list(dict.fromkeys([r for r in [pm, *project.policy.admins] if r]))


def drift_notices(project: ProjectRuntime, snapshot: PlanSnapshot, drift: DriftReport | None) -> list[Notice]:
    """One alert per schema change (renamed and followed, deleted, retyped, restored) to the PM and
    the admins; the ledger key names the change, so a change is said once however often it is seen."""
    who = system_recipients(project, snapshot)
    if drift is None or not who:
        return []
    return [Notice(kind="system", key=c.key, recipients=who, title="字段变化",
                   text=c.text, text_en=c.text_en,
                   data={"fix": "gtm init --repair" if c.kind in ("missing", "retyped") else ""})
            for c in drift.changes]


def evaluate(runtime: Runtime, project: ProjectRuntime, now: datetime, *, refresh: bool = True,
             full: bool = False) -> tuple[PlanSnapshot, CheckResult, Any]:
    """Refresh the mirror (optional) and run every rule; no writes, no sends."""
    snapshot, result, report, _ = evaluate_with_drift(runtime, project, now, refresh=refresh, full=full)
    return snapshot, result, report


def evaluate_with_drift(runtime: Runtime, project: ProjectRuntime, now: datetime, *, refresh: bool = True,
                        full: bool = False) -> tuple[PlanSnapshot, CheckResult, Any, DriftReport | None]:
    """`evaluate`, plus the schema-drift comparison every refreshing sync makes first."""
    from gtm.bot.rules.engine import run_checks
    from gtm.sync.store.ledger import get_states

    mirror = runtime.mirror(project)
    drift = mirror.check_schema(now) if refresh else None
    report = mirror.refresh(now, full=full, tables_full=drift.changed_tables if drift else ()) if refresh else None
    snapshot = mirror.snapshot()
    with runtime.store.session() as s:
        states = get_states(s, project.slug)
    result = run_checks(snapshot, now, project.policy, states)
    for g in snapshot.blind:  # say what cannot be judged, never a silent "0 items"
        result.warnings.append(g.describe(project.policy.locale))
    return snapshot, result, report, drift


def run_check(runtime: Runtime, project: ProjectRuntime, now: datetime, *, dry_run: bool = False,
              include_digest: bool = True, full: bool = False, sender: Any = None) -> CheckRun:
    """The whole check. `include_digest=False` is the periodic run: overdue/due-soon items wait
    for the morning digest; escalations, budget and gate alerts go out at once."""
    from gtm.sync.store.ledger import save_states
    from gtm.sync.store.registry import get_project
    from gtm.sync.writeback import apply as apply_writes
    from gtm.sync.writeback import plan_writes

    snapshot, result, refresh, drift = evaluate_with_drift(runtime, project, now, full=full)
    run = CheckRun(project.slug, now, snapshot, result, refresh=refresh, dry_run=dry_run, drift=drift)
    mirror = runtime.mirror(project)
    plan = plan_writes(result.writes, mirror)
    run.writes_planned = plan.count if hasattr(plan, "count") else len(result.writes)
    notices = list(result.notices) + problem_notices(project, snapshot) + drift_notices(project, snapshot, drift)
    if not include_digest:
        notices = [n for n in notices if not n.digest]
    if not dry_run:
        wr = apply_writes(plan, mirror, runtime.gateway)
        run.writes_applied = wr.written_cells
        run.writes_skipped = [f"{t}:{r}" for t, r in wr.conflicts]
    name = snapshot.project.name or project.name
    sender = sender or make_sender(runtime, {name: project.slug})
    run.outcomes = sender.dispatch(project.slug, name, notices, now, project.policy, dry_run=dry_run)
    if not dry_run:
        run.health, alerts = health_check(runtime, project, snapshot, now, sender, name=name,
                                          extra=health_extra(result.warnings))
        run.outcomes += alerts
        # The ladder state is stored only after its notices are in the ledger: a run that dies
        # before that decides them again next time (same keys, so the ledger still sends once),
        # instead of remembering "level 1 notified" for a notice that never existed.
        with runtime.store.session() as s:
            save_states(s, project.slug, result.escalations)
        with runtime.store.session() as s:
            row = get_project(s, project.slug)
            if row is not None:
                row.last_check_at = now
                row.last_error = ""
    return run


def health_extra(warnings: list[str]) -> dict[str, str]:
    """Causes the store does not hold: the holiday calendar falling back (from the rule warnings)."""
    fallback = [w for w in warnings if "节假日" in w or "holiday" in w.lower()]
    return {"holiday_fallback": fallback[0]} if fallback else {}


def health_check(runtime: Runtime, project: ProjectRuntime, snapshot: PlanSnapshot, now: datetime,
                 sender: Any, *, name: str = "", extra: dict[str, str] | None = None
                 ) -> tuple[list[HealthIssue], list[Any]]:
    """The delivery-health watchdog after a check's sends: one alert per cause per day to the PM
    and the admins (the admins only when the PM is unreachable). Never raises."""
    try:
        with runtime.store.session() as s:
            issues = collect(s, project.slug, now, extra=extra)
        pm = snapshot.project.pm.open_id if snapshot.project.pm else ""
        notices = health_notices(project.slug, name or project.name, pm, project.policy.admins, issues, now,
                                 project.tz)
        return issues, sender.dispatch(project.slug, name or project.name, notices, now, project.policy,
                                       flush=False)  # this run's leftovers wait for the next run
    except Exception:  # noqa: BLE001 - the watchdog must never break the check it watches
        log.exception("delivery-health watchdog failed for %s", project.slug)
        return [], []


def make_sender(runtime: Runtime, slugs: dict[str, str] | None = None):
    """The ledger-backed sender with the product's notice cards.

    `slugs` maps project display names to slugs: card buttons carry the slug so a click is routed
    to the right project even when two projects share people or record ids.
    """
    from gtm.bot.cards.factory import NoticeCards
    from gtm.bot.notify import Sender

    if slugs is None:
        slugs = {p.name: p.slug for p in runtime.projects()}
    return Sender(runtime.gateway, runtime.store, NoticeCards(slugs))


def last_known_pm(runtime: Runtime, project: ProjectRuntime) -> str:
    """The PM's open_id from the mirror as last read (no Feishu call: the Base may be the problem)."""
    try:
        snap = runtime.mirror(project).snapshot()
    except Exception:  # noqa: BLE001 - an empty or broken mirror: nobody to tell
        log.debug("no mirrored snapshot for %s", project.slug, exc_info=True)
        return ""
    return snap.project.pm.open_id if snap.project.pm else ""


def notify_failure(runtime: Runtime, project: ProjectRuntime, exc: BaseException, now: datetime, *,
                   job: str = "check", sender: Any = None) -> list[Any]:
    """Tell the project's PM that a scheduled job of theirs failed (Base deleted, access lost …).

    One card per project, job and local day (the ledger key carries the date), however often the
    job fails that day; the other projects are not affected and never hear of it. Never raises:
    the caller is already handling a failure.
    """
    try:
        pm = last_known_pm(runtime, project)
        if not pm:
            return []
        day = now.astimezone(project.tz).date().isoformat()
        detail = f"{exc.__class__.__name__}: {exc}"[:500]
        who = list(dict.fromkeys([pm, *project.policy.admins]))
        notice = Notice(kind="system", key=f"system:{job}:{day}", recipients=who, title="系统问题",
                        text=f"项目「{project.name}」的定时任务 {job} 失败，提醒和周报可能中断。请检查多维表格是否被删除、"
                             f"机器人是否仍有权限、是否仍在项目群中。",
                        text_en=f"The scheduled {job} of project “{project.name}” failed; reminders and the "
                                "weekly report may stop. Check that the Base still exists and the bot still "
                                "has access and is still in the project group.",
                        data={"error": detail})
        sender = sender or make_sender(runtime, {project.name: project.slug})
        return sender.dispatch(project.slug, project.name, [notice], now, project.policy)
    except Exception:  # noqa: BLE001
        log.exception("could not tell the PM of %s about a failed %s", project.slug, job)
        return []

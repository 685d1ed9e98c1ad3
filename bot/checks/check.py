"""One check of one project at one instant: refresh → rules → write-back → notices.

This is the job the scheduler runs every N minutes and what `gtm check` runs once. It is a plain
function of (runtime, project, now): no clock inside, so tests and `--as-of` can replay any day.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from gtm.bot.cards.factory import NoticeCards
from gtm.bot.checks.notify import Sender, SendOutcome
from gtm.bot.checks.watchdog import HealthIssue, collect, health_notices
from gtm.bot.failures import explain
from gtm.bot.rules.data_checks import tells_the_pm
from gtm.bot.rules.engine import run_checks
from gtm.bot.rules.overdue import TRACKED
from gtm.bot.runtime import ProjectRuntime, Runtime
from gtm.schemas.decisions import CheckResult, Notice, RecordRef
from gtm.schemas.plan import DataProblem, PlanSnapshot
from gtm.sync.drift import DriftReport
from gtm.sync.store.cells import forget, remember, reported_problems, service_cells, set_reported
from gtm.sync.store.ledger import get_states, save_states
from gtm.sync.store.registry import get_project
from gtm.sync.writeback import apply as apply_writes
from gtm.sync.writeback import plan_writes

log = logging.getLogger(__name__)


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


def problem_notices(project: ProjectRuntime, snapshot: PlanSnapshot,
                    problems: list[DataProblem] | None = None) -> list[Notice]:
    """Data problems (the snapshot's, or `problems`: the check's, which include them) go to the PM
    as one digest item each (rule "data_problem"); the ledger key makes each one go out once."""
    pm = snapshot.project.pm.open_id if snapshot.project.pm else None
    if not pm:
        return []
    out = []
    for p in (snapshot.problems if problems is None else problems):
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
                        full: bool = False, urgent_only: bool = False
                        ) -> tuple[PlanSnapshot, CheckResult, Any, DriftReport | None]:
    """`evaluate`, plus the schema-drift comparison every refreshing sync makes first.
    `urgent_only`: the result keeps no digest notice (`run_checks`)."""
    mirror = runtime.mirror(project)
    drift = mirror.check_schema(now) if refresh else None
    report = mirror.refresh(now, full=full, tables_full=drift.changed_tables if drift else ()) if refresh else None
    snapshot = mirror.snapshot()
    with runtime.store.session() as s:
        states = get_states(s, project.slug)
    result = run_checks(snapshot, now, project.policy, states,
                        service_set=service_overdue(runtime, project, snapshot), urgent_only=urgent_only)
    for g in snapshot.blind:  # say what cannot be judged, never a silent "0 items"
        result.warnings.append(g.describe(project.policy.locale))
    return snapshot, result, report, drift


OVERDUE_VALUES = {table: spec[3] for table, spec in TRACKED.items()}  # the 延期 option per table


def service_overdue(runtime: Runtime, project: ProjectRuntime, snapshot: PlanSnapshot
                    ) -> frozenset[tuple[str, str]]:
    """Rows whose 延期 the service wrote and that still hold it (a changed cell is forgotten)."""
    with runtime.store.session() as s:
        cells = service_cells(s, project.slug)
    if not cells:
        return frozenset()
    status = {(t, r.record_id): r.status for t in OVERDUE_VALUES for r in snapshot.rows(t)}
    held = frozenset((t, r) for (t, r, f), v in cells.items() if f == "status" and status.get((t, r)) == v)
    stale = [k for k in cells if k[2] == "status" and (k[0], k[1]) not in held]
    if stale:
        with runtime.store.session() as s:
            forget(s, project.slug, stale)
    return held


def remember_status_writes(runtime: Runtime, slug: str, writes: list[Any], now: datetime,
                           skipped: set[tuple[str, str]] = frozenset()) -> None:
    """Remember the 延期 the service wrote; forget the ones it lifted."""
    mine = [w for w in writes if w.attr == "status" and w.table in OVERDUE_VALUES
            and (w.table, w.record_id) not in skipped]
    if not mine:
        return
    with runtime.store.session() as s:
        remember(s, slug, [((w.table, w.record_id, "status"), w.value) for w in mine
                           if w.value == OVERDUE_VALUES[w.table]], now)
        forget(s, slug, [(w.table, w.record_id, "status") for w in mine
                         if w.value != OVERDUE_VALUES[w.table]])


def run_check(runtime: Runtime, project: ProjectRuntime, now: datetime, *, dry_run: bool = False,
              include_digest: bool = True, full: bool = False, sender: Sender | None = None) -> CheckRun:
    """The whole check. `include_digest=False` is the periodic run: overdue/due-soon items wait
    for the morning digest; escalations, budget and gate alerts go out at once. Its rules keep no
    digest notice at all (`urgent_only`): on a large plan those are most of the notices, and they
    would only be dropped below."""
    snapshot, result, refresh, drift = evaluate_with_drift(runtime, project, now, full=full,
                                                           urgent_only=not include_digest)
    run = CheckRun(project.slug, now, snapshot, result, refresh=refresh, dry_run=dry_run, drift=drift)
    mirror = runtime.mirror(project)
    plan = plan_writes(result.writes, mirror)
    run.writes_planned = plan.count if hasattr(plan, "count") else len(result.writes)
    own = set(snapshot.problems)
    problems = problem_notices(project, snapshot, [p for p in result.problems if p in own or tells_the_pm(p)])
    with runtime.store.session() as s:
        told = reported_problems(s, project.slug)
    fresh = [n for n in problems if n.key not in told]  # each data problem goes out once
    notices = list(result.notices) + fresh + drift_notices(project, snapshot, drift)
    if not include_digest:
        notices = [n for n in notices if not n.digest]
    if not dry_run:
        wr = apply_writes(plan, mirror, runtime.gateway)
        run.writes_applied = wr.written_cells
        run.writes_skipped = [f"{t}:{r}" for t, r in wr.conflicts]
        remember_status_writes(runtime, project.slug, list(result.writes), now,
                               set(wr.conflicts) | set(wr.vanished))
    name = snapshot.project.name or project.name
    sender = sender or make_sender(runtime, {name: project.slug})
    run.outcomes = sender.dispatch(project.slug, name, notices, now, project.policy, dry_run=dry_run)
    if not dry_run:
        sent = {n.key for n in fresh} if include_digest else set()  # handed to the ledger
        with runtime.store.session() as s:
            set_reported(s, project.slug, {n.key for n in problems}, sent, now)
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
                 sender: Sender, *, name: str = "", extra: dict[str, str] | None = None
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


def make_sender(runtime: Runtime, slugs: dict[str, str] | None = None) -> Sender:
    """The ledger-backed sender with the product's notice cards.

    `slugs` maps project display names to slugs: card buttons carry the slug so a click is routed
    to the right project even when two projects share people or record ids.
    """
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


JOB_ZH = {"check": "定时检查", "digest": "每日提醒", "report": "周报", "reconcile": "夜间全量同步",
          "answer": "群里的问答", "card_action": "卡片按钮"}


def notify_failure(runtime: Runtime, project: ProjectRuntime, exc: BaseException, now: datetime, *,
                   job: str = "check", sender: Sender | None = None, log_id: str | None = None) -> list[SendOutcome]:
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
        f = explain(exc, log_id)
        who = list(dict.fromkeys([pm, *project.policy.admins]))
        notice = Notice(kind="system", key=f"system:{job}:{day}", recipients=who, title="系统问题",
                        text=f"项目「{project.name}」的{JOB_ZH.get(job, '任务 ' + job)}失败：{f.user}。提醒和周报可能中断。"
                             f"（日志编号 {f.log_id}）",
                        text_en=f"The {job} of project “{project.name}” failed: {f.user_en}. Reminders and the "
                                f"weekly report may stop. (log id {f.log_id})",
                        data={"error": f.operator, "log_id": f.log_id})
        sender = sender or make_sender(runtime, {project.name: project.slug})
        return sender.dispatch(project.slug, project.name, [notice], now, project.policy)
    except Exception:  # noqa: BLE001
        log.exception("could not tell the PM of %s about a failed %s", project.slug, job)
        return []

"""The weekly report and the management portfolio: build, post once, archive, snapshot.

Both are jobs of (runtime, project, now). Posting goes through the ledger (key per week), so a
re-run or a second replica never posts the same week's report twice.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from gtm.bot.checks.check import evaluate, make_sender
from gtm.bot.checks.notify import SendOutcome, Sender
from gtm.bot.checks.portfolio import build_portfolio, portfolio_card
from gtm.bot.checks.send_once import undelivered
from gtm.bot.checks.weekly_report import build_weekly_report, report_archive_row, report_card, report_summary
from gtm.bot.failures import log_failure
from gtm.bot.runtime import ProjectRuntime, Runtime
from gtm.sync.create import create_record
from gtm.sync.feishu.errors import FeishuError
from gtm.sync.store.ledger import add_system_problem, get_previous, save_snapshot, system_problems, week_label
from gtm.sync.store.registry import get_project

log = logging.getLogger(__name__)


@dataclass
class ReportRun:
    project: str
    week: str
    view: Any
    card: dict
    outcomes: list[Any] = field(default_factory=list)
    archived_record: str = ""


def build_report(runtime: Runtime, project: ProjectRuntime, now: datetime, *, refresh: bool = True):
    """The report view and card as of `now` (no side effects besides the mirror refresh)."""
    snapshot, check, _ = evaluate_or_last_known(runtime, project, now, refresh=refresh)
    week = week_label(now.astimezone(project.tz))
    with runtime.store.session() as s:
        prev = get_previous(s, project.slug, week)
        previous = dict(prev.summary) if prev is not None else None
        since = prev.taken_at if prev is not None else now - timedelta(days=7)
        failed = [f"{r.recipient}: {r.rule or r.kind} {r.record} — {r.error_reason}"
                  for r in undelivered(s, project.slug, since)]
        problems = _counted([f"{p.source}: {p.message}" for p in system_problems(s, project.slug, since=since)])
    view = build_weekly_report(snapshot, check, now, project.policy.timezone, previous, failed, problems,
                               project_name=snapshot.project.name or project.name, policy=project.policy)
    return view, report_card(view, project.policy.locale), snapshot


def evaluate_or_last_known(runtime: Runtime, project: ProjectRuntime, now: datetime, *, refresh: bool = True):
    """`evaluate`, or — when Feishu refuses the read (Base deleted, access lost) — the data as last
    mirrored, with the failure recorded as a 系统问题 of this project. So the PM's report still goes
    out and says what is wrong instead of silently not arriving. Returns (snapshot, check, error):
    `error` is "" when the data is fresh."""
    try:
        snapshot, check, _ = evaluate(runtime, project, now, refresh=refresh)
        return snapshot, check, ""
    except FeishuError as exc:
        f = log_failure(f"project {project.slug}: reading the Base (using the last mirrored data)", exc, logger=log,
                        slug=project.slug)
        record_problem(runtime, project.slug, "sync",
                       f"多维表格无法读取，数据为上次同步的内容：{f.user} / Base unreadable, showing the last synced "
                       f"data: {f.user_en}", now)
        snapshot, check, _ = evaluate(runtime, project, now, refresh=False)
        return snapshot, check, str(exc)


def record_problem(runtime: Runtime, slug: str, source: str, message: str, now: datetime) -> None:
    """A 系统问题 for the project's next report (never raises: it reports another failure)."""
    try:
        with runtime.store.session() as s:
            add_system_problem(s, slug, source, message, now=now)
    except Exception:  # noqa: BLE001 - a failure report must not raise; the log has it
        log.exception("could not record a system problem for %s", slug)


def _counted(lines: list[str]) -> list[str]:
    """The same problem every 30 minutes is one line with a count, not 300 lines."""
    counts: dict[str, int] = {}
    for line in lines:
        counts[line] = counts.get(line, 0) + 1
    return [line if n == 1 else f"{line}（{n} 次 / times）" for line, n in counts.items()]


def run_weekly_report(runtime: Runtime, project: ProjectRuntime, now: datetime, *, post: bool = True,
                      sender: Sender | None = None) -> ReportRun:
    """Build the report; with `post`, send it to the project group(s) once, archive it in 周报 and
    keep this week's snapshot for next week's "what changed"."""
    view, card, snapshot = build_report(runtime, project, now)
    run = ReportRun(project.slug, view.week, view, card)
    if not post:
        return run
    chats = list(dict.fromkeys([*project.chat_ids, *snapshot.project.chat]))
    sender = sender or make_sender(runtime, {project.name: project.slug})
    for chat in chats:
        run.outcomes.append(sender.dispatch_card(project.slug, f"report:{view.week}", chat, card, now,
                                                 project.policy, rule="report", record=view.week))
    if not chats:  # nobody to post to: say so with the fix, and keep the report (archive, snapshot) all the same
        log.warning("report %s of %s not posted: the project has no group chat", view.week, project.slug)
        run.outcomes.append(SendOutcome(
            "report", view.week, "—", "single", "skipped",
            f"项目没有关联群聊，周报未发送：gtm projects link {project.slug} --chat oc_… / no group chat "
            f"linked, not posted: gtm projects link {project.slug} --chat oc_…"))
    if not chats or any(getattr(o, "status", "") == "sent" for o in run.outcomes):
        mirror = runtime.mirror(project)
        if not any(r.week == view.week for r in snapshot.reports):
            try:
                run.archived_record = create_record(mirror, "report", report_archive_row(view, now),
                                                    key=f"report:{view.week}")
            except (FeishuError, KeyError) as exc:  # posted but not archived (or 周报 table missing): say so next time, keep the snapshot
                log.warning("report %s of %s not archived: %s", view.week, project.slug, exc)
                record_problem(runtime, project.slug, "report",
                               f"周报 {view.week} 未能存档到「周报」表 / not archived: {exc}", now)
        with runtime.store.session() as s:
            save_snapshot(s, project.slug, view.week, report_summary(view), now)
            row = get_project(s, project.slug)
            if row is not None:
                row.last_report_at = now
    return run


@dataclass
class PortfolioRun:
    view: Any
    cards: dict[str, dict]  # recipient open_id -> card
    outcomes: list[Any] = field(default_factory=list)


def run_portfolio(runtime: Runtime, now: datetime, *, post: bool = True, sender: Sender | None = None) -> PortfolioRun:
    """One portfolio card per management person across every active project (not per project)."""
    projects = runtime.projects()
    rows, managers, stale = [], {}, set()
    for p in projects:
        try:
            snapshot, check, error = evaluate_or_last_known(runtime, p, now)
        except Exception:  # one broken project must not hide the others
            log.exception("portfolio: project %s failed", p.slug)
            continue
        if error:
            stale.add(p.slug)
        rows.append((snapshot.project.name or p.name, snapshot, check))
        for person in snapshot.project.management:
            managers.setdefault(person.open_id, person)
    policy = projects[0].policy if projects else runtime.settings.effective_policy()
    view = build_portfolio(rows, now, policy)
    for row in view.rows:  # say which rows are last-known data (the Base could not be read)
        if row.slug in stale:
            row.top_reason = f"⚠ 多维表格无法读取，以下为上次同步的数据 · {row.top_reason}"
            row.top_reason_en = f"⚠ Base unreadable, last synced data · {row.top_reason_en}"
    card = portfolio_card(view, policy.locale)
    run = PortfolioRun(view, {m: card for m in managers})
    if post and managers:
        sender = sender or make_sender(runtime)
        week = week_label(now.astimezone(policy.tz))
        for open_id in managers:
            run.outcomes.append(sender.dispatch_card("_portfolio", f"portfolio:{week}", open_id, card, now,
                                                     policy, rule="portfolio", record=week))
    return run

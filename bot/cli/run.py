"""The CLI bodies of `gtm sync/check/report/portfolio/ask/monthly/baseline/projects`: run, then
print with Rich. `*_command(ctx, **options)` are what `gtm.bot.cli.main.COMMANDS` names; failures
they let escape reach the CLI's error boundary (`gtm.bot.cli.boundary`)."""
from __future__ import annotations

import json
import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import click
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from gtm.bot.cards.terminal import card_to_text
from gtm.bot.catalogue import RAG
from gtm.bot.chat.ask import ask
from gtm.bot.checks.baseline import compare, set_baseline
from gtm.bot.checks import check
from gtm.bot.checks.monthly import monthly_card, run_monthly
from gtm.bot.checks.portfolio import portfolio_card
from gtm.bot.checks.posting import run_portfolio, run_weekly_report
from gtm.bot.cli.options import NowFn, fail, now_at, runtime_of
from gtm.bot.cli.outcomes import outcome_json, outcomes_table
from gtm.bot.cli.preflight import apply_moves, bound_elsewhere, resolve_chat, resolve_person
from gtm.bot.cli.progress import step_progress
from gtm.bot.failures import ProjectNotFound, explain
from gtm.bot.runtime import ProjectRuntime, Runtime
from gtm.bot.validate import BadArgument, check_chat_id
from gtm.bot.cli.sync_table import render_summary
from gtm.sync.refresh import sync_project
from gtm.sync.store.registry import get_project, list_projects
from gtm.sync.writeback import WriteBackError

console = Console()
PROBLEMS_SHOWN = 5  # data problems a check prints; the rest: `gtm ask 数据问题`
log = logging.getLogger(__name__)


def _projects(app: Runtime, project: str | None, *, allow_all: bool = False) -> list[ProjectRuntime]:
    if allow_all and project == "all":
        return app.projects()
    return [app.project(project)]


def print_json(data: Any) -> None:
    """`--json` output: one JSON document on stdout (UTF-8, not escaped), nothing else."""
    print(json.dumps(data, ensure_ascii=False, indent=1, default=str))


def run_sync(app: Runtime, project: str | None, full: bool) -> int:
    p = _projects(app, project)[0]
    now = datetime.now(p.tz)
    with step_progress(console, "同步 / sync", enabled=full) as progress:
        summary = sync_project(app.store, app.gateway, p.binding, now, full=full, progress=progress)
    console.print(render_summary(summary))
    return 0


def run_check_cli(app: Runtime, project: str | None, now_fn: NowFn, dry_run: bool, *, as_json: bool = False,
                  debug: bool = False) -> int:
    code = 0
    projects = _projects(app, project, allow_all=True)
    failed: list[str] = []
    results: list[dict[str, Any]] = []
    for p in projects:
        # one project's failure (a deleted Base, an odd record, a bug) is reported and the
        # others are still checked; the exit status summarises
        try:
            results.append(_check_one(app, p, now_fn, dry_run, as_json))
        except Exception as exc:  # noqa: BLE001 - isolation boundary per project
            failed.append(p.slug)
            code = 1
            if as_json:
                results.append({"project": p.slug, "error": f"{exc.__class__.__name__}: {exc}"})
                continue
            _print_failure(p.slug, exc, debug)
    if as_json:
        print_json(results if project == "all" else (results[0] if results else {}))
        return code
    if len(projects) > 1:
        ok = len(projects) - len(failed)
        console.print(f"{ok}/{len(projects)} 个项目检查完成 / projects checked"
                      + (f"；失败 / failed: {escape(', '.join(failed))}" if failed else ""))
    return code


def _print_failure(slug: str, exc: Exception, debug: bool) -> None:
    """One project's failure as the CLI's boundary says it (`gtm.bot.failures.explain`): what is wrong
    and what to do, then the log id; the traceback only with `--debug`."""
    f = explain(exc, slug=slug)
    log.debug("check of %s failed [%s]", slug, f.log_id, exc_info=exc)
    console.print(f"[red]项目 {escape(slug)} 检查失败 / check failed:[/] {escape(f.operator)}")
    if debug:
        console.print_exception()
    elif not f.expected:
        console.print(f"  (日志编号 / log id {f.log_id}; 加 --debug 查看详情 / add --debug for details)")


def _check_one(app: Runtime, p: ProjectRuntime, now_fn: NowFn, dry_run: bool, as_json: bool = False) -> dict[str, Any]:
    """Check one project; print its summary (or, with `as_json`, only return it)."""
    now = now_fn(p.tz)
    run = check.run_check(app, p, now, dry_run=dry_run)  # looked up per call: tests substitute it
    rag = run.result.rag
    result = {"project": p.slug, "as_of": now.isoformat(), "rag": rag.color,
              "explanation": rag.explanation("zh"), "explanation_en": rag.explanation("en"),
              "writes": {"planned": run.writes_planned, "applied": run.writes_applied,
                         "skipped": len(run.writes_skipped)},
              "data_problems": len(run.result.problems), "warnings": [str(w) for w in run.result.warnings],
              "dry_run": dry_run, "notices": [outcome_json(o) for o in run.outcomes]}
    if as_json:
        return result
    color = {"green": "green", "yellow": "yellow", "red": "red"}[rag.color]
    console.print(f"[bold]{escape(p.slug)}[/] @ {now.isoformat(timespec='minutes')}  整体状态 / status: "
                  f"[{color}]{RAG[rag.color].zh} / {rag.color}[/] — {escape(rag.explanation('zh'))}")
    console.print(f"  写回 / write-back: {run.writes_planned} planned, {run.writes_applied} written"
                  + (f", {len(run.writes_skipped)} skipped (edited by a person)" if run.writes_skipped else "")
                  + ("  [cyan](dry run)[/]" if dry_run else ""))
    if run.result.problems:
        problems = run.result.problems
        console.print(f"  数据问题 / data problems: {len(problems)}")
        for problem in problems[:PROBLEMS_SHOWN]:  # people's text: escaped, never markup
            console.print(f"    • {escape(problem.describe('zh'))}")
        if len(problems) > PROBLEMS_SHOWN:
            console.print(f"    … 还有 {len(problems) - PROBLEMS_SHOWN} 项 / {len(problems) - PROBLEMS_SHOWN} more: "
                          f"gtm ask 数据问题 --project {escape(p.slug)}")
    for w in run.result.warnings:
        console.print(f"  [yellow]⚠ {escape(str(w))}[/]")
    console.print(outcomes_table(run.outcomes, f"{escape(p.slug)}: 通知 / notices ({len(run.outcomes)})",
                                 people=run.snapshot.people()))
    return result


def _print_card(card: dict) -> None:
    console.print(card_to_text(card, width=console.width), markup=False, highlight=False)


def run_report_cli(app: Runtime, project: str | None, now_fn: NowFn, print_only: bool, *, as_json: bool = False) -> int:
    p = _projects(app, project)[0]
    run = run_weekly_report(app, p, now_fn(p.tz), post=not print_only)
    if as_json:
        print_json({"project": p.slug, "week": run.week,
                    "posted": any(getattr(o, "status", "") == "sent" for o in run.outcomes),
                    "text": card_to_text(run.card), "card": run.card,
                    "notices": [outcome_json(o) for o in run.outcomes]})
        return 0
    _print_card(run.card)
    if not print_only:
        console.print(outcomes_table(run.outcomes, f"周报 / report {run.week}"))
    return 0


def _show_management_run(cards: dict[str, dict[str, Any]], unsent: Callable[[], dict[str, Any]],
                         outcomes: list[Any], title: str, print_only: bool) -> int:
    """Print the card management got (or, with nobody to send to, the card `unsent` renders) and,
    when it was posted, what the sending did."""
    _print_card(next(iter(cards.values())) if cards else unsent())
    if not print_only:
        console.print(outcomes_table(outcomes, title))
    return 0


def run_portfolio_cli(app: Runtime, now_fn: NowFn, print_only: bool) -> int:
    run = run_portfolio(app, now_fn(app.settings.tz), post=not print_only)
    return _show_management_run(run.cards, lambda: portfolio_card(run.view), run.outcomes,
                                "全部项目 / portfolio", print_only)


def run_monthly_cli(app: Runtime, now_fn: NowFn, print_only: bool) -> int:
    run = run_monthly(app, now_fn(app.settings.tz), post=not print_only)
    return _show_management_run(run.cards, lambda: monthly_card(run.view), run.outcomes,
                                f"月度汇报 / monthly {run.view.month}", print_only)


def run_ask_cli(app: Runtime, text: str, as_open_id: str | None, project: str | None, now_fn: NowFn, *,
                as_json: bool = False) -> int:
    projects = app.projects()
    tz = projects[0].tz if projects else app.settings.tz
    if as_open_id:
        as_open_id = _asker(app, as_open_id)
    card = ask(app, text, as_open_id=as_open_id, project=project, now=now_fn(tz))
    if as_json:
        print_json({"question": text, "text": card_to_text(card), "card": card})
        return 0
    _print_card(card)
    return 0


def _asker(app: Runtime, who: str) -> str:
    """`--as`: an open_id the directory knows, or an email it resolves; anything else is refused
    (an unknown person would only ever be answered "nothing to do")."""
    if not who.startswith("ou_") and "@" not in who:
        fail(f"--as {who!r}：请给 open_id（ou_…）或邮箱 / give an open_id (ou_…) or an email, "
             "e.g. --as ou_3f2a… or --as zhang.wei@example.com")
    oid, _ = resolve_person(app.gateway, who, "提问人")
    if oid is None:
        fail(f"--as {who}：通讯录里没有这个人 / not found in the directory; "
             "e.g. --as ou_3f2a… or --as zhang.wei@example.com")
    return oid or who


def run_projects_list(app: Runtime, *, as_json: bool = False) -> int:
    """The projects: a table that fits 80 columns (slug, name, state, last check and report),
    then each project's Base and chats on their own lines (URLs do not wrap inside cells)."""
    with app.store.session() as s:
        rows = list_projects(s)
    if as_json:
        print_json([{"slug": r.slug, "name": r.name, "template": r.template, "active": bool(r.active),
                     "base_url": r.base_url or "", "base_token": r.base_token or "",
                     "chats": list(r.chat_ids or []), "timezone": r.timezone,
                     "last_check_at": r.last_check_at.isoformat() if r.last_check_at else None,
                     "last_report_at": r.last_report_at.isoformat() if r.last_report_at else None}
                    for r in rows])
        return 0
    if not rows:
        console.print("还没有项目 / no projects yet: `gtm init --project SLUG`")
        return 0
    t = Table(title="项目 / projects", expand=False, pad_edge=False)
    t.add_column("slug", no_wrap=True)
    t.add_column("名称 name", overflow="fold", max_width=24)
    t.add_column("状态 state", no_wrap=True)
    t.add_column("上次检查 check", no_wrap=True)
    t.add_column("上次周报 report", no_wrap=True)
    for r in rows:
        t.add_row(escape(r.slug), escape(f"{r.name} ({r.template})"), "active" if r.active else "archived",
                  _fmt(r.last_check_at, r.timezone), _fmt(r.last_report_at, r.timezone))
    console.print(t)
    for r in rows:
        console.print(f"[bold]{escape(r.slug)}[/]  多维表格 / Base: {escape(r.base_url or r.base_token or '—')}",
                      soft_wrap=True)
        console.print(f"  群 / chats: {escape(', '.join(r.chat_ids or []) or '—')}", soft_wrap=True)
    return 0


def _fmt(dt: datetime | None, tz: str) -> str:
    return dt.astimezone(ZoneInfo(tz)).strftime("%Y-%m-%d %H:%M") if dt else "—"


def run_projects_archive(app: Runtime, slug: str) -> int:
    with app.store.session() as s:
        row = get_project(s, slug)
        if row is None:
            raise ProjectNotFound(f"没有项目 {slug!r} / no project {slug!r}")
        row.active = False
    console.print(f"项目 {slug} 已归档：定时任务停止，多维表格保持不变 / project {slug} archived: its jobs stop, "
                  "its Base is untouched")
    return 0


def run_projects_link(app: Runtime, slug: str, chats: list[str], *, move: bool = False) -> int:
    """Bind group chat(s) to a project, so @mentions there answer for it (the "not linked" card
    tells people to do this). Each chat must exist and have the bot; a chat belongs to at most one
    active project: a clash is refused unless `move` (then it leaves the other project)."""
    with app.store.session() as s:
        if get_project(s, slug) is None:
            raise ProjectNotFound(f"没有项目 {slug!r} / no project {slug!r}; 已有 / known: "
                                  + ", ".join(r.slug for r in list_projects(s)))
    refusals = [why for why in (resolve_chat(app.gateway, c)[1] for c in chats) if why]
    clash = bound_elsewhere(app.store, slug, chats)
    if clash and not move:
        refusals += [f"群 {c} 已关联项目 {other}，加 --move 移到 {slug} / chat {c} already linked to project "
                     f"{other}; pass --move to move it to {slug}" for c, other in clash.items()]
    if refusals:
        for line in refusals:
            console.print(f"[red]{escape(line)}[/]")
        return 2
    apply_moves(app.store, clash)
    with app.store.session() as s:
        row = get_project(s, slug)
        linked = list(dict.fromkeys([*(row.chat_ids or []), *chats]))
        row.chat_ids = linked
    console.print(f"项目 {slug} 的群 / chats of project {slug}: {', '.join(linked)}")
    return 0


def run_baseline_set(app: Runtime, project: str | None, now_fn: NowFn, only_missing: bool) -> int:
    p = _projects(app, project)[0]
    try:
        done = set_baseline(app, p, now_fn(p.tz), only_missing=only_missing)
    except WriteBackError as exc:
        console.print(f"[red]基线写入失败 / baseline not written:[/] {escape(str(exc))}\n"
                      f"  旧的多维表格可能还没有「基线结束」「基线偏差」字段：先运行 / an older Base may lack the "
                      f"baseline fields; run first: gtm init --repair --project {p.slug}")
        return 1
    console.print(f"项目 {p.slug}：{done.rows} 个任务/里程碑设定了基线，写入 {done.cells_written} 个单元格 / "
                  f"baseline set on {done.rows} tasks/milestones, {done.cells_written} cells written"
                  + (f"; {len(done.skipped)} skipped (edited by a person meanwhile)" if done.skipped else ""))
    return 0


def run_baseline_show(app: Runtime, project: str | None, now_fn: NowFn) -> int:
    p = _projects(app, project)[0]
    now = now_fn(p.tz)
    mirror = app.mirror(p)
    mirror.refresh(now)
    rows = compare(mirror.snapshot(now), now, p)
    t = Table(title=f"{p.slug}: 基线对比 / baseline vs plan")
    for col in ("类型 kind", "事项 item", "负责人 owner", "基线 baseline", "当前 plan", "偏差 Δ days", "预计 forecast"):
        t.add_column(col, overflow="fold")
    kinds = {"milestone": "里程碑 milestone", "task": "任务 task"}
    for r in rows:
        var = "—" if r.variance is None else (f"+{r.variance}" if r.variance > 0 else str(r.variance))
        color = "red" if (r.variance or 0) > 0 else "green"
        t.add_row(kinds[r.table], escape(r.label), escape(r.owner), r.baseline or "—", r.current or "—",
                  f"[{color}]{var}[/]", r.forecast or "—")
    console.print(t)
    if not any(r.baseline for r in rows):
        console.print("还没有基线 / no baseline yet: gtm baseline set" + (f" --project {p.slug}" if project else ""))
    return 0


# ---- the commands (`gtm.bot.cli.main.COMMANDS`): options in, exit code out ------------------
def sync_command(ctx: click.Context, *, project: str | None, full: bool) -> int:
    return run_sync(runtime_of(ctx), project, full)


def check_command(ctx: click.Context, *, project: str | None, as_of: str | None, dry_run: bool,
                  as_json: bool) -> int:
    now_fn = now_at(as_of)
    return run_check_cli(runtime_of(ctx), project, now_fn, dry_run, as_json=as_json,
                         debug=bool(ctx.find_root().meta.get("gtm_debug")))


def report_command(ctx: click.Context, *, project: str | None, as_of: str | None, print_only: bool,
                   as_json: bool) -> int:
    now_fn = now_at(as_of)
    return run_report_cli(runtime_of(ctx), project, now_fn, print_only, as_json=as_json)


def portfolio_command(ctx: click.Context, *, as_of: str | None, print_only: bool) -> int:
    now_fn = now_at(as_of)
    return run_portfolio_cli(runtime_of(ctx), now_fn, print_only)


def monthly_command(ctx: click.Context, *, as_of: str | None, print_only: bool) -> int:
    now_fn = now_at(as_of)
    return run_monthly_cli(runtime_of(ctx), now_fn, print_only)


def ask_command(ctx: click.Context, *, text: str, as_open_id: str | None, project: str | None,
                as_of: str | None, as_json: bool) -> int:
    now_fn = now_at(as_of)
    return run_ask_cli(runtime_of(ctx), text, as_open_id, project, now_fn, as_json=as_json)


def baseline_set_command(ctx: click.Context, *, project: str | None, missing_only: bool,
                         as_of: str | None) -> int:
    now_fn = now_at(as_of)
    return run_baseline_set(runtime_of(ctx), project, now_fn, missing_only)


def baseline_show_command(ctx: click.Context, *, project: str | None, as_of: str | None) -> int:
    now_fn = now_at(as_of)
    return run_baseline_show(runtime_of(ctx), project, now_fn)


def projects_list_command(ctx: click.Context, *, as_json: bool) -> int:
    return run_projects_list(runtime_of(ctx), as_json=as_json)


def projects_archive_command(ctx: click.Context, *, slug: str) -> int:
    return run_projects_archive(runtime_of(ctx), slug)


def projects_link_command(ctx: click.Context, *, slug: str, chats: tuple[str, ...], move: bool) -> int:
    try:
        for c in chats:
            check_chat_id(c)
    except BadArgument as exc:
        fail(str(exc))
    return run_projects_link(runtime_of(ctx), slug, list(chats), move=move)

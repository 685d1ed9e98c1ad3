"""The CLI bodies of `gtm sync/check/report/portfolio/ask/projects`: run, then print with Rich."""
from __future__ import annotations

from datetime import datetime
from typing import Any, Callable

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from gtm.bot.runtime import ProjectNotFound
from gtm.sync.errors import FeishuError

NowFn = Callable[[Any], datetime]
console = Console()


def _projects(app, project: str | None, *, allow_all: bool = False):
    rt = app.runtime
    if allow_all and project == "all":
        return rt.projects()
    return [rt.project(project)]


def _guard(fn):
    """Turn the expected failures into one clear line and exit code 1."""
    def wrapper(*a, **kw):
        try:
            return fn(*a, **kw)
        except ProjectNotFound as exc:
            console.print(f"[red]{exc}[/]")
            return 2
        except FeishuError as exc:
            console.print(f"[red]飞书调用失败 / Feishu call failed:[/] {exc}")
            return 1
    wrapper.__name__ = fn.__name__
    wrapper.__doc__ = fn.__doc__
    return wrapper


@_guard
def run_sync(app, project: str | None, full: bool) -> int:
    from gtm.sync.refresh import render_summary, sync_project

    p = _projects(app, project)[0]
    now = datetime.now(p.tz)
    summary = sync_project(app.store, app.gateway, p.binding, now, full=full)
    console.print(render_summary(summary))
    return 0


def outcomes_table(outcomes: list[Any], title: str) -> Table:
    t = Table(title=title, show_lines=False)
    for col in ("规则 rule", "记录 record", "接收人 recipient", "方式 action", "结果 status", "原因 why"):
        t.add_column(col, overflow="fold")
    colors = {"sent": "green", "queued": "yellow", "failed": "red", "pending": "yellow", "dry_run": "cyan"}
    for o in outcomes:  # people's text (record names, error reasons) is data, never markup
        st = getattr(o, "status", "")
        t.add_row(escape(o.rule), escape(o.record), escape(o.recipient), escape(o.action),
                  f"[{colors.get(st, 'white')}]{escape(st)}[/]", escape(o.why))
    return t


@_guard
def run_check_cli(app, project: str | None, now_fn: NowFn, dry_run: bool) -> int:
    code = 0
    projects = _projects(app, project, allow_all=True)
    failed: list[str] = []
    for p in projects:
        # one project's failure (a deleted Base, an odd record, a bug) is reported and the
        # others are still checked; the exit status summarises
        try:
            _check_one(app, p, now_fn, dry_run)
        except Exception as exc:  # noqa: BLE001 - isolation boundary per project
            failed.append(p.slug)
            code = 1
            console.print(f"[red]项目 {escape(p.slug)} 检查失败 / check failed:[/] "
                          f"{escape(exc.__class__.__name__)}: {escape(str(exc))}")
            if getattr(app, "debug", False):
                console.print_exception()
    if len(projects) > 1:
        ok = len(projects) - len(failed)
        console.print(f"{ok}/{len(projects)} 个项目检查完成 / projects checked"
                      + (f"；失败 / failed: {escape(', '.join(failed))}" if failed else ""))
    return code


def _check_one(app, p, now_fn: NowFn, dry_run: bool) -> None:
    from gtm.bot.check import run_check

    now = now_fn(p.tz)
    run = run_check(app.runtime, p, now, dry_run=dry_run)
    rag = run.result.rag
    color = {"green": "green", "yellow": "yellow", "red": "red"}[rag.color]
    console.print(f"[bold]{escape(p.slug)}[/] @ {now.isoformat(timespec='minutes')}  整体状态 / status: "
                  f"[{color}]{rag.color}[/] — {escape(rag.explanation('zh'))}")
    console.print(f"  写回 / write-back: {run.writes_planned} planned, {run.writes_applied} written"
                  + (f", {len(run.writes_skipped)} skipped (edited by a person)" if run.writes_skipped else "")
                  + ("  [cyan](dry run)[/]" if dry_run else ""))
    if run.result.problems:
        console.print(f"  数据问题 / data problems: {len(run.result.problems)}")
    for w in run.result.warnings:
        console.print(f"  [yellow]⚠ {escape(w)}[/]")
    console.print(outcomes_table(run.outcomes, f"{escape(p.slug)}: 通知 / notices ({len(run.outcomes)})"))


def _print_card(card: dict) -> None:
    from gtm.bot.ask import card_to_text

    console.print(card_to_text(card), markup=False, highlight=False)


@_guard
def run_report_cli(app, project: str | None, now_fn: NowFn, print_only: bool) -> int:
    from gtm.bot.weekly import run_weekly_report

    p = _projects(app, project)[0]
    run = run_weekly_report(app.runtime, p, now_fn(p.tz), post=not print_only)
    _print_card(run.card)
    if not print_only:
        console.print(outcomes_table(run.outcomes, f"周报 / report {run.week}"))
    return 0


@_guard
def run_portfolio_cli(app, now_fn: NowFn, print_only: bool) -> int:
    from gtm.bot.weekly import run_portfolio

    now = now_fn(app.settings.tz)
    run = run_portfolio(app.runtime, now, post=not print_only)
    from gtm.bot.portfolio import portfolio_card

    _print_card(next(iter(run.cards.values())) if run.cards else portfolio_card(run.view))
    if not print_only:
        console.print(outcomes_table(run.outcomes, "全部项目 / portfolio"))
    return 0


@_guard
def run_ask_cli(app, text: str, as_open_id: str | None, project: str | None, now_fn: NowFn) -> int:
    from gtm.bot.ask import ask

    projects = app.runtime.projects()
    tz = projects[0].tz if projects else app.settings.tz
    card = ask(app.runtime, text, as_open_id=as_open_id, project=project, now=now_fn(tz))
    _print_card(card)
    return 0


@_guard
def run_projects_list(app) -> int:
    from gtm.sync.store.registry import list_projects

    with app.store.session() as s:
        rows = list_projects(s)
    if not rows:
        console.print("还没有项目 / no projects yet: `gtm init --project SLUG`")
        return 0
    t = Table(title="项目 / projects")
    for col in ("slug", "名称 name", "模板 template", "状态 state", "多维表格 Base", "群 chat", "上次检查 last check",
                "上次周报 last report"):
        t.add_column(col, overflow="fold")
    for r in rows:
        t.add_row(escape(r.slug), escape(r.name), escape(r.template), "active" if r.active else "archived",
                  escape(r.base_url or r.base_token), escape(", ".join(r.chat_ids or [])),
                  _fmt(r.last_check_at, r.timezone), _fmt(r.last_report_at, r.timezone))
    console.print(t)
    return 0


def _fmt(dt: datetime | None, tz: str) -> str:
    from zoneinfo import ZoneInfo

    return dt.astimezone(ZoneInfo(tz)).strftime("%Y-%m-%d %H:%M") if dt else "—"


@_guard
def run_projects_archive(app, slug: str) -> int:
    from gtm.sync.store.registry import get_project

    with app.store.session() as s:
        row = get_project(s, slug)
        if row is None:
            raise ProjectNotFound(f"没有项目 {slug!r} / no project {slug!r}")
        row.active = False
    console.print(f"项目 {slug} 已归档：定时任务停止，多维表格保持不变 / project {slug} archived: its jobs stop, "
                  "its Base is untouched")
    return 0


@_guard
def run_projects_link(app, slug: str, chats: list[str], *, move: bool = False) -> int:
    """Bind group chat(s) to a project, so @mentions there answer for it (the "not linked" card
    tells people to do this). Each chat must exist and have the bot; a chat belongs to at most one
    active project: a clash is refused unless `move` (then it leaves the other project)."""
    from rich.markup import escape

    from gtm.bot.preflight import apply_moves, bound_elsewhere, resolve_chat
    from gtm.sync.store.registry import get_project, list_projects

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

"""`gtm`: the command-line tool. Each subcommand is a thin shell over a function that takes `now`.

Commands import their machinery lazily so `gtm --help` stays instant.
"""
from __future__ import annotations

import logging
import sys
import traceback
import warnings
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, Callable, TypeVar

import click

if TYPE_CHECKING:
    from gtm.schemas.settings import Settings

warnings.filterwarnings("ignore", message="Module gtm was already imported")
log = logging.getLogger("gtm.cli")


def _parse_as_of(value: str | None, tz) -> datetime:
    """`--as-of` ISO-8601 (date or datetime; naive means the project timezone), 2000–2100."""
    from gtm.bot.validate import BadArgument, parse_as_of

    if not value:
        return datetime.now(tz)
    try:
        return parse_as_of(value, tz)
    except BadArgument as exc:
        raise click.BadParameter(str(exc).removeprefix("--as-of "), param_hint="--as-of") from None


def _check_as_of(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """Validate `--as-of` before any work (the zone is applied later, per project)."""
    from datetime import timezone

    if value:
        _parse_as_of(value, timezone.utc)
    return value


F = TypeVar("F", bound=Callable[..., Any])


def as_of_option(help_text: str) -> Callable[[F], F]:
    """`--as-of ISO`, validated before any work (`_check_as_of`)."""
    return click.option("--as-of", "as_of", default=None, callback=_check_as_of, help=help_text)


project_option = click.option("--project", default=None, help="Project slug (default: the only project).")


class GtmGroup(click.Group):
    """The CLI's error boundary: any exception a command lets escape becomes one or two lines
    (what went wrong and what to do, from `gtm.bot.failures.explain`) plus a log id, and a
    non-zero exit; the traceback only with `gtm --debug …`."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.exceptions.ClickException, click.exceptions.Exit, click.exceptions.Abort,
                SystemExit, KeyboardInterrupt):
            raise
        except Exception as exc:  # noqa: BLE001 - the boundary
            from gtm.bot.failures import explain

            if ctx.find_root().meta.get("gtm_debug"):
                traceback.print_exc()
            f = explain(exc)
            log.debug("command failed [%s]", f.log_id, exc_info=exc)
            click.secho(f"gtm: {f.operator}", fg="red", err=True)
            hint = "" if ctx.find_root().meta.get("gtm_debug") else "; 加 --debug 查看详情 / add --debug for details"
            click.echo(f"  (日志编号 / log id {f.log_id}{hint})", err=True)
            sys.exit(f.exit_code)


def _fail(msg: str) -> None:
    click.secho(msg, fg="red", err=True)
    sys.exit(2)


def _say(line: str) -> None:
    click.echo(line, err=True)


def _context(ctx: click.Context, settings: Settings | None = None):
    """The lazily built Runtime (settings, store, gateway, maybe an embedded sandbox)."""
    from gtm.bot.runtime import open_runtime
    from gtm.schemas.settings import SettingsError
    from gtm.sync.store.open import StoreOpenError

    if ctx.obj is None:
        try:
            ctx.obj = open_runtime(settings, announce=_say)
        except SettingsError as exc:
            _fail(str(exc))
        except StoreOpenError as exc:
            click.secho(f"gtm: {exc}", fg="red", err=True)
            sys.exit(1)
        ctx.call_on_close(ctx.obj.close)
    return ctx.obj


@click.group(cls=GtmGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="gtm-plan-tracker")
@click.option("--debug", is_flag=True, help="Print the full traceback when a command fails.")
@click.pass_context
def main(ctx: click.Context, debug: bool) -> None:
    """飞书多维表格上的发布计划助手 · A launch-plan tracker on a Feishu Bitable.

    Without GTM_FEISHU_APP_ID/GTM_FEISHU_APP_SECRET the one-shot commands run against an embedded
    local Feishu sandbox (no account needed; one line on stderr says so). `gtm serve` refuses to
    start without them unless --sandbox or GTM_SANDBOX=1 asks for the sandbox. Start with
    `gtm demo`. A failing command prints one or two lines and a log id; `gtm --debug COMMAND`
    shows the traceback. Settings: docs/SETTINGS.md.
    """
    ctx.meta["gtm_debug"] = debug
    if debug:
        logging.basicConfig(level=logging.DEBUG, format="%(asctime)s %(levelname)s %(name)s: %(message)s")


@main.command()
@click.option("--project", "project", default=None, help="Project slug (registry key). Default: the only registered project, else 'default'.")
@click.option("--template", type=click.Choice(["gtm", "sales", "campaign"]), default=None,
              help="Plan template from the seeds in docs/seeds/: GTM milestones M1–M9 (000), sales project (002), "
                   "campaign schedule (003). Default: the project's registered template, else gtm.")
@click.option("--name", default=None, help="Base / project name (default: the template's name).")
@click.option("--base", "base_token", default=None, help="Adopt an existing Base (app_token) instead of creating one.")
@click.option("--start", "start", default=None, help="Start date for laying out the plan (YYYY-MM-DD, default today).")
@click.option("--chat", "chats", multiple=True, help="Project group chat id (oc_…); repeatable; joins the project's registered groups and gets "
              "GTM_BASE_PERMISSION (edit). Default for a new project: GTM_CHAT_ID.")
@click.option("--pm", "pm", default=None, help="Project manager (open_id or email): full access, and 项目负责人 when that cell is empty.")
@click.option("--admin", "admins", multiple=True, help="Person to get full access (open_id, user_id or email); repeatable. Admins given by open_id also receive system alerts (drift, failed deliveries).")
@click.option("--permissions", type=click.Choice(["default", "strict"]), default=None,
              help="strict: advanced permissions, members edit only rows they own (docs/seeds/003 §2.4); falls back to "
                   "the default grants, with a message, when Feishu refuses advanced permissions. "
                   "Default: strict for the campaign template, default for the others.")
@click.option("--example", is_flag=True, help="campaign only: the seed's worked example (618 campaign with actual "
              "dates, progress, status, 风险/问题, 备注) instead of a clean plan; starts on the seed's 2024-05-01 "
              "unless --start is given.")
@click.option("--dry-run", is_flag=True, help="Print the plan and who would be granted; change nothing.")
@click.option("--repair", is_flag=True, help="Recreate missing tables/fields/views/options. Never deletes anything.")
@click.option("--move", is_flag=True, help="Move a --chat that another project already uses to this project "
              "(refused without it).")
@click.pass_context
def init(ctx: click.Context, **kw: Any) -> None:
    """Provision (find-or-create) the plan Base from a template and share it with the team.

    Idempotent: a second run changes nothing. The project group gets edit access
    (GTM_BASE_PERMISSION=view for read-only), the PM and admins full access; nothing is ever
    revoked. Drift (deleted or renamed fields, missing tables/views/options) is reported with
    what to do. The chats, the PM, the admins and the template are resolved before anything is
    created: an unknown chat or person, or a chat another project has (without --move), is
    refused with nothing made. Exit code 0: ready; 1: drift to fix, someone not granted or a
    Feishu error (what succeeded is kept); 2: bad input.
    """
    from gtm.bot.cli.init import run_init

    start = None
    if kw["start"]:
        try:
            start = date.fromisoformat(kw["start"])
        except ValueError:
            raise click.BadParameter("use YYYY-MM-DD", param_hint="--start") from None
    app = _context(ctx)
    code = run_init(app, project=kw["project"], template=kw["template"], name=kw["name"],
                    base_token=kw["base_token"], start=start, chats=list(kw["chats"]),
                    admins=list(kw["admins"]),
                    strict=None if kw["permissions"] is None else kw["permissions"] == "strict",
                    example=kw["example"],
                    dry_run=kw["dry_run"], repair=kw["repair"], pm=kw["pm"], move=kw["move"])
    sys.exit(code)


@main.command()
@project_option
@click.option("--full", is_flag=True, help="Full reconcile (re-read everything, find deletions).")
@click.pass_context
def sync(ctx: click.Context, project: str | None, full: bool) -> None:
    """Refresh the local mirror of the Base; print counts, data problems and API calls used."""
    from gtm.bot.cli.run import run_sync

    sys.exit(run_sync(_context(ctx), project, full))


@main.command()
@click.option("--project", default=None, help="Project slug (default: the only project; 'all' for every project).")
@as_of_option("Evaluate at this instant (ISO-8601). Default: now.")
@click.option("--dry-run", is_flag=True, help="Only print what would be sent and written.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON (for scripts) instead of tables.")
@click.pass_context
def check(ctx: click.Context, project: str | None, as_of: str | None, dry_run: bool, as_json: bool) -> None:
    """Refresh, run every rule once at that instant, write back, send notices; print a summary."""
    from gtm.bot.cli.run import run_check_cli

    app = _context(ctx)
    sys.exit(run_check_cli(app, project, lambda tz: _parse_as_of(as_of, tz), dry_run, as_json=as_json))


@main.command()
@project_option
@as_of_option("Report as of this instant (ISO-8601).")
@click.option("--print", "print_only", is_flag=True, help="Print the report here instead of posting it.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON (for scripts) instead of tables.")
@click.pass_context
def report(ctx: click.Context, project: str | None, as_of: str | None, print_only: bool, as_json: bool) -> None:
    """Build the weekly report (green/yellow/red with reasons); post it to the project group."""
    from gtm.bot.cli.run import run_report_cli

    sys.exit(run_report_cli(_context(ctx), project, lambda tz: _parse_as_of(as_of, tz), print_only,
                            as_json=as_json))


@main.command()
@as_of_option("As of this instant (ISO-8601).")
@click.option("--print", "print_only", is_flag=True, help="Print instead of sending to management.")
@click.pass_context
def portfolio(ctx: click.Context, as_of: str | None, print_only: bool) -> None:
    """The management portfolio: every active project's colour, top reason and escalations."""
    from gtm.bot.cli.run import run_portfolio_cli

    sys.exit(run_portfolio_cli(_context(ctx), lambda tz: _parse_as_of(as_of, tz), print_only))


@main.command()
@click.argument("text")
@click.option("--as", "as_open_id", default=None, help="Ask as this person (open_id). Default: the project manager.")
@project_option
@as_of_option("Answer as of this instant (ISO-8601).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON (for scripts) instead of tables.")
@click.pass_context
def ask(ctx: click.Context, text: str, as_open_id: str | None, project: str | None, as_of: str | None,
        as_json: bool) -> None:
    """Ask the bot as in the group chat, e.g. gtm ask "M3", gtm ask "我的任务" --as ou_…"""
    from gtm.bot.cli.run import run_ask_cli

    sys.exit(run_ask_cli(_context(ctx), text, as_open_id, project, lambda tz: _parse_as_of(as_of, tz),
                         as_json=as_json))


@main.command()
@as_of_option("As of this instant (ISO-8601); the month before it is reported.")
@click.option("--print", "print_only", is_flag=True, help="Print instead of sending to management.")
@click.pass_context
def monthly(ctx: click.Context, as_of: str | None, print_only: bool) -> None:
    """月度汇报: last month's milestones hit/missed vs baseline, top risks, decisions needed (to management)."""
    from gtm.bot.cli.run import run_monthly_cli

    sys.exit(run_monthly_cli(_context(ctx), lambda tz: _parse_as_of(as_of, tz), print_only))


@main.group()
def baseline() -> None:
    """基线：已批准的计划 · The approved plan (基线结束 / 基线偏差): set it, compare against it."""


@baseline.command("set")
@project_option
@click.option("--missing-only", is_flag=True, help="Only rows without a baseline yet (new tasks); keep the rest.")
@as_of_option("As of this instant (ISO-8601). Default: now.")
@click.pass_context
def baseline_set(ctx: click.Context, project: str | None, missing_only: bool, as_of: str | None) -> None:
    """Snapshot 计划结束 / 目标日期 into 基线结束 for every task and milestone (postponing never moves it)."""
    from gtm.bot.cli.run import run_baseline_set

    sys.exit(run_baseline_set(_context(ctx), project, lambda tz: _parse_as_of(as_of, tz), missing_only))


@baseline.command("show")
@project_option
@as_of_option("As of this instant (ISO-8601). Default: now.")
@click.pass_context
def baseline_show(ctx: click.Context, project: str | None, as_of: str | None) -> None:
    """Each milestone and task: baseline, today's plan, the variance in days and the forecast."""
    from gtm.bot.cli.run import run_baseline_show

    sys.exit(run_baseline_show(_context(ctx), project, lambda tz: _parse_as_of(as_of, tz)))


@main.group(cls=GtmGroup, invoke_without_command=True)
@click.option("--json", "as_json", is_flag=True, help="Print JSON (for scripts) instead of tables.")
@click.pass_context
def projects(ctx: click.Context, as_json: bool) -> None:
    """List the projects this deployment serves (Base URL, chat, last check/report)."""
    if ctx.invoked_subcommand is None:
        from gtm.bot.cli.run import run_projects_list

        sys.exit(run_projects_list(_context(ctx), as_json=as_json))


@projects.command("archive")
@click.argument("slug")
@click.pass_context
def projects_archive(ctx: click.Context, slug: str) -> None:
    """Stop a project's jobs without touching its Base."""
    from gtm.bot.cli.run import run_projects_archive

    sys.exit(run_projects_archive(_context(ctx.parent), slug))


@projects.command("link")
@click.argument("slug")
@click.option("--chat", "chats", multiple=True, required=True, help="Group chat id (oc_…) to bind; repeatable.")
@click.option("--move", is_flag=True, help="Move a chat another project already uses to this one.")
@click.pass_context
def projects_link(ctx: click.Context, slug: str, chats: tuple[str, ...], move: bool) -> None:
    """Bind a group chat to a project: the bot answers there for it and posts its report there.

    The chat must exist and have the bot; a chat of another project is refused unless --move."""
    from gtm.bot.cli.run import run_projects_link
    from gtm.bot.validate import BadArgument, check_chat_id

    try:
        for c in chats:
            check_chat_id(c)
    except BadArgument as exc:
        _fail(str(exc))
    sys.exit(run_projects_link(_context(ctx.parent), slug, list(chats), move=move))


@main.command()
@click.option("--port", default=0, show_default=True, help="Port (0 = a free port).")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--state", "state_file", default=None, help="Keep the sandbox's data in this JSON file.")
def sandbox(port: int, host: str, state_file: str | None) -> None:
    """Run the local Feishu-compatible sandbox (Open API + long connection + console page)."""
    from gtm.bot.cli.sandbox import run_sandbox

    sys.exit(run_sandbox(port, host, state_file))


@main.command()
@click.option("--once", is_flag=True, help="Run the demo pass and exit (no serving).")
@click.option("--port", default=0, show_default=True, help="Port for the embedded sandbox (0 = free port).")
@click.option("--lang", type=click.Choice(["zh", "en"]), default="zh", show_default=True)
def demo(once: bool, port: int, lang: str) -> None:
    """Try everything in one command: sandbox, a provisioned plan with trouble, checks, report, bot."""
    from gtm.bot.cli.demo import run_demo

    sys.exit(run_demo(once=once, port=port, lang=lang))


@main.command()
@click.option("--sandbox", "use_sandbox", is_flag=True,
              help="Run on the embedded local Feishu sandbox (same as GTM_SANDBOX=1). Without it, "
                   "GTM_FEISHU_APP_ID and GTM_FEISHU_APP_SECRET are required.")
@click.pass_context
def serve(ctx: click.Context, use_sandbox: bool) -> None:
    """The production process: bot transport + scheduler + /healthz /readyz /metrics.

    Refuses to start without GTM_FEISHU_APP_ID/GTM_FEISHU_APP_SECRET (see
    deploy/feishu-app-setup.md) unless the embedded sandbox is asked for with --sandbox or
    GTM_SANDBOX=1.
    """
    from gtm.bot.service.serve_guard import credentials_problem
    from gtm.schemas.settings import SettingsError, load_settings

    try:
        settings = load_settings(**({"sandbox": True} if use_sandbox else {}))
    except SettingsError as exc:
        _fail(str(exc))
    problem = credentials_problem(settings)
    if problem:
        _fail(problem)  # before the service's heavy imports: a wrong start fails at once
    from gtm.bot.service.serve import run_serve

    sys.exit(run_serve(_context(ctx, settings)))


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON (for scripts) instead of tables.")
@click.pass_context
def doctor(ctx: click.Context, as_json: bool) -> None:
    """Check configuration and every Feishu permission the service needs."""
    from gtm.bot.cli.doctor import run_doctor

    sys.exit(run_doctor(_context(ctx), as_json=as_json))


if __name__ == "__main__":  # pragma: no cover
    main()

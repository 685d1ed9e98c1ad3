"""`gtm`: the command-line tool. This module declares every command (options and help) and
nothing heavier than click, so `gtm --help` and `gtm COMMAND --help` stay instant (no Feishu SDK,
no database driver; `tests/unit/test_cli_loading.py`, benchmark B9).

What a command does lives in its own module, imported at that module's top. `COMMANDS` is the
one registry "command → module:attribute" of those bodies; a command's module is imported when the
command runs (`run_command`), the way click's LazyGroup imports a command's module when it is
resolved. Every body has the signature `(ctx, **options) -> exit code`.

Errors: `GtmGroup` is the CLI's one error boundary; it hands any exception a command lets escape
to `gtm.bot.cli.boundary.report_failure` (one or two lines and a log id, `gtm.bot.failures`).
"""
from __future__ import annotations

import importlib
import sys
import warnings
from typing import Any, Callable, NoReturn, TypeVar

import click

from gtm.bot import startup_gc
from gtm.bot.logs import command_logging

warnings.filterwarnings("ignore", message="Module gtm was already imported")

# command → "module:attribute" of its body, `(ctx: click.Context, **options) -> int`
COMMANDS: dict[str, str] = {
    "init": "gtm.bot.cli.init:init_command",
    "sync": "gtm.bot.cli.run:sync_command",
    "check": "gtm.bot.cli.run:check_command",
    "report": "gtm.bot.cli.run:report_command",
    "portfolio": "gtm.bot.cli.run:portfolio_command",
    "ask": "gtm.bot.cli.run:ask_command",
    "monthly": "gtm.bot.cli.run:monthly_command",
    "baseline set": "gtm.bot.cli.run:baseline_set_command",
    "baseline show": "gtm.bot.cli.run:baseline_show_command",
    "projects": "gtm.bot.cli.run:projects_list_command",
    "projects archive": "gtm.bot.cli.run:projects_archive_command",
    "projects link": "gtm.bot.cli.run:projects_link_command",
    "sandbox": "gtm.bot.cli.sandbox:sandbox_command",
    "demo": "gtm.bot.cli.demo:demo_command",
    "serve": "gtm.bot.cli.serve:serve_command",
    "doctor": "gtm.bot.cli.doctor:doctor_command",
}
BOUNDARY = "gtm.bot.cli.boundary:report_failure"  # (ctx, exc) -> NoReturn


def load(ref: str) -> Callable[..., Any]:
    """The attribute a "module:attribute" reference names, importing its module."""
    module, _, attr = ref.partition(":")
    return getattr(importlib.import_module(module), attr)


def run_command(command: str, ctx: click.Context, /, **options: Any) -> NoReturn:
    """Run the body `COMMANDS[command]` registers and exit with its code."""
    sys.exit(load(COMMANDS[command])(ctx, **options))


F = TypeVar("F", bound=Callable[..., Any])


def as_of_option(help_text: str) -> Callable[[F], F]:
    """`--as-of ISO`: validated by the command before any work (`gtm.bot.cli.options.now_at`)."""
    return click.option("--as-of", "as_of", default=None, help=help_text)


project_option = click.option("--project", default=None, help="Project slug (default: the only project).")
json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON (for scripts) instead of tables.")


def print_option(help_text: str) -> Callable[[F], F]:
    """`--print`: show the card here instead of posting it."""
    return click.option("--print", "print_only", is_flag=True, help=help_text)


class GtmGroup(click.Group):
    """The CLI's error boundary: an exception a command lets escape goes to `BOUNDARY`."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.exceptions.ClickException, click.exceptions.Exit, click.exceptions.Abort,
                SystemExit, KeyboardInterrupt):
            raise
        except Exception as exc:  # noqa: BLE001 - the boundary
            load(BOUNDARY)(ctx, exc)


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
    ctx.call_on_close(command_logging(debug))


@main.command()
@click.option("--project", "project", default=None, help="Project slug (registry key). Default: the only registered project, else 'default'.")
@click.option("--template", type=click.Choice(["gtm", "sales", "campaign"]), default=None,
              help="Plan template from the seeds in docs/seeds/: GTM milestones M1–M9 (000), sales project (002), "
                   "campaign schedule (003). Default: the project's registered template, else gtm.")
@click.option("--name", default=None, help="Base / project name (default: the template's name).")
@click.option("--base", "base_token", default=None, help="Adopt an existing Base (app_token) instead of creating one.")
@click.option("--start", "start", default=None, help="Start date for laying out the plan (YYYY-MM-DD, 2000–2100; the plan must end by 2100; default today).")
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
    run_command("init", ctx, **kw)


@main.command()
@project_option
@click.option("--full", is_flag=True, help="Full reconcile (re-read everything, find deletions).")
@click.pass_context
def sync(ctx: click.Context, project: str | None, full: bool) -> None:
    """Refresh the local mirror of the Base; print counts, data problems and API calls used."""
    run_command("sync", ctx, project=project, full=full)


@main.command()
@click.option("--project", default=None, help="Project slug (default: the only project; 'all' for every project).")
@as_of_option("Evaluate at this instant (ISO-8601). Default: now.")
@click.option("--dry-run", is_flag=True, help="Only print what would be sent and written.")
@json_option
@click.pass_context
def check(ctx: click.Context, project: str | None, as_of: str | None, dry_run: bool, as_json: bool) -> None:
    """Refresh, run every rule once at that instant, write back, send notices; print a summary."""
    run_command("check", ctx, project=project, as_of=as_of, dry_run=dry_run, as_json=as_json)


@main.command()
@project_option
@as_of_option("Report as of this instant (ISO-8601).")
@print_option("Print the report here instead of posting it.")
@json_option
@click.pass_context
def report(ctx: click.Context, project: str | None, as_of: str | None, print_only: bool, as_json: bool) -> None:
    """Build the weekly report (green/yellow/red with reasons); post it to the project group."""
    run_command("report", ctx, project=project, as_of=as_of, print_only=print_only, as_json=as_json)


@main.command()
@as_of_option("As of this instant (ISO-8601).")
@print_option("Print instead of sending to management.")
@click.pass_context
def portfolio(ctx: click.Context, as_of: str | None, print_only: bool) -> None:
    """The management portfolio: every active project's colour, top reason and escalations."""
    run_command("portfolio", ctx, as_of=as_of, print_only=print_only)


@main.command()
@click.argument("text")
@click.option("--as", "as_open_id", default=None, help="Ask as this person (open_id or email). Default: the project manager.")
@project_option
@as_of_option("Answer as of this instant (ISO-8601).")
@json_option
@click.pass_context
def ask(ctx: click.Context, text: str, as_open_id: str | None, project: str | None, as_of: str | None,
        as_json: bool) -> None:
    """Ask the bot as in the group chat, e.g. gtm ask "M3", gtm ask "我的任务" --as ou_…"""
    run_command("ask", ctx, text=text, as_open_id=as_open_id, project=project, as_of=as_of, as_json=as_json)


@main.command()
@as_of_option("As of this instant (ISO-8601); the month before it is reported.")
@print_option("Print instead of sending to management.")
@click.pass_context
def monthly(ctx: click.Context, as_of: str | None, print_only: bool) -> None:
    """月度汇报: last month's milestones hit/missed vs baseline, top risks, decisions needed (to management)."""
    run_command("monthly", ctx, as_of=as_of, print_only=print_only)


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
    run_command("baseline set", ctx, project=project, missing_only=missing_only, as_of=as_of)


@baseline.command("show")
@project_option
@as_of_option("As of this instant (ISO-8601). Default: now.")
@click.pass_context
def baseline_show(ctx: click.Context, project: str | None, as_of: str | None) -> None:
    """Each milestone and task: baseline, today's plan, the variance in days and the forecast."""
    run_command("baseline show", ctx, project=project, as_of=as_of)


@main.group(cls=GtmGroup, invoke_without_command=True)
@json_option
@click.pass_context
def projects(ctx: click.Context, as_json: bool) -> None:
    """List the projects this deployment serves (Base URL, chat, last check/report)."""
    if ctx.invoked_subcommand is None:
        run_command("projects", ctx, as_json=as_json)


@projects.command("archive")
@click.argument("slug")
@click.pass_context
def projects_archive(ctx: click.Context, slug: str) -> None:
    """Stop a project's jobs without touching its Base."""
    run_command("projects archive", ctx, slug=slug)


@projects.command("link")
@click.argument("slug")
@click.option("--chat", "chats", multiple=True, required=True, help="Group chat id (oc_…) to bind; repeatable.")
@click.option("--move", is_flag=True, help="Move a chat another project already uses to this one.")
@click.pass_context
def projects_link(ctx: click.Context, slug: str, chats: tuple[str, ...], move: bool) -> None:
    """Bind a group chat to a project: the bot answers there for it and posts its report there.

    The chat must exist and have the bot; a chat of another project is refused unless --move."""
    run_command("projects link", ctx, slug=slug, chats=chats, move=move)


@main.command()
@click.option("--port", type=click.IntRange(0, 65535), default=0, show_default=True, help="Port, 0–65535 (0 = a free port).")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--state", "state_file", default=None, help="Keep the sandbox's data in this JSON file (read at start, written at Ctrl-C; its folder must exist).")
@click.pass_context
def sandbox(ctx: click.Context, port: int, host: str, state_file: str | None) -> None:
    """Run the local Feishu-compatible sandbox (Open API + long connection + console page)."""
    run_command("sandbox", ctx, port=port, host=host, state_file=state_file)


@main.command()
@click.option("--once", is_flag=True, help="Run the demo pass and exit (no serving).")
@click.option("--port", type=click.IntRange(0, 65535), default=0, show_default=True,
              help="Port for the embedded sandbox, 0–65535 (0 = a free port).")
@click.option("--lang", type=click.Choice(["zh", "en"]), default="zh", show_default=True)
@click.pass_context
def demo(ctx: click.Context, once: bool, port: int, lang: str) -> None:
    """Try everything in one command: sandbox, a provisioned plan with trouble, checks, report, bot."""
    run_command("demo", ctx, once=once, port=port, lang=lang)


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
    # Start-up makes millions of objects that live as long as the process: the collector passes
    # rarely until `Service` has loaded the answers, collected once and frozen them (startup_gc).
    startup_gc.relax()
    try:
        run_command("serve", ctx, use_sandbox=use_sandbox)
    finally:
        startup_gc.restore()  # a start that failed early, or a test's process


@main.command()
@json_option
@click.pass_context
def doctor(ctx: click.Context, as_json: bool) -> None:
    """Check configuration and every Feishu permission the service needs."""
    run_command("doctor", ctx, as_json=as_json)


if __name__ == "__main__":  # pragma: no cover
    main()

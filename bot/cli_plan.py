"""`gtm init | sync | check | report | portfolio | ask | projects`: the plan commands.

Loaded by `gtm.bot.cli.LazyGroup` only when one of them runs (this module imports the machinery).
"""
from __future__ import annotations

import sys
from datetime import date
from typing import Any

import click

from gtm.bot.cli_common import _context, _parse_as_of
from gtm.bot.commands_init import run_init
from gtm.bot.commands_run import (run_ask_cli, run_check_cli, run_portfolio_cli, run_projects_archive,
                                  run_projects_link, run_projects_list, run_report_cli, run_sync)


@click.command()
@click.option("--project", "project", default=None, help="Project slug (registry key). Default: the only registered project, else 'default'.")
@click.option("--template", type=click.Choice(["gtm", "sales", "campaign"]), default=None,
              help="Plan template from the seeds: GTM milestones M1–M9 (seed 000), sales project (002), campaign "
                   "schedule (003). Default: the project's registered template, else gtm.")
@click.option("--name", default=None, help="Base / project name (default: the template's name).")
@click.option("--base", "base_token", default=None, help="Adopt an existing Base (app_token) instead of creating one.")
@click.option("--start", "start", default=None, help="Start date for laying out the plan (YYYY-MM-DD, default today).")
@click.option("--chat", "chats", multiple=True, help="Project group chat id (oc_…); repeatable; joins the project's registered groups and gets "
              "GTM_BASE_PERMISSION (edit). Default for a new project: GTM_CHAT_ID.")
@click.option("--pm", "pm", default=None, help="Project manager (open_id or email): full access, and 项目负责人 when that cell is empty.")
@click.option("--admin", "admins", multiple=True, help="Person to get full access (open_id, user_id or email); repeatable. Admins given by open_id also receive system alerts (drift, failed deliveries).")
@click.option("--permissions", type=click.Choice(["default", "strict"]), default=None,
              help="strict: advanced permissions, members edit only rows they own (seed 003); falls back to "
                   "the default grants, with a message, when Feishu refuses advanced permissions. "
                   "Default: strict for the campaign template, default for the others.")
@click.option("--example", is_flag=True, help="campaign only: the seed's worked example (618 campaign with actual "
              "dates, progress, status, 风险/问题, 备注) instead of a clean plan; starts on the seed's 2024-05-01 "
              "unless --start is given.")
@click.option("--dry-run", is_flag=True, help="Print the plan and who would be granted; change nothing.")
@click.option("--repair", is_flag=True, help="Recreate missing tables/fields/views/options. Never deletes anything.")
@click.pass_context
def init(ctx: click.Context, **kw: Any) -> None:
    """Provision (find-or-create) the plan Base from a template and share it with the team.

    Idempotent: a second run changes nothing. The project group gets edit access
    (GTM_BASE_PERMISSION=view for read-only), the PM and admins full access; nothing is ever
    revoked. Drift (deleted or renamed fields, missing tables/views/options) is reported with
    what to do. Exit code 0: ready; 1: drift to fix, someone not found or a Feishu error (what
    succeeded is kept); 2: bad input.
    """
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
                    dry_run=kw["dry_run"], repair=kw["repair"], pm=kw["pm"])
    sys.exit(code)


@click.command()
@click.option("--project", default=None, help="Project slug (default: the only project).")
@click.option("--full", is_flag=True, help="Full reconcile (re-read everything, find deletions).")
@click.pass_context
def sync(ctx: click.Context, project: str | None, full: bool) -> None:
    """Refresh the local mirror of the Base; print counts, data problems and API calls used."""
    sys.exit(run_sync(_context(ctx), project, full))


@click.command()
@click.option("--project", default=None, help="Project slug (default: the only project; 'all' for every project).")
@click.option("--as-of", "as_of", default=None, help="Evaluate at this instant (ISO-8601). Default: now.")
@click.option("--dry-run", is_flag=True, help="Only print what would be sent and written.")
@click.pass_context
def check(ctx: click.Context, project: str | None, as_of: str | None, dry_run: bool) -> None:
    """Refresh, run every rule once at that instant, write back, send notices; print a summary."""
    app = _context(ctx)
    sys.exit(run_check_cli(app, project, lambda tz: _parse_as_of(as_of, tz), dry_run))


@click.command()
@click.option("--project", default=None, help="Project slug (default: the only project).")
@click.option("--as-of", "as_of", default=None, help="Report as of this instant (ISO-8601).")
@click.option("--print", "print_only", is_flag=True, help="Print the report here instead of posting it.")
@click.pass_context
def report(ctx: click.Context, project: str | None, as_of: str | None, print_only: bool) -> None:
    """Build the weekly report (green/yellow/red with reasons); post it to the project group."""
    sys.exit(run_report_cli(_context(ctx), project, lambda tz: _parse_as_of(as_of, tz), print_only))


@click.command()
@click.option("--as-of", "as_of", default=None, help="As of this instant (ISO-8601).")
@click.option("--print", "print_only", is_flag=True, help="Print instead of sending to management.")
@click.pass_context
def portfolio(ctx: click.Context, as_of: str | None, print_only: bool) -> None:
    """The management portfolio: every active project's colour, top reason and escalations."""
    sys.exit(run_portfolio_cli(_context(ctx), lambda tz: _parse_as_of(as_of, tz), print_only))


@click.command()
@click.argument("text")
@click.option("--as", "as_open_id", default=None, help="Ask as this person (open_id). Default: the project manager.")
@click.option("--project", default=None, help="Project slug (default: the only project).")
@click.option("--as-of", "as_of", default=None, help="Answer as of this instant (ISO-8601).")
@click.pass_context
def ask(ctx: click.Context, text: str, as_open_id: str | None, project: str | None, as_of: str | None) -> None:
    """Ask the bot as in the group chat, e.g. gtm ask "M3", gtm ask "我的任务" --as ou_…"""
    sys.exit(run_ask_cli(_context(ctx), text, as_open_id, project, lambda tz: _parse_as_of(as_of, tz)))


@click.group(invoke_without_command=True)
@click.pass_context
def projects(ctx: click.Context) -> None:
    """List the projects this deployment serves (Base URL, chat, last check/report)."""
    if ctx.invoked_subcommand is None:
        sys.exit(run_projects_list(_context(ctx)))


@projects.command("archive")
@click.argument("slug")
@click.pass_context
def projects_archive(ctx: click.Context, slug: str) -> None:
    """Stop a project's jobs without touching its Base."""
    sys.exit(run_projects_archive(_context(ctx.parent), slug))


@projects.command("link")
@click.argument("slug")
@click.option("--chat", "chats", multiple=True, required=True, help="Group chat id (oc_…) to bind; repeatable.")
@click.pass_context
def projects_link(ctx: click.Context, slug: str, chats: tuple[str, ...]) -> None:
    """Bind a group chat to a project: the bot answers there for it and posts its report there."""
    sys.exit(run_projects_link(_context(ctx.parent), slug, list(chats)))

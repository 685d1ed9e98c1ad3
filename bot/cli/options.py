"""What every `gtm` command shares once it runs: the runtime (opened once per invocation, closed
with it), `--as-of` parsed in the project's time zone, and the one-line refusals on stderr.

Loaded only when a command runs (through `gtm.bot.cli.main.COMMANDS`), so its imports may be heavy.
"""
from __future__ import annotations

import sys
from datetime import datetime, timezone, tzinfo
from typing import Callable, NoReturn

import click

from gtm.bot.runtime import Runtime, open_runtime
from gtm.bot.validate import BadArgument, parse_as_of
from gtm.schemas.settings import Settings

NowFn = Callable[[tzinfo], datetime]  # the instant a command evaluates at, in a project's zone


def say(line: str) -> None:
    click.echo(line, err=True)


def fail(msg: str) -> NoReturn:
    """Refuse with one message (bad input or setup), exit code 2."""
    click.secho(msg, fg="red", err=True)
    sys.exit(2)


def runtime_of(ctx: click.Context, settings: Settings | None = None) -> Runtime:
    """The invocation's Runtime (settings, store, gateway, maybe an embedded sandbox), opened on
    first use and closed when the command ends. Settings and store errors reach the CLI's error
    boundary (`gtm.bot.cli.boundary`)."""
    root = ctx.find_root()
    if root.obj is None:
        root.obj = open_runtime(settings, announce=say)
        root.call_on_close(root.obj.close)
    return root.obj


def _as_of(value: str | None, tz: tzinfo) -> datetime:
    if not value:
        return datetime.now(tz)
    try:
        return parse_as_of(value, tz)
    except BadArgument as exc:
        raise click.BadParameter(str(exc).removeprefix("--as-of "), ctx=click.get_current_context(silent=True),
                                 param_hint="--as-of") from None


def now_at(as_of: str | None) -> NowFn:
    """`--as-of` ISO-8601 (date or datetime; naive means the project's time zone), 2000–2100,
    validated now, before any work; the zone is applied per project, and an instant given in
    another zone ("…T09:00Z") is shown in the project's ("17:00+08:00")."""
    _as_of(as_of, timezone.utc)
    return lambda tz: _as_of(as_of, tz).astimezone(tz)

"""What the `gtm` subcommands share: the lazily opened application context and `--as-of`."""
from __future__ import annotations

import sys
from datetime import datetime

import click

from gtm.bot.context import open_context
from gtm.schemas.settings import Settings, SettingsError


def _parse_as_of(value: str | None, tz) -> datetime:
    """`--as-of` ISO-8601 (date or datetime; naive means the project timezone)."""
    if not value:
        return datetime.now(tz)
    try:
        dt = datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not ISO-8601, e.g. 2026-11-23T09:00 or 2026-11-23",
                                 param_hint="--as-of") from None
    return dt.replace(tzinfo=tz) if dt.tzinfo is None else dt


def _fail(msg: str) -> None:
    click.secho(msg, fg="red", err=True)
    sys.exit(2)


def _say(line: str) -> None:
    click.echo(line, err=True)


def _context(ctx: click.Context, settings: Settings | None = None):
    """The lazily built AppContext (settings, store, gateway, maybe an embedded sandbox)."""
    if ctx.obj is None:
        try:
            ctx.obj = open_context(settings, announce=_say)
        except SettingsError as exc:
            _fail(str(exc))
        ctx.call_on_close(ctx.obj.close)
    return ctx.obj

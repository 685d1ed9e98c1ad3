"""The CLI's error boundary: any exception a command lets escape becomes one or two lines (what
went wrong and what to do, from `gtm.bot.failures.explain`) plus a log id, and a non-zero exit;
the traceback only with `gtm --debug …`. Bad input and setup problems the message fully explains
(an unknown project, bad settings, a store that cannot be opened) print the message alone."""
from __future__ import annotations

import logging
import os
import sys
import traceback
from typing import NoReturn

import click

from gtm.bot.failures import explain

log = logging.getLogger("gtm.cli")


def report_failure(ctx: click.Context, exc: Exception) -> NoReturn:
    if isinstance(exc, BrokenPipeError):  # `gtm check | head -1`: the reader has what it wanted
        _quiet_stdout()
        sys.exit(0)
    debug = bool(ctx.find_root().meta.get("gtm_debug"))
    if debug:
        traceback.print_exc()
    f = explain(exc)
    log.debug("command failed [%s]", f.log_id, exc_info=exc)
    click.secho(f"gtm: {f.operator}", fg="red", err=True)
    if not f.expected:
        hint = "" if debug else "; 加 --debug 查看详情 / add --debug for details"
        click.echo(f"  (日志编号 / log id {f.log_id}{hint})", err=True)
    sys.exit(f.exit_code)


def _quiet_stdout() -> None:
    """Point stdout at /dev/null, so the interpreter's own flush at exit does not fail on the
    closed pipe a second time (the recipe of the `signal` module's documentation)."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())

"""`gtm serve`: the production process.

Loaded by `gtm.bot.cli.LazyGroup` when `gtm serve` runs. The service module (aiohttp, prometheus,
the transports) is imported only after the credentials check passes, so a misconfigured start
fails at once (`gtm.bot.serve_guard`).
"""
from __future__ import annotations

import sys

import click

from gtm.bot.cli_common import _context, _fail
from gtm.bot.serve_guard import credentials_problem
from gtm.schemas.settings import SettingsError, load_settings


@click.command()
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
    try:
        settings = load_settings(**({"sandbox": True} if use_sandbox else {}))
    except SettingsError as exc:
        _fail(str(exc))
    problem = credentials_problem(settings)
    if problem:
        _fail(problem)
    # Imported here, not at the top: a wrong start (above) must fail before the service's heavy
    # imports, as `gtm --help` does before any command's (see `gtm.bot.cli.LazyGroup`).
    from gtm.bot.serve import run_serve

    sys.exit(run_serve(_context(ctx, settings)))

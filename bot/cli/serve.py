"""`gtm serve`: refuse a start that would run on the embedded sandbox by accident (no credentials
and no --sandbox / GTM_SANDBOX=1), then run the service (`gtm.bot.service.serve`)."""
from __future__ import annotations

import click

from gtm.bot.cli.options import fail, runtime_of
from gtm.bot.service.serve import run_serve
from gtm.bot.service.serve_guard import credentials_problem
from gtm.schemas.settings import load_settings


def serve_command(ctx: click.Context, *, use_sandbox: bool) -> int:
    settings = load_settings(**({"sandbox": True} if use_sandbox else {}))
    problem = credentials_problem(settings)
    if problem:
        fail(problem)  # before the runtime opens: nothing is started, no local state is written
    return run_serve(runtime_of(ctx, settings))

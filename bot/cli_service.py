"""`gtm doctor | sandbox | demo`: checking the setup, and the local tools.

Loaded by `gtm.bot.cli.LazyGroup` only when one of them runs (this module imports the machinery).
"""
from __future__ import annotations

import sys

import click

from gtm.bot.cli_common import _context
from gtm.bot.commands_sandbox import run_sandbox
from gtm.bot.demo import run_demo
from gtm.bot.doctor import run_doctor


@click.command()
@click.option("--port", default=0, show_default=True, help="Port (0 = a free port).")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--state", "state_file", default=None, help="Keep the sandbox's data in this JSON file.")
def sandbox(port: int, host: str, state_file: str | None) -> None:
    """Run the local Feishu-compatible sandbox (Open API + long connection + console page)."""
    sys.exit(run_sandbox(port, host, state_file))


@click.command()
@click.option("--once", is_flag=True, help="Run the demo pass and exit (no serving).")
@click.option("--port", default=0, show_default=True, help="Port for the embedded sandbox (0 = free port).")
@click.option("--lang", type=click.Choice(["zh", "en"]), default="zh", show_default=True)
def demo(once: bool, port: int, lang: str) -> None:
    """Try everything in one command: sandbox, a provisioned plan with trouble, checks, report, bot."""
    sys.exit(run_demo(once=once, port=port, lang=lang))


@click.command()
@click.pass_context
def doctor(ctx: click.Context) -> None:
    """Check configuration and every Feishu permission the service needs."""
    sys.exit(run_doctor(_context(ctx)))

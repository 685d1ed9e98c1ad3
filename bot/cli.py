"""`gtm`: the command-line tool. Each subcommand is a thin shell over a function that takes `now`.

The subcommands live in `gtm.bot.cli_plan`, `gtm.bot.cli_service` and `gtm.bot.cli_serve`; `LazyGroup` imports a
command's module only when that command runs, so `gtm --help` (and `--version`) never load the
Feishu SDK (`import lark_oapi` alone costs ~2 s and ~160 MB: its package init imports every
service, see benchmarks/README.md).
"""
from __future__ import annotations

import importlib
import warnings

import click

warnings.filterwarnings("ignore", message="Module gtm was already imported")

# name → (module, attribute, the first paragraph of the command's help). The summary is kept here
# so the listing needs no import; tests/unit/test_cli_loading.py checks it matches the command.
COMMANDS: dict[str, tuple[str, str, str]] = {
    "init": ("gtm.bot.cli_plan", "init",
             "Provision (find-or-create) the plan Base from a template and share it with the team."),
    "sync": ("gtm.bot.cli_plan", "sync",
             "Refresh the local mirror of the Base; print counts, data problems and API calls used."),
    "check": ("gtm.bot.cli_plan", "check",
              "Refresh, run every rule once at that instant, write back, send notices; print a summary."),
    "report": ("gtm.bot.cli_plan", "report",
               "Build the weekly report (green/yellow/red with reasons); post it to the project group."),
    "portfolio": ("gtm.bot.cli_plan", "portfolio",
                  "The management portfolio: every active project's colour, top reason and escalations."),
    "ask": ("gtm.bot.cli_plan", "ask", 'Ask the bot as in the group chat, e.g. gtm ask "M3", gtm ask "我的任务" --as ou_…'),
    "projects": ("gtm.bot.cli_plan", "projects",
                 "List the projects this deployment serves (Base URL, chat, last check/report)."),
    "sandbox": ("gtm.bot.cli_service", "sandbox",
                "Run the local Feishu-compatible sandbox (Open API + long connection + console page)."),
    "demo": ("gtm.bot.cli_service", "demo",
             "Try everything in one command: sandbox, a provisioned plan with trouble, checks, report, bot."),
    "serve": ("gtm.bot.cli_serve", "serve",
              "The production process: bot transport + scheduler + /healthz /readyz /metrics."),
    "doctor": ("gtm.bot.cli_service", "doctor", "Check configuration and every Feishu permission the service needs."),
}


class LazyGroup(click.Group):
    """A click group whose subcommands are imported when invoked (click's documented pattern)."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        spec = COMMANDS.get(cmd_name)
        if spec is None:
            return None
        # The one import inside a function: loading the command's module (and with it the SDK)
        # only for the command that runs is what keeps `gtm --help` instant.
        module = importlib.import_module(spec[0])
        return getattr(module, spec[1])

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """As `click.Group.format_commands`, from the summaries above instead of the commands."""
        names = self.list_commands(ctx)
        limit = formatter.width - 6 - max(len(n) for n in names)
        # a help-only stand-in shortens the summary exactly as the real command would
        rows = [(n, click.Command(n, help=COMMANDS[n][2]).get_short_help_str(limit)) for n in names]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="gtm-plan-tracker")
def main() -> None:
    """飞书多维表格上的发布计划助手 · A launch-plan tracker on a Feishu Bitable.

    Without GTM_FEISHU_APP_ID/GTM_FEISHU_APP_SECRET the one-shot commands run against an embedded
    local Feishu sandbox (no account needed; one line on stderr says so). `gtm serve` refuses to
    start without them unless --sandbox or GTM_SANDBOX=1 asks for the sandbox. Start with
    `gtm demo`.
    """


if __name__ == "__main__":  # pragma: no cover
    main()

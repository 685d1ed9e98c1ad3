"""`gtm --help` lists every command without importing any command module or the Feishu SDK; a
command's module is imported when that command runs; the listed summaries are the commands' own."""
from __future__ import annotations

import subprocess
import sys

import click

from gtm.bot.cli import COMMANDS, main

PROBE = """
import sys
from gtm.bot.cli import main
sys.argv = ["gtm"] + sys.argv[1:]
try:
    main()
except SystemExit:
    pass
loaded = [m for m in ("lark_oapi", "gtm.bot.cli_plan", "gtm.bot.cli_service", "gtm.bot.context") if m in sys.modules]
print("LOADED", ",".join(loaded))
"""


def _loaded(*args: str) -> tuple[str, list[str]]:
    out = subprocess.run([sys.executable, "-c", PROBE, *args], capture_output=True, text=True, timeout=120).stdout
    head, _, tail = out.rpartition("LOADED ")
    return head, [m for m in tail.strip().split(",") if m]


def test_help_imports_no_command_module_and_no_sdk():
    text, loaded = _loaded("--help")
    assert loaded == []
    for name in COMMANDS:
        assert f"  {name} " in text


def test_a_command_imports_its_module_when_it_runs():
    _, loaded = _loaded("sync", "--help")
    assert "gtm.bot.cli_plan" in loaded and "gtm.bot.cli_service" not in loaded


def test_listed_summaries_are_the_commands_own():
    ctx = click.Context(main)
    for name, (module, attr, summary) in COMMANDS.items():
        cmd = main.get_command(ctx, name)
        assert cmd is not None and cmd.name == name.replace("-", "_") or cmd.name == name
        assert " ".join(cmd.help.split("\n\n")[0].split()) == summary, name

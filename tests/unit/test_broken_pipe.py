"""`gtm … | head -1`: the reader closing the pipe ends the command quietly, not with an error."""
from __future__ import annotations

import subprocess
import sys

PROBE = """
import click
from gtm.bot.cli.boundary import report_failure

@click.command()
@click.pass_context
def cmd(ctx):
    try:
        for i in range(100000):
            print("行", i)
    except BrokenPipeError as exc:
        report_failure(ctx, exc)

cmd()
"""


def test_a_closed_pipe_ends_the_command_quietly():
    reader = subprocess.Popen([sys.executable, "-W", "ignore", "-c", PROBE], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE)
    assert reader.stdout is not None
    first = reader.stdout.readline()
    reader.stdout.close()  # what `head -1` does once it has its line
    _, err = reader.communicate(timeout=60)
    assert first.startswith("行 0".encode())
    assert reader.returncode == 0 and err == b"", err.decode(errors="replace")

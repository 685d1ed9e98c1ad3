"""`gtm --help` lists every command without importing the Feishu SDK (the SDK's import alone costs
about 2 s of CPU and 160 MB; see benchmarks/README.md): commands import what they need when they run."""
from __future__ import annotations

import subprocess
import sys

PROBE = """
import sys
from gtm.bot.cli.main import main
sys.argv = ["gtm"] + sys.argv[1:]
try:
    main()
except SystemExit:
    pass
print("LOADED", "lark_oapi" in sys.modules)
"""


def _run(*args: str) -> tuple[str, bool]:
    out = subprocess.run([sys.executable, "-c", PROBE, *args], capture_output=True, text=True, timeout=120).stdout
    head, _, tail = out.rpartition("LOADED ")
    return head, tail.strip() == "True"


def test_help_lists_the_commands_without_importing_the_sdk():
    text, sdk = _run("--help")
    assert not sdk
    for name in ("init", "sync", "check", "report", "ask", "projects", "serve", "doctor", "demo", "sandbox"):
        assert f"  {name} " in text


def test_a_commands_help_does_not_import_the_sdk_either():
    _, sdk = _run("doctor", "--help")
    assert not sdk

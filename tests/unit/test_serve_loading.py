"""`gtm serve` loads what serving needs and no more: no other command's module (each imports
rich, the doctor, the demo data...) and no alembic/Mako when the store is already migrated (every
start but the first after an upgrade; `gtm.sync.store.revisions`). Each of those is resident
memory for the life of the service (benchmarks/README.md, B7's floor).

rich and pygments are loaded all the same, by the SDK: `import lark_oapi` imports httpx, whose
package init imports its own command-line tool when click, rich and pygments are installed.
"""
from __future__ import annotations

import subprocess
import sys

PROBE = """
import sys
from gtm.bot.cli.main import COMMANDS, load
from gtm.sync.store.open import open_store
load(COMMANDS["serve"])               # what `gtm serve` imports before it runs
open_store(sys.argv[1]).dispose()     # and what opening its (migrated) store adds
print("MODULES", " ".join(sorted(sys.modules)))
"""

NOT_FOR_SERVING = ("gtm.bot.cli.run", "gtm.bot.cli.init", "gtm.bot.cli.demo", "gtm.bot.cli.demo_data",
                   "gtm.bot.cli.doctor", "gtm.bot.cli.sandbox", "gtm.bot.cli.progress", "gtm.bot.cli.preflight",
                   "gtm.sync.store.migrate", "alembic", "mako")


def test_serve_loads_no_other_command_and_no_alembic_on_a_migrated_store(tmp_path):
    url = f"sqlite:///{tmp_path / 'gtm.db'}"
    subprocess.run([sys.executable, "-c", PROBE, url], check=True, capture_output=True, timeout=120)  # migrates
    out = subprocess.run([sys.executable, "-c", PROBE, url], capture_output=True, text=True, timeout=120, check=False)
    assert out.returncode == 0, out.stderr
    modules = set(out.stdout.rpartition("MODULES ")[2].split())
    assert "gtm.bot.service.serve" in modules and "lark_oapi" in modules  # the probe did load the service
    assert sorted(m for m in modules if any(m == p or m.startswith(p + ".") for p in NOT_FOR_SERVING)) == []

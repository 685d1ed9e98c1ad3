"""`python -m gtm.benchmarks faults` runs end to end and prints one row per fault with nothing
lost or duplicated (issue #16). Times are printed, never asserted."""
from __future__ import annotations

import json
import subprocess
import sys


def test_fault_run_prints_every_fault_with_nothing_lost_or_duplicated(tmp_path):
    out = tmp_path / "faults.json"
    proc = subprocess.run([sys.executable, "-m", "gtm.benchmarks", "faults", "--leader-ttl", "1",
                           "--json", str(out)], capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    rows = json.loads(out.read_text(encoding="utf-8"))
    assert len(rows) == 11 and all(r["lost"] == 0 and r["duplicated"] == 0 for r in rows), rows
    header = proc.stdout.splitlines()[0]
    for col in ("fault", "lost", "duplicated", "time to recover (s)", "alerts sent"):
        assert col in header
    by_fault = {r["fault"]: r for r in rows}
    assert by_fault["计划结束 renamed"]["alerts"] == 1 and by_fault["计划结束 retyped to text"]["alerts"] == 1
    assert by_fault["owner left (230029), 3 checks"]["alerts"] == 2  # PM + admin, once

"""Smoke run of `python -m gtm.benchmarks --quick`: the script runs end to end against the real
sandbox and prints every figure with its goal. Timings are never asserted (machines differ); the
exact call counts are, because they do not depend on speed."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

from gtm.benchmarks.__main__ import ALL


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory) -> tuple[str, dict]:
    out = tmp_path_factory.mktemp("bench") / "latest.json"
    proc = subprocess.run([sys.executable, "-m", "gtm.benchmarks", "--quick", "--json", str(out)],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    return proc.stdout, json.loads(out.read_text(encoding="utf-8"))


def test_every_figure_is_printed_with_goal_and_no_errors(quick_run):
    stdout, doc = quick_run
    keys = [f["key"] for f in doc["figures"]]
    assert keys == list(ALL)
    for f in doc["figures"]:
        assert not f["error"], f"{f['key']}: {f['error']}"
        assert f["lines"], f"{f['key']} measured nothing"
        assert f["goal"]
        assert f"{f['key']} " in stdout and f["goal"] in stdout
    header = stdout.splitlines()[0].split()
    assert header == ["fig", "measure", "value", "goal", "ratio", "ok"]


def test_call_counts_meet_the_minimum(quick_run):
    """Counts, not times: a full read costs ceil(N/500) calls, write-back ceil(k/500), a re-run 0."""
    _, doc = quick_run
    figs = {f["key"]: f for f in doc["figures"]}
    counted = [ln for k in ("B1", "B2", "B3") for ln in figs[k]["lines"] if ln["unit"] == "calls" and ln["goal"].startswith("= ")]
    assert counted
    for ln in counted:
        want = int(ln["goal"].removeprefix("= "))
        assert ln["value"] == want, ln
    b8 = [ln for ln in figs["B8"]["lines"] if ln["label"].endswith("failed calls")]
    assert b8 and all(ln["value"] == 0 for ln in b8)


def test_memory_start_up_and_projects_figures_are_measured_in_serve(quick_run):
    """B7 (peak + marginal per record), B9 (serve ready, --help without the SDK), B10 (several
    projects) come from a real `gtm serve` child: structure and what was loaded, not times."""
    _, doc = quick_run
    figs = {f["key"]: f for f in doc["figures"]}
    b7 = {ln["label"]: ln for ln in figs["B7"]["lines"]}
    assert b7["peak RSS (serve)"]["extra"]["records"] == 2_000 and "marginal per record" in b7
    helps = [ln for ln in figs["B9"]["lines"] if ln["label"].startswith("gtm --help")]
    assert helps and helps[0]["extra"]["imports_lark_oapi"] is False
    assert figs["B10"]["lines"][0]["extra"]["records"] == 2 * 500


def test_an_edit_is_read_back_alone_and_shown(quick_run):
    """B13: each edit's event reads one record back (the figure errs when the rebuilt answers
    do not show the edit); the plan is B7's, not loaded twice."""
    _, doc = quick_run
    b13 = {f["key"]: f for f in doc["figures"]}["B13"]
    edit = next(ln for ln in b13["lines"] if ln["label"].startswith("one edit"))
    assert edit["extra"]["records_read"] == [1, 1, 1]
    assert b13["lines"][0]["extra"]["records"] == 1_999  # B7's 2,000 records: the project row and 1,999 tasks
    assert not b13.get("error")  # the second replica saw every edit too
    other = next(ln for ln in b13["lines"] if ln["label"].startswith("the other replica"))
    assert len(other["extra"]["each_s"]) == 3


def test_only_and_json_options(tmp_path):
    out = tmp_path / "r.json"
    proc = subprocess.run([sys.executable, "-m", "gtm.benchmarks", "--quick", "--only", "b4,B6", "--json", str(out)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    doc = json.loads(out.read_text(encoding="utf-8"))
    assert [f["key"] for f in doc["figures"]] == ["B4", "B6"]
    card = [ln for ln in doc["figures"][1]["lines"] if ln["label"].startswith("card size")]
    assert card and all(ln["value"] < 30 * 1024 for ln in card)  # a size, not a time
    bad = subprocess.run([sys.executable, "-m", "gtm.benchmarks", "--only", "B99"], capture_output=True, text=True)
    assert bad.returncode != 0 and "B99" in bad.stderr

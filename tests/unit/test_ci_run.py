"""`.ci/run` stops with one clear line when PostgreSQL or chromium is missing, and exports CI=1.

The script runs for real (bash) in a copy of the repository's `.ci` folder, with a PATH of stubs:
apt-get, make, chromium, pg_isready and pg_ctlcluster are small scripts that log their calls, so
nothing is installed or started on the machine running the tests.
"""
from __future__ import annotations

import os
import shutil
import stat
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
REAL = ("dirname", "ls", "head", "seq", "sleep", "rm", "cat", "env")


def stub(bin_dir: Path, name: str, body: str) -> None:
    path = bin_dir / name
    path.write_text(f"#!/bin/bash\necho \"{name} $*\" >> \"$CALLS\"\n{body}\n", encoding="utf-8")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)


def run_ci(tmp_path: Path, *, chromium: bool, apt_ok: bool, pg: str, env_url: str = "") -> tuple[int, str, str]:
    """pg: "absent" (no pg_isready), "down" (does not start), "up" (accepting connections)."""
    repo = tmp_path / "repo"
    (repo / ".ci").mkdir(parents=True)
    shutil.copy(REPO / ".ci" / "run", repo / ".ci" / "run")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name in REAL:
        real = shutil.which(name)
        assert real, name
        (bin_dir / name).symlink_to(real)
    calls = tmp_path / "calls.log"
    calls.write_text("", encoding="utf-8")
    stub(bin_dir, "apt-get", "exit 0" if apt_ok else "exit 100")
    stub(bin_dir, "make", 'echo "CI=$CI URL=$GTM_TEST_DATABASE_URL" >> "$CALLS"')
    if chromium:
        stub(bin_dir, "chromium", "exit 0")
    if pg != "absent":
        stub(bin_dir, "pg_isready", "exit 0" if pg == "up" else "exit 2")
        stub(bin_dir, "pg_ctlcluster", "exit 1")
    env = {"PATH": str(bin_dir), "CALLS": str(calls), "HOME": str(tmp_path)}
    if env_url:
        env["GTM_TEST_DATABASE_URL"] = env_url
    proc = subprocess.run(["/bin/bash", str(repo / ".ci" / "run")], env=env, capture_output=True, text=True,
                          timeout=120)
    return proc.returncode, proc.stderr, calls.read_text(encoding="utf-8")


def test_missing_chromium_that_cannot_be_installed_stops_ci(tmp_path):
    rc, err, calls = run_ci(tmp_path, chromium=False, apt_ok=False, pg="up")
    assert rc != 0
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("ci: ") and "chromium" in lines[0]
    assert "make " not in calls


def test_chromium_still_missing_after_install_stops_ci(tmp_path):
    rc, err, calls = run_ci(tmp_path, chromium=False, apt_ok=True, pg="up")
    assert rc != 0 and "chromium is needed for the browser tests" in err
    assert len(err.strip().splitlines()) == 1 and "make " not in calls


def test_missing_postgresql_stops_ci(tmp_path):
    rc, err, calls = run_ci(tmp_path, chromium=True, apt_ok=True, pg="absent")
    assert rc != 0
    assert len(err.strip().splitlines()) == 1 and "PostgreSQL is needed for the postgres tests" in err
    assert "make " not in calls


def test_postgresql_that_does_not_start_stops_ci(tmp_path):
    rc, err, calls = run_ci(tmp_path, chromium=True, apt_ok=True, pg="down")
    assert rc != 0
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "PostgreSQL" in lines[0]
    if os.path.isdir("/etc/postgresql") and os.listdir("/etc/postgresql"):  # a cluster to start
        assert "did not start" in lines[0] and "pg_ctlcluster" in calls
    else:
        assert "has no cluster" in lines[0]
    assert "make " not in calls


def test_everything_present_runs_the_suite_with_ci_set(tmp_path):
    rc, err, calls = run_ci(tmp_path, chromium=True, apt_ok=True, pg="up")
    assert rc == 0, err
    assert "CI=1 URL=postgresql://postgres@127.0.0.1:5432/postgres" in calls
    assert "apt-get" not in calls  # nothing to install


def test_a_database_url_from_the_environment_is_used_as_given(tmp_path):
    rc, err, calls = run_ci(tmp_path, chromium=True, apt_ok=True, pg="absent", env_url="postgresql://db:5432/x")
    assert rc == 0, err
    assert "CI=1 URL=postgresql://db:5432/x" in calls

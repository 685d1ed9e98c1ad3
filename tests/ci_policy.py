"""CI runs every test except the live contract tests: when `CI` is set, a skip is a failure.

A PostgreSQL or chromium that is missing on the CI machine must turn the run red, not quietly
drop ~30 PostgreSQL variants and the browser tests. Loaded by tests/conftest.py; usable on its own
with `-p ci_policy` (tests/ on the path).
"""
from __future__ import annotations

import os

import pytest

# The only skips CI accepts, by marker, each with its reason:
ALLOWED_MARKS = {
    "live": "contract tests against real Feishu need credentials CI does not have",
    "docker": "the image test needs a Docker engine; tests/packaging/test_installed_cli.py runs the "
              "same install steps without one",
    "kubernetes": "the kubectl dry run needs kubectl and a reachable cluster; the static manifest "
                  "checks run without them",
}


def _reason(longrepr: object) -> str:
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        return str(longrepr[2])
    return str(longrepr)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):  # noqa: ARG001
    outcome = yield
    report = outcome.get_result()
    if not os.environ.get("CI") or not report.skipped or hasattr(report, "wasxfail"):
        return
    if any(item.get_closest_marker(mark) is not None for mark in ALLOWED_MARKS):
        return
    report.outcome = "failed"
    report.longrepr = (f"skipped while CI is set: {_reason(report.longrepr)} — CI runs every test except "
                       f"the live contract tests (and the Docker/Kubernetes checks without an engine); "
                       f"install/start what is missing (.ci/run does)")

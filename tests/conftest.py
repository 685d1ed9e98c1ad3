"""Root of the suite: registers the shared fixtures (tests/support/fixtures.py) and the CI skip
policy (tests/ci_policy.py), and picks the Hypothesis profile. See tests/README.md.
"""
from __future__ import annotations

import os
import warnings

from hypothesis import settings as hypothesis_settings

warnings.filterwarnings("ignore", message="Module gtm was already imported")

pytest_plugins = ("tests.ci_policy", "tests.support.fixtures")  # CI: a skip is a failure

# Property tests explore new inputs on every developer run; CI replays a fixed set (no flaky CI).
hypothesis_settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    hypothesis_settings.load_profile("ci")

"""Fixtures for the bot tests: the realistic plan snapshot (tests/support/snapshots.py), its
check result from the real rules, "now" and the default policy."""
from __future__ import annotations

from datetime import datetime

import pytest

from gtm.bot.rules.engine import run_checks
from gtm.schemas.plan import PlanSnapshot
from gtm.schemas.settings import Policy
from tests.support.snapshots import NOW, build_snapshot


@pytest.fixture
def now() -> datetime:
    return NOW


@pytest.fixture
def policy() -> Policy:
    return Policy()


@pytest.fixture
def snapshot() -> PlanSnapshot:
    return build_snapshot()


@pytest.fixture
def check(snapshot, policy):
    return run_checks(snapshot, NOW, policy)

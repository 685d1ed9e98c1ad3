"""Provisioning fixtures: the real SDK gateway against the sandbox, plus a provisioned Base.

`gateway` is overridden with the client-side rate limiter opened up: a fresh Base needs ~100
schema writes, which Feishu's documented 10/s would stretch to ~10 s per test. Everything else
(lark-oapi, HTTP, the sandbox) is the real thing.
"""
from __future__ import annotations

import copy
import json
from datetime import date

import pytest

from gtm.sync.provision import apply_provision
from gtm.sync.provision_plan import plan_provision
from tests.support.sandboxes import roomy_gateway, seeded_sandbox

START = date(2025, 3, 3)


@pytest.fixture
def gateway(sandbox, seed):
    return roomy_gateway(sandbox)


def writes_since(sandbox, mark: int) -> list[dict]:
    return [e for e in sandbox.journal.since(mark) if e["write"]]


def init(gateway, binding=None, *, template="gtm", repair=False, name="新品发布", example=False):
    plan = plan_provision(gateway, binding=binding, name=name, template=template, start=START,
                          slug="demo", repair=repair, example=example)
    return plan, apply_provision(plan, gateway)


@pytest.fixture(scope="session")
def _provisioned_snapshot():
    """Provision the gtm template once per session in a sandbox of its own; keep its Bitable state."""
    with seeded_sandbox() as sb:
        _, res = init(roomy_gateway(sb))
        return json.dumps(sb.bitable.store.to_json()), res


@pytest.fixture
def provisioned(sandbox, _provisioned_snapshot):
    """A Base made by `gtm init` from the gtm template (a ProvisionResult), loaded into this
    test's sandbox from the session snapshot: real provisioning once, a fresh copy per test."""
    state, res = _provisioned_snapshot
    sandbox.bitable.load_json(json.loads(state))
    return copy.deepcopy(res)


@pytest.fixture
def run_init(gateway):
    """`run_init(binding=None, template=, repair=)` → (plan, result)."""
    return lambda binding=None, **kw: init(gateway, binding, **kw)


@pytest.fixture
def writes(sandbox):
    """`writes(mark)` → the journal's write entries since `mark`."""
    return lambda mark: writes_since(sandbox, mark)

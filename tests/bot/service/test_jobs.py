"""Job bodies: a real check of a provisioned plan through the scheduler's `run_job`, and a failing
job that becomes a 系统问题 for the PM with its metrics counted."""
from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest

from gtm.bot.service.jobs import make_jobset
from gtm.bot.service.metrics import Metrics
from gtm.bot.service.scheduler import build_schedule, run_job
from gtm.sync.feishu.gateway import Gateway
from gtm.sync.feishu.ratelimit import DEFAULT_RATES
from gtm.sync.store.ledger import job_runs, system_problems

NOW = datetime(2025, 3, 12, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai"))  # a Wednesday, working hours


def sample(metrics: Metrics, name: str, **labels) -> float:
    return metrics.registry.get_sample_value(name, labels) or 0.0


@pytest.fixture
def provisioned_app(app_ctx, sandbox, seed):
    """`gtm init` of the gtm template into the sandbox, registered as project "launch"."""
    from gtm.sync.provision import provision, register_project

    fast = Gateway(seed.app_id, seed.app_secret, sandbox.url, timeout=5, sleep=lambda s: None,
                   rates={k: v * 1000 for k, v in DEFAULT_RATES.items()})
    res = provision(fast, name="新品发布", template="gtm", start=date(2025, 3, 3), slug="launch")
    with app_ctx.store.session() as s:
        register_project(s, "launch", "新品发布", "gtm", res.binding, chat_ids=[seed.chat_id])
    return app_ctx


def specs_for(app, metrics, *names):
    jobs = make_jobset(app, metrics, include=names)
    return {s.job: s for s in build_schedule(["launch"], lambda slug: app.project(slug).policy, jobs)}


def test_check_and_reconcile_jobs_run_a_real_project_and_feed_the_metrics(provisioned_app, sandbox):
    app = provisioned_app
    metrics = Metrics(app.gateway)
    specs = specs_for(app, metrics, "check", "reconcile")
    mark = sandbox.journal.mark()
    assert run_job(app.store, specs["check"], NOW) is True
    assert any("/records" in e["path"] for e in sandbox.journal.since(mark))  # it really read the Base
    assert sample(metrics, "gtm_last_successful_check_timestamp_seconds", project="launch") == NOW.timestamp()
    assert sample(metrics, "gtm_job_duration_seconds_count", project="launch", job="check") == 1
    assert run_job(app.store, specs["reconcile"], NOW) is True
    with app.store.session() as s:
        runs = job_runs(s, "launch")
        assert [(r.job, r.ok) for r in runs] == [("reconcile", True), ("check", True)]
        assert system_problems(s, "launch") == []


def test_a_failing_job_is_counted_and_reaches_the_pm_as_a_system_problem(app_ctx):
    from gtm.sync.store.registry import ProjectRow

    with app_ctx.store.session() as s:  # registered, but its Base does not exist in Feishu
        s.add(ProjectRow(slug="launch", name="新品发布", base_token="bascnMissing000", table_ids={"task": "tblX"},
                         chat_ids=["oc_x"]))
    metrics = Metrics(app_ctx.gateway)
    spec = specs_for(app_ctx, metrics, "reconcile")["reconcile"]
    assert run_job(app_ctx.store, spec, NOW) is False
    assert sample(metrics, "gtm_job_failures_total", project="launch", job="reconcile") == 1
    assert sample(metrics, "gtm_job_duration_seconds_count", project="launch", job="reconcile") == 1
    with app_ctx.store.session() as s:
        problems = system_problems(s, "launch")
        assert len(problems) == 1 and "reconcile" in problems[0].message
        assert [(r.job, r.ok) for r in job_runs(s, "launch")] == [("reconcile", False)]

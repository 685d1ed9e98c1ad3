"""`gtm baseline set|show` through the real CLI, and an older Base without the baseline fields:
it keeps working, `gtm init --repair` adds them (removing nothing), then the baseline can be set."""
from __future__ import annotations

from datetime import date, datetime, time, timedelta

import pytest
from lark_oapi.api.bitable.v1 import DeleteAppTableFieldRequest, ListAppTableFieldRequest
from click.testing import CliRunner

from gtm.bot.cli.main import main
from gtm.schemas.plan import Person, TaskStatus
from tests.support.check_cli import (
    Golden,
    SLUG,
    T0,
    TZ,
    act_create,
    act_update,
    cell,
    check,
    cli_env,
    cli_test_env,
    invoke,
    iso,
    provision_golden_once,
)

END = T0.date() + timedelta(days=10)


def ms(d: date) -> int:
    return int(datetime.combine(d, time(), TZ).timestamp() * 1000)


@pytest.fixture(scope="module")
def golden(tmp_path_factory) -> Golden:
    return provision_golden_once(tmp_path_factory.mktemp("golden"))


@pytest.fixture
def env(sandbox, seed, golden, tmp_path, monkeypatch):
    return cli_test_env(sandbox, seed, golden, tmp_path, monkeypatch)


def add_task(env) -> str:
    return act_create(env, env.pm, "task", task_id="T-B1", name="发布会物料", owner=Person(open_id=env.seed.users["王芳"]),
                      planned_start=END - timedelta(days=5), planned_end=END, status=TaskStatus.IN_PROGRESS.value,
                      progress=0.2)


def test_baseline_set_show_and_a_postpone_keeps_it(env):
    tid = add_task(env)
    out = invoke(env.env, "baseline", "set", "--project", SLUG, "--as-of", iso(T0)).output
    assert "设定了基线" in out and "baseline set on" in out
    assert cell(env, "task", tid, "baseline_end") == ms(END)
    assert cell(env, "task", tid, "baseline_variance") == 0

    # 计划结束 moves a week later (a postpone); the baseline stays, the variance says +7
    act_update(env, env.pm, "task", tid, planned_end=END + timedelta(days=7))
    check(env, T0)
    assert cell(env, "task", tid, "baseline_end") == ms(END)
    assert cell(env, "task", tid, "baseline_variance") == 7
    show = invoke(env.env, "baseline", "show", "--project", SLUG, "--as-of", iso(T0)).output
    line = next(ln for ln in show.splitlines() if "T-B1" in ln)
    assert END.isoformat() in line and "+7" in line and (END + timedelta(days=7)).isoformat() in line

    # re-running with --missing-only keeps the approved date
    invoke(env.env, "baseline", "set", "--project", SLUG, "--missing-only", "--as-of", iso(T0))
    assert cell(env, "task", tid, "baseline_end") == ms(END)


def _drop_baseline_fields(env, lark_client) -> None:
    """Make the Base and the registry look like the previous release's (no baseline fields)."""
    from gtm.sync.store.open import open_store
    from gtm.sync.store.registry import get_project

    b = env.binding
    for key in ("task", "milestone"):
        tid = b.table_id(key)
        req = ListAppTableFieldRequest.builder().app_token(b.app_token).table_id(tid).page_size(100).build()
        items = lark_client.bitable.v1.app_table_field.list(req).data.items
        for f in items:
            if f.field_name in ("基线结束", "基线偏差"):
                d = DeleteAppTableFieldRequest.builder().app_token(b.app_token).table_id(tid).field_id(f.field_id).build()
                assert lark_client.bitable.v1.app_table_field.delete(d).success()
    store = open_store(env.db_url)
    try:
        with store.session() as s:
            row = get_project(s, SLUG)
            ids = {k: dict(v) for k, v in (row.field_ids or {}).items()}
            for key in ("task", "milestone"):
                for attr in ("baseline_end", "baseline_variance"):
                    ids.get(key, {}).pop(attr, None)
            row.field_ids = ids
    finally:
        store.dispose()


def test_older_base_keeps_working_and_repair_adds_the_fields(env, sandbox, seed, lark_client):
    _drop_baseline_fields(env, lark_client)
    tid = add_task(env)
    check(env, T0)  # the previous release's Base: the check still runs
    failed = CliRunner().invoke(main, ["baseline", "set", "--project", SLUG, "--as-of", iso(T0)], env=env.env)
    assert failed.exit_code == 1, failed.output
    assert "gtm init --repair --project p1" in failed.output

    repaired = CliRunner().invoke(main, ["init", "--project", SLUG, "--repair"], env=cli_env(sandbox, seed, env.db_url))
    assert repaired.exit_code == 0, repaired.output
    invoke(env.env, "baseline", "set", "--project", SLUG, "--as-of", iso(T0))
    assert cell(env, "task", tid, "baseline_end") == ms(END)
    assert cell(env, "task", tid, "name") is not None  # nothing of the user's was removed

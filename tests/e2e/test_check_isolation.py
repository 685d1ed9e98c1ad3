"""`gtm check --project all`: people's text is data in the terminal, and one project's failure is
reported while the others are still checked (issue #16.2)."""
from __future__ import annotations

from datetime import timedelta

import pytest
from click.testing import CliRunner

from gtm.bot.cli.main import main
from tests.support.plans import NOW, create_plan, task


@pytest.fixture
def store(sqlite_url):
    """A migrated store (the CLI opens it with Alembic, which refuses a create_all schema)."""
    from gtm.sync.store.open import open_store

    st = open_store(sqlite_url)
    yield st
    st.dispose()


def _env(sandbox, seed, store):
    return {"GTM_FEISHU_DOMAIN": sandbox.url, "GTM_FEISHU_APP_ID": seed.app_id,
            "GTM_FEISHU_APP_SECRET": seed.app_secret, "GTM_DATABASE_URL": str(store.engine.url)}


def _plans(runtime, seed):
    u = seed.users
    day = NOW.date()
    create_plan(runtime, slug="alpha", name="Alpha [bold]", chat_ids=[], pm=u["pm"], management=[],
                tasks=[task("T1", "发布会物料 [/]", u["王芳"], day - timedelta(days=3))])
    create_plan(runtime, slug="beta", name="Beta", chat_ids=[], pm=u["pm"], management=[],
                tasks=[task("T2", "渠道培训 [red]x[/red]", u["刘洋"], day - timedelta(days=2))])


def test_markup_in_record_names_is_printed_as_text_and_every_project_runs(runtime, seed, sandbox, store,
                                                                          tmp_path, monkeypatch):
    from gtm.bot.cli import run as commands_run

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(commands_run.console, "width", 250)
    _plans(runtime, seed)
    res = CliRunner().invoke(main, ["check", "--project", "all", "--as-of", NOW.isoformat()],
                             env=_env(sandbox, seed, store))
    assert res.exit_code == 0, res.output
    assert "alpha @" in res.output and "beta @" in res.output
    assert "2/2 个项目检查完成" in res.output


def test_one_failing_project_is_reported_and_the_others_still_run(runtime, seed, sandbox, store, tmp_path,
                                                                  monkeypatch):
    from gtm.bot.checks import check
    from gtm.bot.cli import run as commands_run

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(commands_run.console, "width", 250)
    _plans(runtime, seed)
    real = check.run_check

    def flaky(rt, p, now, **kw):
        if p.slug == "alpha":
            raise RuntimeError("boom [/] in alpha")
        return real(rt, p, now, **kw)

    monkeypatch.setattr(check, "run_check", flaky)
    res = CliRunner().invoke(main, ["check", "--project", "all", "--as-of", NOW.isoformat()],
                             env=_env(sandbox, seed, store))
    assert res.exit_code == 1, res.output
    assert "项目 alpha 检查失败" in res.output and "boom [/] in alpha" in res.output
    assert "beta @" in res.output and "1/2 个项目检查完成" in res.output and "failed: alpha" in res.output

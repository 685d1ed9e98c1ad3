"""Case 8 end to end: rows typed into a real (sandbox) Base, read by the real sync, printed by
`gtm sync`'s report and sent in the PM's digest: row names, not record ids; clipped text."""
from __future__ import annotations

import io
from datetime import date, timedelta

from rich.console import Console

from gtm.bot.checks.check import run_check
from gtm.bot.cli.sync_table import render_summary
from gtm.sync.refresh import sync_project
from tests.support.inbox import card_text
from tests.support.plans import NOW, create_plan, task


def test_sync_report_and_pm_digest_are_actionable_and_bounded(sandbox, seed, runtime):
    u = seed.users
    huge = "超长任务名" * 20_000  # 100,000 characters
    plan = create_plan(runtime, slug="gamma", name="Gamma", chat_ids=[seed.chat_id], pm=u["pm"],
                       management=[u["management"]],
                       tasks=[task("G1", huge, u["王芳"], NOW.date() + timedelta(days=5)),
                              task("G2", "倒排的任务", u["刘洋"], NOW.date() + timedelta(days=5),
                                   planned_start=NOW.date() + timedelta(days=9)),
                              task("G3", "远古任务", u["刘洋"], date(1970, 1, 1))])
    project = runtime.project("gamma")
    summary = sync_project(runtime.store, runtime.gateway, project.binding, NOW)
    buf = io.StringIO()
    Console(file=buf, width=160).print(render_summary(summary))
    out = buf.getvalue()
    assert len(out) < 20_000  # not 4.5 MB
    assert "G3 远古任务" in out and "2000" in out and plan["tasks"][2] not in out
    run = run_check(runtime, project, NOW)
    texts = [p.describe() for p in run.result.problems]
    assert any("G2 倒排的任务" in x and "计划结束早于计划开始" in x for x in texts)
    assert not any("逾期" in (n.text or "") and "G3" in (n.text or "") for n in run.result.notices)
    pm_cards = [card_text(m) for m in sandbox.control.p2p_messages(u["pm"], bots_only=True)]
    digest = next(c for c in pm_cards if "G2 倒排的任务" in c)
    assert "怎么改" in digest and len(digest) < 30_000

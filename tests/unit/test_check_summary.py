"""`gtm check`'s summary names the data problems it counted (the first few, and where the rest are)."""
from __future__ import annotations

from datetime import datetime
from types import SimpleNamespace
from zoneinfo import ZoneInfo

from rich.console import Console

from gtm.bot.checks import check
from gtm.bot.checks.check import CheckRun
from gtm.bot.cli import run as commands_run
from gtm.schemas.decisions import CheckResult
from gtm.schemas.plan import DataProblem
from tests.support.snapshots import build_snapshot

TZ = ZoneInfo("Asia/Shanghai")


def _problem(i: int) -> DataProblem:
    return DataProblem(table="task", record_id=f"rec{i}", field="owner", reason="缺少负责人",
                       reason_en="no owner", label=f"S1-0{i} [red]需求调研[/red]")


def test_the_summary_lists_the_first_problems_and_where_to_see_all(monkeypatch):
    now = datetime(2026, 12, 7, 9, tzinfo=TZ)
    problems = [_problem(i) for i in range(1, 8)]
    run = CheckRun(project="sales", now=now, snapshot=build_snapshot(), result=CheckResult(problems=problems))
    monkeypatch.setattr(check, "run_check", lambda app, p, now, dry_run=False: run)
    console = Console(record=True, width=200, color_system=None)
    monkeypatch.setattr(commands_run, "console", console)
    project = SimpleNamespace(slug="sales", tz=TZ)
    commands_run._check_one(SimpleNamespace(), project, lambda tz: now, dry_run=True)
    out = console.export_text()
    assert "数据问题 / data problems: 7" in out
    assert "「S1-01 [red]需求调研[/red]」" in out and "「负责人」" in out  # as typed, never markup
    assert "S1-05" in out and "S1-06" not in out
    assert "还有 2 项 / 2 more: gtm ask 数据问题 --project sales" in out

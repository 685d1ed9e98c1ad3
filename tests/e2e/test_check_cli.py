"""`gtm check` delivers every notice exactly once, end to end through the real CLI.

The sandbox runs in this process; `gtm` runs with GTM_FEISHU_DOMAIN pointing at it, a real
SQLite file and the seed app's credentials. The plan is typed into the Base as the PM through
the sandbox's act-as-user API. Assertions are on what the sandbox received (p2p messages and
the journal of POST /open-apis/im/v1/messages) and on the summary the CLI prints.
Crashes run `gtm check` as a subprocess with GTM_FAULT_CRASH_AFTER (see gtm.bot.checks.notify.fault_point).
"""
from __future__ import annotations

import json
from datetime import timedelta

import pytest

from gtm.schemas.plan import EscalationLevel, IssueStatus
from tests.support.check_cli import (
    AFTER,
    Golden,
    ISSUE,
    L1_AT,
    L2_AT,
    TASK,
    TZ,
    act_update,
    cell,
    check,
    check_subprocess,
    cli_test_env,
    escalations,
    ledger_rows,
    provision_golden_once,
    row_for,
    sends,
    table_rows,
    type_plan,
    writes,
)


@pytest.fixture(scope="module")
def golden(tmp_path_factory) -> Golden:
    return provision_golden_once(tmp_path_factory.mktemp("golden"))


@pytest.fixture
def env(sandbox, seed, golden, tmp_path, monkeypatch):
    return cli_test_env(sandbox, seed, golden, tmp_path, monkeypatch)


def test_init_registered_the_project(golden):
    assert "项目 p1 已就绪" in golden.init_output
    assert "ou_sandbox_pm" in golden.init_output


# 1 -------------------------------------------------------------------------------------------
def test_second_check_at_the_same_instant_sends_nothing(env):
    type_plan(env, overdue_task=True)
    first = check(env, L1_AT)
    assert len(escalations(env, env.pm, "项目经理")) == 1
    owner = env.seed.users["刘洋"]
    digests = [m for m in env.sb.control.p2p_messages(owner, bots_only=True) if TASK in str(m.get("card"))]
    assert len(digests) == 1  # the late task's owner got the daily digest
    rows = table_rows(first)  # people by name, rules and results in words (`gtm check --json` keeps the ids)
    assert ["问题升级", ISSUE, "张伟", "已发送"] in rows, first
    assert [r[0::3] for r in rows if r[2] == "刘洋"] == [["汇总（逾期）", "已发送"]], first
    assert env.pm not in first and owner not in first

    mark = env.sb.journal.mark()
    second = check(env, L1_AT)
    assert sends(env, mark) == []  # not even an attempt reached Feishu
    assert len(escalations(env, env.pm)) == 1
    assert len([m for m in env.sb.control.p2p_messages(owner, bots_only=True) if TASK in str(m.get("card"))]) == 1
    # the digest was planned again and the ledger refused it
    rows = table_rows(second)
    skipped = [r for r in rows if r[1].startswith("1 条") and r[2] == "刘洋"]
    assert skipped and skipped[0][3] == "未发送 已发送过 / already sent"
    assert all(not r[3].startswith("已发送") for r in rows)


# 2 -------------------------------------------------------------------------------------------
def test_ladder_pm_then_management_repeated_until_resolved_then_silence(env):
    type_plan(env)
    issue = env.ids["issue"]
    check(env, L1_AT - timedelta(days=1))  # 2 days open: the team handles it
    assert sends(env) == []
    assert cell(env, "issue", issue, "level") == EscalationLevel.TEAM.value

    check(env, L1_AT)
    check(env, L1_AT + timedelta(hours=2))
    assert len(escalations(env, env.pm, "项目经理")) == 1
    assert escalations(env, env.mgmt) == []
    assert cell(env, "issue", issue, "level") == EscalationLevel.PM.value

    check(env, L2_AT)
    check(env, L2_AT + timedelta(hours=3))
    assert len(escalations(env, env.mgmt, "管理层")) == 1
    check(env, L2_AT + timedelta(days=1))  # unacknowledged: repeated at its level a working day later
    mgmt = escalations(env, env.mgmt, "管理层")
    assert len(mgmt) == 2 and "第 2 次提醒" in json.dumps(mgmt[1], ensure_ascii=False)
    assert len(escalations(env, env.pm)) == 1  # the PM is not paged again
    assert cell(env, "issue", issue, "level") == EscalationLevel.MANAGEMENT.value

    act_update(env, env.pm, "issue", issue, status=IssueStatus.RESOLVED.value)
    mark = env.sb.journal.mark()
    out = check(env, AFTER)
    assert sends(env, mark) == []
    assert len(escalations(env, env.pm)) == 1 and len(escalations(env, env.mgmt)) == 2
    assert "通知 / notices (0)" in out
    assert len(sends(env, ok=True)) == 3


# 3 -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("stage", ["reserve", "send"])
def test_crash_between_pending_and_sent_delivers_exactly_once(env, stage):
    type_plan(env)
    crashed = check_subprocess(env, L1_AT, fault={"GTM_FAULT_CRASH_AFTER": stage,
                                                  "GTM_FAULT_CRASH_MATCH": "escalation:"})
    assert crashed.returncode == -9, crashed.stderr[-2000:]  # SIGKILL: nothing after the fault ran
    assert "fault injection: crashing after " + stage in crashed.stderr
    row = row_for(env, "escalation:issue:", env.pm)
    assert row.status == "pending" and not row.message_id
    delivered = escalations(env, env.pm, "项目经理")
    assert len(delivered) == (0 if stage == "reserve" else 1)

    # the crashed run's holder (this host, its pid gone) is provably dead: a rerun at the very
    # same `--as-of` instant takes the row over at once (the lease is on the wall clock, issue
    # #16.4) with the same uuid, so the sandbox drops the repeat of an already delivered send;
    # one rerun is a real process to read its summary
    if stage == "send":
        rerun = check_subprocess(env, L1_AT)
        assert rerun.returncode == 0, rerun.stdout + rerun.stderr
        out = rerun.stdout
    else:
        out = check(env, L1_AT)
    assert len(escalations(env, env.pm, "项目经理")) == 1
    row = row_for(env, "escalation:issue:", env.pm)
    assert row.status == "sent" and row.message_id == escalations(env, env.pm)[0]["message_id"]
    attempts = [e for e in sends(env, ok=True) if e["body"]["uuid"] == row.uuid]
    assert len(attempts) == (1 if stage == "reserve" else 2)  # the second one was deduplicated

    esc = [r for r in table_rows(out) if r[0] == "问题升级"]
    assert esc == [["问题升级", ISSUE, "张伟", "已发送"]]
    for header in ("规则 / rule", "记录 / record", "接收人 / recipient", "结果 / result"):
        assert header in out

    mark = env.sb.journal.mark()
    check(env, L1_AT + timedelta(minutes=40))
    assert sends(env, mark) == [] and len(escalations(env, env.pm)) == 1


# 4 -------------------------------------------------------------------------------------------
FAULTS = [
    pytest.param("5xx", 2, {}, id="5xx-retried-in-run"),
    pytest.param("disconnect", 1, {}, id="disconnect-retried-in-run"),
    pytest.param("timeout", 1, {"delay": 3.0}, id="timeout-retried-in-run"),
    pytest.param("429", 6, {"reset_after": 0}, id="429-exhausts-retries-next-run-sends"),
]


@pytest.mark.parametrize(("kind", "count", "kw"), FAULTS)
def test_send_faults_lose_nothing_and_duplicate_nothing(env, kind, count, kw):
    type_plan(env)
    if kind == "timeout":
        env.env["GTM_REQUEST_TIMEOUT_SECONDS"] = "1.5"  # the client gives up before the sandbox answers
    env.sb.inject("/im/v1/messages", kind, count, **kw)
    out = check(env, L1_AT)
    status = [r for r in table_rows(out) if r[0] == "问题升级"][0][3]
    exhausted = count >= 6  # the gateway tries 6 times within one run
    assert status.startswith("待发送" if exhausted else "已发送"), out
    assert len(escalations(env, env.pm)) == (0 if exhausted else 1)

    for minutes in (30, 60):  # the scheduler's next runs
        check(env, L1_AT + timedelta(minutes=minutes))
    assert len(escalations(env, env.pm, "项目经理")) == 1
    assert len(sends(env, ok=True)) == 1
    if kind != "timeout":  # a timed-out request is answered after the client gave up
        assert len(sends(env, ok=False)) == count
    assert row_for(env, "escalation:issue:", env.pm).status == "sent"


# 5 -------------------------------------------------------------------------------------------
def test_quiet_hours_queue_until_the_next_working_morning(env):
    type_plan(env)
    friday_night = (L1_AT + timedelta(days=1)).replace(hour=23, minute=0)  # Fri 2026-11-06 23:00
    out = check(env, friday_night)
    esc = [r for r in table_rows(out) if r[0] == "问题升级"]
    assert esc and esc[0][3].startswith("已排队 静默时段") and "2026-11-09 08:30" in esc[0][3], out
    check(env, friday_night.replace(day=7, hour=11))  # Saturday daytime is quiet too
    assert sends(env) == []

    monday = friday_night.replace(day=9, hour=8, minute=30)
    assert monday.weekday() == 0 and monday.tzinfo is TZ
    out = check(env, monday)
    assert [r[3] for r in table_rows(out) if r[0] == "问题升级"] == ["已发送"]
    assert len(escalations(env, env.pm, "项目经理")) == 1

    mark = env.sb.journal.mark()
    check(env, monday.replace(minute=45))
    assert sends(env, mark) == [] and len(escalations(env, env.pm)) == 1


# 6 -------------------------------------------------------------------------------------------
def test_dry_run_sends_nothing_and_writes_nothing(env):
    type_plan(env, overdue_task=True)
    mark = env.sb.journal.mark()
    out = check(env, L1_AT, "--dry-run")
    assert writes(env, mark) == [] and sends(env, mark) == []
    assert "(dry run)" in out
    planned = table_rows(out)
    assert any(r[0] == "问题升级" and r[3] == "试运行" for r in planned), out  # "would send" goes without saying
    assert ledger_rows(env) == []
    assert cell(env, "issue", env.ids["issue"], "level") in (None, EscalationLevel.TEAM.value)

    # the dry run reserved nothing: the real run still sends, once
    check(env, L1_AT)
    assert len(escalations(env, env.pm, "项目经理")) == 1
    assert writes(env, mark)  # write-back happened for real this time


# 3b ------------------------------------------------------------------------------------------
def test_failure_before_the_reservation_does_not_lose_the_notice(env, monkeypatch):
    """A run that dies after deciding (ladder state computed) but before the ledger reservation
    (here: the card cannot be built) must leave the notice to the next run, not drop it."""
    from click.testing import CliRunner

    from gtm.bot.cards.factory import NoticeCards
    from gtm.bot.cli.main import main

    type_plan(env)
    with monkeypatch.context() as m:
        def broken(*a, **k):
            raise RuntimeError("card renderer crashed")
        m.setattr(NoticeCards, "single", broken)
        res = CliRunner().invoke(main, ["check", "--project", "p1", "--as-of", L1_AT.isoformat()], env=env.env)
    assert res.exit_code != 0 and "card renderer crashed" in res.output  # reported, not a traceback
    assert "Traceback" not in res.output
    assert escalations(env, env.pm) == [] and ledger_rows(env) == []

    check(env, L1_AT + timedelta(minutes=30))
    check(env, L1_AT + timedelta(minutes=60))
    assert len(escalations(env, env.pm, "项目经理")) == 1

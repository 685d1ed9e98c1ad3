"""The escalation level the bot shows for an issue open exactly N days (the "问题" answer).

The rule (docs/ARCHITECTURE.md, rules/escalation.py): a level is reached when its threshold is
strictly exceeded, so an issue open exactly 3 days is still at 团队 and exactly 7 days is still at
项目经理. The answer must show that both before the first check has run (no check result yet) and
after it.
"""
from __future__ import annotations

import re
from datetime import timedelta

import pytest

from gtm.bot.chat.parse import parse
from gtm.bot.chat.answers import AskContext, answer
from gtm.bot.rules.engine import run_checks


def _level_of(card: dict, issue: str) -> str:
    text = "\n".join(e.get("content", "") for e in card["body"]["elements"] if isinstance(e, dict))
    line = next(x for x in text.splitlines() if issue in x)
    found = re.search(r"升级：(\S+)", line)
    assert found, line
    return found.group(1)


@pytest.mark.parametrize("with_check", [False, True], ids=["before-first-check", "after-check"])
@pytest.mark.parametrize(("days", "shown"), [(3, "团队"), (7, "项目经理")])
def test_issue_open_exactly_the_threshold_is_not_yet_escalated(snapshot, policy, now, days, shown, with_check):
    issue = snapshot.issues[0]
    issue.raised_at = now - timedelta(days=days)
    issue.level = None  # no 升级级别 in the Base: the level comes from the rules
    check = run_checks(snapshot, now, policy) if with_check else None
    ctx = AskContext(project_name="星河 GTM 发布", project_slug="xinghe", snapshot=snapshot, check=check,
                     now=now, policy=policy, asker="ou_x", chat_id="oc_group0001")
    assert _level_of(answer(parse("问题"), ctx), issue.issue) == shown

"""Answering a question: the context building shared by the chat bot and `gtm ask`.

`answer_incoming` (dispatcher) and `ask` (CLI) build the same `AskContext` — the project's mirror
snapshot, a `run_checks` result for RAG and escalation levels, the asker — and call
`gtm.bot.chat.answers.answer`, so the terminal prints exactly what the chat would show
(`gtm.bot.cards.terminal.card_to_text`). The per-project data comes from
`gtm.bot.chat.snapshots` (mirror freshness, the answer cache, the rules' result).
"""
from __future__ import annotations

import logging
from datetime import datetime, timezone
from typing import Any, Protocol

from gtm.bot.chat.answers import answer
from gtm.bot.chat.command import Command
from gtm.bot.chat.context import AskContext
from gtm.bot.chat.intents import registry
from gtm.bot.chat.parse import parse
from gtm.bot.chat.snapshots import (
    DEFAULT_MAX_AGE,
    AskerProject,
    answers_for,
    cached_check,
    data_of,
    projects_of,
)
from gtm.bot.failures import ProjectNotFound
from gtm.bot.runtime import ProjectRuntime, Runtime

log = logging.getLogger(__name__)


class Question(Protocol):
    """What `answer_incoming` reads of a chat message (`gtm.bot.chat.transports.Incoming`)."""

    text: str
    open_id: str
    chat_id: str
    chat_type: str


def needs_check(name: str) -> bool:
    """Whether the answer to this command reads the check result (RAG, escalation levels, check
    problems); the others skip `run_checks` entirely (`Intent.needs_check`)."""
    it = registry().get(name)
    return it.needs_check if it is not None else name != "unknown"


# -- building the context -----------------------------------------------------------------------
def build_context(runtime: Runtime, text: str, *, asker: str, project: ProjectRuntime | None, now: datetime,
                  chat_id: str = "", chat_type: str = "group",
                  max_age: float = DEFAULT_MAX_AGE) -> tuple[Command, AskContext]:
    """(Command, AskContext) for `text` asked by `asker` in `project` (None: across their projects)."""
    ctx = AskContext(now=now, asker=asker or "", chat_id=chat_id, chat_type=chat_type)
    milestones: list[str] = []
    answers = None
    if project is not None:
        answers = answers_for(runtime, project, now, max_age)
        data = data_of(project, answers)
        ctx.project_name, ctx.project_slug = data.name, project.slug
        ctx.snapshot, ctx.index, ctx.policy = data.snapshot, data.index, project.policy
        ctx.locale = project.policy.locale
        milestones = [m.label for m in data.snapshot.milestones]
    others: list[AskerProject] = []  # checks pending
    if project is None:
        others = _asker_projects(runtime, asker, now, max_age)
    # the asker's project names (or the one asked in) may appear anywhere in the question
    cmd = parse(text, milestones, [d.name for d, _, _ in others] if project is None else [ctx.project_name])
    if project is None and cmd.project:
        others = [o for o in others if o[0].name == cmd.project]  # "逾期 营销活动": that project only
    if project is not None and cmd.name == "portfolio":
        others = _asker_projects(runtime, asker, now, max_age)
    if project is None or cmd.name == "portfolio":
        ctx.projects = [d for d, _, _ in others]
        if project is None and ctx.projects:
            ctx.policy = others[0][1].policy
            ctx.locale = ctx.policy.locale  # p2p: the language of the asker's project, not always zh
            if cmd.name == "unknown" or not cmd.arg:
                names = [m.label for d in ctx.projects for m in d.snapshot.milestones]
                cmd = parse(text, names, [d.name for d in ctx.projects]) if names else cmd
    if needs_check(cmd.name):  # only now is it known whether the answer shows rule results
        if project is not None and answers is not None:
            ctx.check = cached_check(runtime, project, answers, now)
        kept = []
        for data, p, a in others:
            try:
                data.check = cached_check(runtime, p, a, now)
            except Exception as exc:  # noqa: BLE001 - as `projects_of`: skip a broken project
                if not asker:
                    raise
                log.warning("project %s unavailable for %s: %s", p.slug, asker, exc)
                continue
            kept.append(data)
        if others:
            ctx.projects = kept
    return cmd, ctx


def _asker_projects(runtime: Runtime, asker: str, now: datetime, max_age: float) -> list[AskerProject]:
    """The asker's projects (every project when no asker is given: `gtm ask` without `--as`)."""
    if asker:
        return projects_of(runtime, asker, now, max_age)
    found: list[AskerProject] = []
    for p in runtime.projects():
        a = answers_for(runtime, p, now, max_age)
        found.append((data_of(p, a), p, a))
    return found


def answer_incoming(runtime: Runtime, inc: Question, project: ProjectRuntime | None, now: datetime, *,
                    max_age: float = DEFAULT_MAX_AGE) -> dict[str, Any]:
    """The card answering a chat message (the dispatcher's default answerer)."""
    cmd, ctx = build_context(runtime, inc.text, asker=inc.open_id, project=project, now=now,
                             chat_id=inc.chat_id, chat_type=inc.chat_type or "group", max_age=max_age)
    return answer(cmd, ctx)


def ask(runtime: Runtime, text: str, as_open_id: str | None = None, project: str | None = None,
        now: datetime | None = None) -> dict[str, Any]:
    """What the bot would answer (`gtm ask`): in `project` (slug), the only project, or — with
    several projects and no `project` — across the projects of `as_open_id`, as in a p2p chat."""
    now = now or datetime.now(timezone.utc)
    target = None
    if project:
        target = runtime.project(project)
    else:
        try:
            target = runtime.project()
        except ProjectNotFound:
            if not as_open_id:
                raise
    cmd, ctx = build_context(runtime, text, asker=as_open_id or "", project=target, now=now,
                             chat_type="group" if target else "p2p", max_age=0 if target else DEFAULT_MAX_AGE)
    if not as_open_id and ctx.snapshot is not None and ctx.snapshot.project.pm:
        ctx.asker = ctx.snapshot.project.pm.open_id  # the default asker: the project's manager (`--as`)
    return answer(cmd, ctx)

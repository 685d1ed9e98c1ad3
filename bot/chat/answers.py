"""Answer a parsed command with a card: snapshot + check → view-model → template. Pure, no I/O.

The transport builds an `AskContext` (`gtm.bot.chat.context`: the project of the chat, its latest
snapshot and check result, the asker, `now`) and calls `answer(cmd, ctx)`; in p2p chats and for
全部项目 the context also carries every project of the asker (`ctx.projects`). The command's
entry in the registry (`gtm.bot.chat.intents`) names the view function; the card is rendered
from its template (`gtm.bot.cards.render`).
"""
from __future__ import annotations

from typing import Any

from gtm.bot.cards import views as V
from gtm.bot.cards.render import render
from gtm.bot.chat.command import Answer, Command
from gtm.bot.chat.context import AskContext, now_of
from gtm.bot.chat.intents import answer_unknown, registry


def view_for(cmd: Command, ctx: AskContext) -> Answer:
    """(template name, view-model) answering `cmd` — the testable core of `answer`."""
    now_of(ctx)
    if cmd.name == "unknown":
        return answer_unknown(cmd, ctx)
    it = registry().get(cmd.name)
    if it is None:
        raise ValueError(f"no handler for command {cmd.name!r}")
    return it.handler(cmd, ctx)


def answer(cmd: Command, ctx: AskContext) -> dict[str, Any]:
    """The card (JSON 2.0 dict) answering `cmd` in `ctx`."""
    name, view = view_for(cmd, ctx)
    return render(name, view, ctx.locale)


def not_linked_card(chat_id: str = "", locale: str = "zh") -> dict[str, Any]:
    """Shown in a group that no project is bound to: says how to bind it."""
    return render("not_linked", V.NotLinkedView(chat_id=chat_id), locale)

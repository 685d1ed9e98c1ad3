"""Reading what the bot sent, as the people see it in the sandbox (group chats and p2p)."""
from __future__ import annotations

import json
from typing import Any

from gtm.bot.cards.render import localized


def card_text(card: dict[str, Any]) -> str:
    """Everything a card says, as one string (for assertions)."""
    return json.dumps(card, ensure_ascii=False)


class Inbox:
    """Bot messages that arrived since this object was made (group chats and p2p)."""

    def __init__(self, sandbox: Any, seed: Any) -> None:
        self.sb, self.seed = sandbox, seed
        self._base: dict[str, int] = {}
        for chat in self._chats():
            self._base[chat] = len(self.sb.control.messages(chat, bots_only=True))
        for person in set(seed.users.values()):
            self._base["p2p:" + person] = len(self.sb.control.p2p_messages(person, bots_only=True))

    def _chats(self) -> list[str]:
        with self.sb.world.lock:
            return list(self.sb.world.chats)

    def group(self, chat_id: str) -> list[dict]:
        return self.sb.control.messages(chat_id, bots_only=True)[self._base.get(chat_id, 0):]

    def p2p(self, open_id: str) -> list[dict]:
        return self.sb.control.p2p_messages(open_id, bots_only=True)[self._base.get("p2p:" + open_id, 0):]


def card_of(message: dict) -> dict:
    card = message.get("card")
    if card:
        return card
    content = message.get("content")
    return json.loads(content) if isinstance(content, str) and content.startswith("{") else {}


def text_of(message_or_card: dict) -> str:
    """The card as JSON text, as a reader whose client is in Chinese sees it (each text once:
    cards carry both languages in `i18n_content`)."""
    card = card_of(message_or_card) if "header" not in message_or_card else message_or_card
    return json.dumps(localized(card or message_or_card, "zh_cn"), ensure_ascii=False)


def title_of(message: dict) -> str:
    card = card_of(message)
    return str(((card.get("header") or {}).get("title") or {}).get("content", ""))

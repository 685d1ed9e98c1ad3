"""The people and the bot acting in the sandbox, for tests that need a card to click or a row typed.

- People type into the Base with the product's own `Typist` (what `gtm demo` uses): rows arrive
  as edits by that person, with the events and modified times a real edit has.
- People click cards and post messages with `sandbox.control.click` / `post_message`.
- `send_card` puts a card in a chat as the bot does (through the SDK), so a test can click it.
- `record_writes` counts the Open API writes that touched one record (from the sandbox journal).
"""
from __future__ import annotations

import json
from lark_oapi.api.im.v1 import CreateMessageRequest, CreateMessageRequestBody

from gtm.bot.cli.demo_data import Typist
from gtm.sandbox import Sandbox
from gtm.sync.binding import BaseBinding
from gtm.sync.feishu.gateway import Gateway

__all__ = ["Typist", "record_writes", "send_card", "typist"]


def typist(sandbox: Sandbox, binding: BaseBinding, who: str) -> Typist:
    """`who` typing into `binding`'s Base (`.create(key, **values)`, `.update(key, record_id, **values)`)."""
    return Typist(sandbox, binding, who)


def send_card(gateway: Gateway, chat_id: str, card: dict) -> str:
    """Post `card` to `chat_id` through the SDK as the bot; returns the message id."""
    body = (CreateMessageRequestBody.builder().receive_id(chat_id).msg_type("interactive")
            .content(json.dumps(card, ensure_ascii=False)).build())
    req = CreateMessageRequest.builder().receive_id_type("chat_id").request_body(body).build()
    return gateway.call("im.message.create", lambda: gateway.client.im.v1.message.create(req),
                        family="im.send").message_id


def record_writes(sandbox: Sandbox, record_id: str) -> int:
    """How many Open API writes since the sandbox started had `record_id` in their path."""
    return sum(1 for e in sandbox.journal.since(0) if e.get("write") and record_id in e.get("path", ""))

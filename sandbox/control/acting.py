"""Acting as a user, the parts that need no server: the `im.message.receive_v1` event for a message
a user posts, and the buttons of a card a user may click (text, callback value).
"""
from __future__ import annotations

from typing import Any

from gtm.sandbox.state import User


def receive_event(rec: dict, user: User) -> dict:
    """The `im.message.receive_v1` event body for a message a user posted."""
    msg: dict[str, Any] = {
        "message_id": rec["message_id"], "create_time": rec["create_time"], "update_time": rec["update_time"],
        "chat_id": rec["chat_id"], "chat_type": rec["chat_type"], "message_type": rec["msg_type"],
        "content": rec["body"]["content"], "user_agent": "Mozilla/5.0 (Feishu Sandbox) Lark/7.30.0",
    }
    if rec.get("mentions"):
        msg["mentions"] = [{"key": m["key"], "id": {"union_id": m["union_id"], "user_id": m["user_id"],
                                                    "open_id": m["open_id"]},
                            "name": m["name"], "tenant_key": m.get("tenant_key") or user.tenant_key}
                           for m in rec["mentions"]]
    return {"sender": {"sender_id": {"union_id": user.union_id, "user_id": user.user_id, "open_id": user.open_id},
                       "sender_type": "user", "tenant_key": user.tenant_key},
            "message": msg}


def card_buttons(elements: list) -> Any:
    """Every button of a card body, in reading order (inside columns, panels and forms too)."""
    for el in elements or []:
        if not isinstance(el, dict):
            continue
        if el.get("tag") == "button":
            yield el
        for col in el.get("columns", []) or []:
            yield from card_buttons(col.get("elements", []))
        yield from card_buttons(el.get("elements", []))


def label_of(button: dict) -> str:
    return str((button.get("text") or {}).get("content", ""))


def callback_value(button: dict) -> Any:
    for b in button.get("behaviors", []) or []:
        if b.get("type") == "callback":
            return b.get("value")
    return {}

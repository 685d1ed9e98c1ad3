"""IM v1: send, reply, card PATCH, delayed card update, get message (docs/feishu-api.md §6).

Where to look: `messages` (the store, a message's record and its views), `sending` (recipient,
rate and content checks), `routes` (the HTTP routes). The names other sandbox modules, the demo
and the tests use are re-exported here.

Codes (all HTTP 400, §6.1). Choices where the doc is silent (UNCONFIRMED):
- unknown receive_id / chat / message → 230001 "invalid receive_id" / "message not found";
- resigned user → 230029; user of another tenant or made unavailable → 230013; stopped bot → 230053;
- PATCH by another app → 230027; PATCH of a non-card or without `config.update_multi: true`
  before and after → 230001; over-size card/post body → `SandboxConfig.too_long_code` (230025);
- delayed update with an unknown/expired/used-up token → 230001.
"""
from __future__ import annotations

from gtm.sandbox.im.messages import ImStore, add_message, new_callback_token, p2p_chat_id, replace_card, store, view
from gtm.sandbox.im.routes import register
from gtm.sandbox.im.sending import find_user, rewrite_mentions

__all__ = ["ImStore", "add_message", "find_user", "new_callback_token", "p2p_chat_id", "register", "replace_card",
           "rewrite_mentions", "store", "view"]

"""The sandbox control API (`/_sandbox/…`, JSON, never under /open-apis) and its Python twin
`sb.control` (a `Control`), used by tests, the console and `gtm sandbox`.

It builds the world (tenants, apps, users, chats, members, bots), sets an app's event mode, acts
as a user (post a message → `im.message.receive_v1`; click a card button → `card.action.trigger`,
whose answer may replace the card), reads messages, the journal and the event deliveries, and
drives the realism switches (faults, token expiry, dropping long connections).

Where to look: `twin` (`Control`, the Python methods), `routes` (the HTTP routes, one per
method), `acting` (the event a posted message raises, the buttons a click finds).

Group messages reach a bot only when they @-mention it (`config.group_needs_mention`); p2p
messages always do. Errors of the control API are `{"error": "..."}` with HTTP 400/404.
"""
from __future__ import annotations

from gtm.sandbox.control.routes import register
from gtm.sandbox.control.twin import Control, ControlError

__all__ = ["Control", "ControlError", "register"]

"""The Bitable v1 API (docs/feishu-api.md §2) and `sb.bitable`, the Python face of the same data.

Where to look:
- `routes`: the one route decorator; its docstring is the preamble every route shares (token,
  body, lookups, access, idempotency, the table's write flag) and the order of its checks;
- `apps`, `tables`, `fields`, `views`, `records`: the routes of each resource;
  `subscriptions`: record-change event subscriptions (drive v1);
- `service`: `BitableService` (lookups, read format, write flag, acting as a person, events);
- `store`: the data (bases → tables → fields, views, records); `values`: cell formats;
  `filters`: search filters and sorts; `access`: who may see or edit a base, table or record
  (drive members, advanced roles; `gtm.sandbox.permissions` holds the routes that change them);
  `control`: the `/_sandbox/bitable` control API.

Choices where the docs are UNCONFIRMED (see also `values`, `filters`, `access`, `gtm.sandbox.permissions`):
- HTTP status (docs/feishu-api.md §5.3): 200 for the cell conversion codes 1254060-1254072 (`values`),
  403 for permission denials (1254302, 1254306), 400 for the other 12540xx codes.
- page_size above the maximum (search/list 500, fields/views/tables 100) answers 400 1254011,
  like page_size ≤ 0; list-tables and list-views default to 20.
- an invalid or expired page_token answers 1254002; search page tokens are offsets into the id
  list computed for the first page (a paging session); records deleted since are skipped.
- `client_token` must look like a UUID (else 1254037); the same token with another body → 1255006.
- a base/table/record that does not exist → 1254040/1254041/1254043 (HTTP 400).
- updating a field with exactly its current definition answers 1254606 DataNotChange.
- changing a field's type clears its cells (Feishu converts; the sandbox does not).
- a write while another write to the same table is in flight → 1254291 (SandboxConfig
  `write_conflicts`; `bitable_write_ms` makes every write take that long, so tests can collide).
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

from gtm.sandbox.bitable import apps, fields, records, subscriptions, tables, views
from gtm.sandbox.bitable.service import BitableService

if TYPE_CHECKING:
    from gtm.sandbox.server import Sandbox

__all__ = ["BitableService", "register"]

RESOURCES = (apps, tables, fields, views, records, subscriptions)  # mounted in this order


def register(app: web.Application, sb: "Sandbox") -> None:
    svc = BitableService(sb)
    sb.bitable = svc  # type: ignore[attr-defined]
    for module in RESOURCES:
        module.routes.mount(app, svc)

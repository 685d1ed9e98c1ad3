"""Reading what a Base actually holds (tables, fields, views, records) for the provisioning diff.

Every call goes through `Gateway.call` with lark-oapi typed requests; results come back as plain
dicts (the SDK objects marshalled), which keeps the diff code free of SDK types.
"""
from __future__ import annotations

import json
from typing import Any, Callable

import lark_oapi as lark
from lark_oapi.api.bitable.v1 import (
    ListAppTableFieldRequest,
    ListAppTableRequest,
    ListAppTableViewRequest,
    SearchAppTableRecordRequest,
    SearchAppTableRecordRequestBody,
)

from gtm.sync.gateway import Gateway


def as_dict(obj: Any) -> Any:
    """An SDK model (or list of them) as plain JSON data."""
    if obj is None:
        return None
    return json.loads(lark.JSON.marshal(obj))


class Reader:
    """Counts its calls so the plan can say how many reads it made."""

    def __init__(self, gateway: Gateway) -> None:
        self.gw = gateway
        self.calls = 0

    def _pages(self, api: str, family: str, build: Callable[[str | None], Any],
               run: Callable[[Any], Any], context: str = "") -> list[dict]:
        items: list[dict] = []
        token: str | None = None
        while True:
            req = build(token)
            self.calls += 1
            data = self.gw.call(api, lambda: run(req), family=family, context=context)
            if data is None:
                return items
            items.extend(as_dict(data.items) or [])
            if not data.has_more or not data.page_token:
                return items
            token = data.page_token

    def tables(self, app_token: str) -> list[dict]:
        def build(tok):
            b = ListAppTableRequest.builder().app_token(app_token).page_size(100)
            return (b.page_token(tok) if tok else b).build()
        return self._pages("bitable.table.list", "bitable.schema_read", build,
                           lambda r: self.gw.client.bitable.v1.app_table.list(r))

    def fields(self, app_token: str, table_id: str, context: str = "") -> list[dict]:
        def build(tok):
            b = ListAppTableFieldRequest.builder().app_token(app_token).table_id(table_id).page_size(100)
            return (b.page_token(tok) if tok else b).build()
        return self._pages("bitable.field.list", "bitable.schema_read", build,
                           lambda r: self.gw.client.bitable.v1.app_table_field.list(r), context)

    def views(self, app_token: str, table_id: str, context: str = "") -> list[dict]:
        def build(tok):
            b = ListAppTableViewRequest.builder().app_token(app_token).table_id(table_id).page_size(100)
            return (b.page_token(tok) if tok else b).build()
        return self._pages("bitable.view.list", "bitable.schema_read", build,
                           lambda r: self.gw.client.bitable.v1.app_table_view.list(r), context)

    def records(self, app_token: str, table_id: str, *, limit: int | None = None,
                context: str = "") -> list[dict]:
        """Records of a table (all, or the first `limit`), read format."""
        out: list[dict] = []
        token: str | None = None
        size = min(500, limit) if limit else 500
        while True:
            b = (SearchAppTableRecordRequest.builder().app_token(app_token).table_id(table_id)
                 .page_size(size).request_body(SearchAppTableRecordRequestBody({})))
            req = (b.page_token(token) if token else b).build()
            self.calls += 1
            data = self.gw.call("bitable.record.search",
                                lambda: self.gw.client.bitable.v1.app_table_record.search(req),
                                family="bitable.read", context=context)
            out.extend(as_dict(data.items) or [])
            if (limit and len(out) >= limit) or not data.has_more or not data.page_token:
                return out[:limit] if limit else out
            token = data.page_token


def is_empty_record(rec: dict) -> bool:
    """A row with no value in any cell (what Feishu puts into a new Base's default table)."""
    return not any(v not in (None, "", [], {}, False) for v in (rec.get("fields") or {}).values())


def with_data(resp: Any) -> Any:
    """Some SDK responses (role member create, table delete) have no `data` attribute at all;
    give them `data = None` so `Gateway.unwrap` can return it."""
    if not hasattr(resp, "data"):
        resp.data = None
    return resp

"""Reading what a Base actually holds (tables, fields, views, records) for the provisioning diff.

Every call goes through the gateway's Bitable wrapper; results come back as plain dicts (the
API's JSON objects), which keeps the diff code free of SDK types.
"""
from __future__ import annotations

from typing import Callable

from gtm.sync.feishu.bitable import Page
from gtm.sync.feishu.gateway import Gateway


class Reader:
    """Counts its calls so the plan can say how many reads it made."""

    def __init__(self, gateway: Gateway) -> None:
        self.gw = gateway
        self.calls = 0

    def _pages(self, fetch: Callable[[str | None], Page]) -> list[dict]:
        items: list[dict] = []
        token: str | None = None
        while True:
            self.calls += 1
            page = fetch(token)
            items.extend(page.items)
            if not page.page_token:
                return items
            token = page.page_token

    def tables(self, app_token: str) -> list[dict]:
        return self._pages(lambda tok: self.gw.bitable.list_tables(app_token, page_token=tok))

    def fields(self, app_token: str, table_id: str, context: str = "") -> list[dict]:
        return self._pages(lambda tok: self.gw.bitable.list_fields(app_token, table_id, page_token=tok,
                                                                   context=context))

    def views(self, app_token: str, table_id: str, context: str = "") -> list[dict]:
        return self._pages(lambda tok: self.gw.bitable.list_views(app_token, table_id, page_token=tok,
                                                                  context=context))

    def records(self, app_token: str, table_id: str, *, limit: int | None = None,
                context: str = "") -> list[dict]:
        """Records of a table (all, or the first `limit`), read format."""
        out: list[dict] = []
        token: str | None = None
        size = min(500, limit) if limit else 500
        while True:
            self.calls += 1
            page = self.gw.bitable.search_page(app_token, table_id, page_token=token, page_size=size,
                                               context=context)
            out.extend(page.items)
            if (limit and len(out) >= limit) or not page.page_token:
                return out[:limit] if limit else out
            token = page.page_token


def is_empty_record(rec: dict) -> bool:
    """A row with no value in any cell (what Feishu puts into a new Base's default table)."""
    return not any(v not in (None, "", [], {}, False) for v in (rec.get("fields") or {}).values())

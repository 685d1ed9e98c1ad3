"""Reads records from a Base through the gateway: full reads, "modified since" reads and batch_get.

Why these shapes: the search API returns ≤500 records per call, so a full read costs ceil(N/500)
calls; the incremental read uses the ModifiedTime field (day granularity in filters) sorted
newest-first and stops paging as soon as it reaches records older than the watermark, so a quiet
table costs one call however large it is.
"""
from __future__ import annotations

import queue
import threading
from dataclasses import dataclass, field
from datetime import datetime, time as dtime, timedelta
from typing import Any, Callable, Iterable, Iterator

from gtm.sync.binding import BaseBinding
from gtm.sync.feishu.bitable import Condition, SortBy
from gtm.sync.feishu.gateway import Gateway, paused_gc

PAGE_SIZE = 500  # the search API maximum
BATCH_GET_LIMIT = 100  # record ids per batch_get call
READ_AHEAD = 4  # pages a full read may fetch ahead of the caller (each ~1-2 MB parsed)
SAFETY_MARGIN_MS = 5_000  # re-read records this close to the watermark (same-ms writes, clock skew)


def item_to_raw(item: Any) -> dict[str, Any]:
    """A record of a search/batch_get response body (plain JSON) as the read-format dict the codec
    and the mirror keep (record_id, fields, last_modified_time as an int)."""
    if not isinstance(item, dict):
        return {"record_id": "", "fields": {}}
    out: dict[str, Any] = {"record_id": item.get("record_id") or "", "fields": item.get("fields") or {}}
    lm = item.get("last_modified_time")
    if lm is not None:
        out["last_modified_time"] = int(lm)
    return out


@dataclass
class ReadResult:
    """Raw records read from one table, with what it cost."""

    records: list[dict[str, Any]] = field(default_factory=list)
    calls: int = 0
    absent: list[str] = field(default_factory=list)  # batch_get: ids that no longer exist
    stopped_early: bool = False  # an incremental read stopped before the last page


def day_before_ms(watermark_ms: int, tz) -> int:
    """Midnight (in the Base's timezone) of the day before the watermark's day, in ms."""
    day = datetime.fromtimestamp(watermark_ms / 1000, tz).date() - timedelta(days=1)
    return int(datetime.combine(day, dtime(0), tz).timestamp() * 1000)


class Reader:
    """Record reads for one project's Base."""

    def __init__(self, gateway: Gateway, binding: BaseBinding, page_size: int = PAGE_SIZE) -> None:
        self.gw = gateway
        self.binding = binding
        self.page_size = page_size

    def _context(self, table_key: str) -> str:
        return self.binding.spec(table_key).name

    def pages(self, table_key: str, *, conditions: list[Condition] | None = None,
              sort: list[SortBy] | None = None,
              stop: Callable[[list[dict[str, Any]]], bool] | None = None,
              result: ReadResult | None = None,
              prefetch: bool | None = None) -> Iterator[list[dict[str, Any]]]:
        """The pages of a search (automatic fields on), one call each, as they arrive.

        `stop(page)` true ends paging early. `result` (if given) counts the calls and notes an
        early stop; its `records` are left alone, so a caller can fold pages away as they come
        (a full read of 100,000 records need not hold them all). Each page is requested as a
        parsed from JSON once (`Bitable.search_json`): building the SDK's typed objects for 500
        records cost more CPU than the call itself.

        `prefetch` (default: when there is no `stop`, i.e. the read goes to the last page anyway)
        requests the following pages (up to `READ_AHEAD`) on a helper thread while the caller
        works on this one, so the server's time and ours overlap; the calls made are the same.
        """
        table_id = self.binding.table_id(table_key)
        result = result if result is not None else ReadResult()
        context = self._context(table_key)

        def fetch(token: str | None) -> tuple[list[dict[str, Any]], str | None]:
            data = self.gw.bitable.search_json(self.binding.app_token, table_id, conditions=conditions, sort=sort,
                                               page_token=token, page_size=self.page_size, context=context)
            with paused_gc():
                page = [item_to_raw(r) for r in (data.get("items") or [])]
            following = data.get("page_token") if data.get("has_more") else None
            return page, following or None

        if prefetch is None:
            prefetch = stop is None
        if not prefetch:
            token: str | None = None
            while True:
                page, token = fetch(token)
                result.calls += 1
                yield page
                if not token:
                    return
                if stop is not None and stop(page):
                    result.stopped_early = True
                    return

        # read ahead on a helper thread, up to READ_AHEAD pages, while the caller works
        ahead: queue.Queue = queue.Queue(maxsize=READ_AHEAD)
        cancelled = threading.Event()

        def put(item: Any) -> None:
            while not cancelled.is_set():
                try:
                    ahead.put(item, timeout=0.2)
                    return
                except queue.Full:
                    continue

        def read_ahead() -> None:
            token: str | None = None
            try:
                while not cancelled.is_set():
                    page, token = fetch(token)
                    put((page, token))
                    if not token:
                        return
            except BaseException as exc:  # noqa: BLE001 - handed to the caller, raised there
                put(exc)

        worker = threading.Thread(target=read_ahead, name=f"gtm-read-ahead-{table_key}", daemon=True)
        worker.start()
        try:
            while True:
                item = ahead.get()
                if isinstance(item, BaseException):
                    raise item
                page, token = item
                result.calls += 1
                yield page
                if not token:
                    return
                if stop is not None and stop(page):
                    result.stopped_early = True  # pages already read ahead are dropped
                    return
        finally:
            # a caller that stops early (or fails) does not wait for a call still in flight
            cancelled.set()

    def search(self, table_key: str, *, conditions: list[Condition] | None = None,
               sort: list[SortBy] | None = None,
               stop: Callable[[list[dict[str, Any]]], bool] | None = None) -> ReadResult:
        """All pages of a search (automatic fields on). `stop(page)` true ends paging early."""
        result = ReadResult()
        for page in self.pages(table_key, conditions=conditions, sort=sort, stop=stop, result=result):
            result.records.extend(page)
        return result

    def read_all(self, table_key: str) -> ReadResult:
        """Every record of a table: ceil(N/500) calls (one for an empty table)."""
        return self.search(table_key)

    def pages_all(self, table_key: str, result: ReadResult | None = None) -> Iterator[list[dict[str, Any]]]:
        """`read_all` page by page (the records are not collected in `result`)."""
        return self.pages(table_key, result=result)

    def read_modified_since(self, table_key: str, watermark_ms: int,
                            margin_ms: int = SAFETY_MARGIN_MS,
                            known: Callable[[], dict[str, int]] | None = None) -> ReadResult:
        """Records modified at or after `watermark_ms - margin_ms`, newest first, paging only as far
        as needed. The filter is day-granular, so it selects from the day of the watermark on.

        Paging stops at the first page reaching back past the margin, or at a full page holding only
        records `known()` (record_id → modified ms we hold) already has unchanged: a bulk import
        stamps thousands of records with one millisecond, and a quiet table must not re-read them
        every cycle.
        """
        name = self.binding.field_name(table_key, "modified_at")
        cutoff = watermark_ms - margin_ms
        cond = Condition(name, "isGreater", ["ExactDate", str(day_before_ms(cutoff, self.binding.tz))])
        sort = [SortBy(name, desc=True)]

        held: dict[str, int] | None = None

        def older(page: list[dict[str, Any]]) -> bool:
            nonlocal held
            if any(r.get("last_modified_time", cutoff) < cutoff for r in page):
                return True
            if known is None or any(r.get("last_modified_time", 0) > watermark_ms for r in page):
                return False
            if held is None:
                held = known()
            return all(held.get(r.get("record_id", "")) == r.get("last_modified_time") for r in page)

        res = self.search(table_key, conditions=[cond], sort=sort, stop=older)
        res.records = [r for r in res.records if r.get("last_modified_time", cutoff) >= cutoff]
        return res

    def batch_get(self, table_key: str, record_ids: Iterable[str]) -> ReadResult:
        """The current state of the given records (≤100 per call); `absent` lists deleted ones."""
        table_id = self.binding.table_id(table_key)
        ids = list(dict.fromkeys(record_ids))
        result = ReadResult()
        for i in range(0, len(ids), BATCH_GET_LIMIT):
            chunk = ids[i:i + BATCH_GET_LIMIT]
            data = self.gw.bitable.batch_get_json(self.binding.app_token, table_id, chunk,
                                                  context=self._context(table_key))
            result.calls += 1
            result.records.extend(item_to_raw(r) for r in (data.get("records") or []))
            result.absent.extend(data.get("absent_record_ids") or [])
            # a record we may not see is as good as gone for the mirror (the bot cannot act on it)
            result.absent.extend(data.get("forbidden_record_ids") or [])
        return result

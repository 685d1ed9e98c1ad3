"""Search filters and sorts (docs/feishu-api.md §2.3 and §4), compiled once into plain predicates.

Semantics chosen where the docs leave room (module decision, kept stable for tests):
- Dates (DateTime, CreatedTime, ModifiedTime): a day D is [midnight D, midnight D+1) in the base's
  time zone. `is D` ⇒ inside day D; `isGreater D` ⇒ on or after midnight of D+1 (later than day
  D); `isLess D` ⇒ before midnight of D (earlier than day D). Range keywords (CurrentWeek …) work
  with `is` only; weeks start on Monday; TheLastWeek = the 7 days ending today, TheNextWeek = the
  7 days starting today, TheLastMonth/TheNextMonth likewise with 30 days.
- `isNot`/`doesNotContain` match empty cells; comparisons never match empty cells.
- `contains` on text is a case-insensitive substring test; `is` is exact.
- Multi-value cells (multi select, person, link, group): `is` = same set, `contains` = overlap.
- Sorting treats an empty cell as the smallest value (first ascending, last descending); select
  fields sort by option order, people by name.
- An unknown field in a filter answers 1254045 FieldNameNotFound; a bad operator/value 1254018.
"""
from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any, Callable
from zoneinfo import ZoneInfo

from gtm.sandbox.bitable.store import (
    ATTACHMENT, AUTO_NUMBER, CHECKBOX, CREATED_TIME, CREATED_USER, DATETIME, DUPLEX_LINK, FORMULA, GROUP_CHAT,
    LOCATION, LOOKUP, MODIFIED_TIME, MODIFIED_USER, MULTI_SELECT, NUMBER, PHONE, SINGLE_LINK, SINGLE_SELECT,
    TEXT, URL, USER, Field, Record, Table)
from gtm.sandbox.bitable.values import ValueContext, compare_value
from gtm.sandbox.errors import ApiError

Pred = Callable[[Record], bool]
OPERATORS = {"is", "isNot", "contains", "doesNotContain", "isEmpty", "isNotEmpty",
             "isGreater", "isGreaterEqual", "isLess", "isLessEqual"}
DATE_TYPES = {DATETIME, CREATED_TIME, MODIFIED_TIME}
LIST_TYPES = {MULTI_SELECT, USER, SINGLE_LINK, DUPLEX_LINK, GROUP_CHAT, CREATED_USER, MODIFIED_USER, ATTACHMENT}
TEXT_TYPES = {TEXT, PHONE, URL, LOCATION, AUTO_NUMBER}
DAY_KEYWORDS = {"Today": 0, "Tomorrow": 1, "Yesterday": -1}
RANGE_KEYWORDS = {"CurrentWeek", "LastWeek", "CurrentMonth", "LastMonth", "TheLastWeek", "TheNextWeek",
                  "TheLastMonth", "TheNextMonth"}


def _bad(msg: str) -> ApiError:
    return ApiError(1254018, f"InvalidFilter: {msg}")


def _ms(dt: datetime) -> int:
    return int(dt.timestamp() * 1000)


def date_range(value: list[str], op: str, now_ms: int, tz: str) -> tuple[int, int]:
    """[start, end) in ms for a date condition value (ExactDate or a keyword)."""
    zone = ZoneInfo(tz)
    today = datetime.fromtimestamp(now_ms / 1000, zone).replace(hour=0, minute=0, second=0, microsecond=0)

    def day(d: datetime) -> tuple[int, int]:
        d = d.replace(tzinfo=None)
        start = datetime(d.year, d.month, d.day, tzinfo=zone)
        return _ms(start), _ms(start + timedelta(days=1))

    if not value:
        raise _bad("a date condition needs a value")
    kw = value[0]
    if kw == "ExactDate":
        if len(value) < 2:
            raise _bad('ExactDate needs a millisecond timestamp: ["ExactDate", "1702449755000"]')
        try:
            ms = int(str(value[1]))
        except ValueError:
            raise _bad(f"ExactDate value {value[1]!r} is not a millisecond timestamp")
        return day(datetime.fromtimestamp(ms / 1000, zone))
    if kw in DAY_KEYWORDS:
        return day(today + timedelta(days=DAY_KEYWORDS[kw]))
    if kw in RANGE_KEYWORDS:
        if op != "is":
            raise _bad(f"date keyword {kw} works with 'is' only")
        d = today.replace(tzinfo=None)
        if kw in ("CurrentWeek", "LastWeek"):
            start = d - timedelta(days=d.weekday()) - (timedelta(days=7) if kw == "LastWeek" else timedelta())
            end = start + timedelta(days=7)
        elif kw in ("CurrentMonth", "LastMonth"):
            start = d.replace(day=1)
            if kw == "LastMonth":
                start = (start - timedelta(days=1)).replace(day=1)
            end = (start + timedelta(days=32)).replace(day=1)
        elif kw == "TheLastWeek":
            start, end = d - timedelta(days=6), d + timedelta(days=1)
        elif kw == "TheNextWeek":
            start, end = d, d + timedelta(days=7)
        elif kw == "TheLastMonth":
            start, end = d - timedelta(days=29), d + timedelta(days=1)
        else:
            start, end = d, d + timedelta(days=30)
        return _ms(start.replace(tzinfo=zone)), _ms(end.replace(tzinfo=zone))
    raise _bad(f"unknown date value {kw!r} (keywords are case-sensitive)")


def compile_condition(field: Field, op: str, value: Any, ctx: ValueContext, now_ms: int) -> Pred:
    if op not in OPERATORS:
        raise _bad(f"unsupported operator {op!r}")
    if value is None:
        if op in ("isEmpty", "isNotEmpty"):
            raise _bad(f"operator {op} needs \"value\": [] on field '{field.name}'")
        raise _bad(f"condition on field '{field.name}' has no value")
    if not isinstance(value, list) or len(value) > 10:
        raise _bad(f"condition value on field '{field.name}' must be a list of ≤10 strings")
    value = [str(v) for v in value]
    t = field.type
    get = compare_value

    def empty(v: Any) -> bool:
        return v is None or v == "" or v == [] or v is False and t == CHECKBOX

    if t in (FORMULA, LOOKUP):
        raise _bad(f"formula and lookup fields cannot be filtered ('{field.name}')")
    if op == "isEmpty":
        return lambda r: empty(get(field, r, ctx))
    if op == "isNotEmpty":
        return lambda r: not empty(get(field, r, ctx))
    if t == ATTACHMENT:
        raise _bad(f"attachment field '{field.name}' supports isEmpty/isNotEmpty only")
    if not value:
        raise _bad(f"condition {op} on field '{field.name}' needs a value")

    if t in DATE_TYPES:
        if op not in ("is", "isGreater", "isLess"):
            raise _bad(f"date field '{field.name}' supports is/isEmpty/isNotEmpty/isGreater/isLess only")
        start, end = date_range(value, op, now_ms, ctx.base.time_zone)
        if op == "is":
            return lambda r: (v := get(field, r, ctx)) is not None and start <= v < end
        if op == "isGreater":
            return lambda r: (v := get(field, r, ctx)) is not None and v >= end
        return lambda r: (v := get(field, r, ctx)) is not None and v < start

    if t == CHECKBOX:
        if op != "is" or value[0] not in ("true", "false"):
            raise _bad(f"checkbox field '{field.name}' supports is [\"true\"|\"false\"] only")
        want = value[0] == "true"
        return lambda r: bool(get(field, r, ctx)) == want

    if t == NUMBER:
        try:
            num = float(value[0])
        except ValueError:
            raise _bad(f"number condition value {value[0]!r} on field '{field.name}' is not a number")
        cmp: dict[str, Callable[[float], bool]] = {
            "is": lambda v: v == num, "isNot": lambda v: v != num, "isGreater": lambda v: v > num,
            "isGreaterEqual": lambda v: v >= num, "isLess": lambda v: v < num, "isLessEqual": lambda v: v <= num}
        if op not in cmp:
            raise _bad(f"operator {op} does not apply to number field '{field.name}'")
        fn = cmp[op]
        if op == "isNot":
            return lambda r: (v := get(field, r, ctx)) is None or fn(v)
        return lambda r: (v := get(field, r, ctx)) is not None and fn(v)

    if t in (USER, CREATED_USER, MODIFIED_USER):
        value = [ctx.user_to_open_id(v) or v for v in value]

    if t in LIST_TYPES or t == SINGLE_SELECT:
        want_set = set(value)

        def as_set(r: Record) -> set[str]:
            v = get(field, r, ctx)
            if v is None:
                return set()
            return {v} if isinstance(v, str) else set(v)

        if op == "is":
            return lambda r: as_set(r) == want_set
        if op == "isNot":
            return lambda r: as_set(r) != want_set
        if op == "contains":
            return lambda r: bool(as_set(r) & want_set)
        if op == "doesNotContain":
            return lambda r: not (as_set(r) & want_set)
        raise _bad(f"operator {op} does not apply to field '{field.name}'")

    if t in TEXT_TYPES:
        want = value[0]
        low = [v.lower() for v in value]
        if op == "is":
            return lambda r: get(field, r, ctx) == want
        if op == "isNot":
            return lambda r: get(field, r, ctx) != want
        if op == "contains":
            return lambda r: (v := get(field, r, ctx)) is not None and any(x in str(v).lower() for x in low)
        if op == "doesNotContain":
            return lambda r: (v := get(field, r, ctx)) is None or not any(x in str(v).lower() for x in low)
        raise _bad(f"operator {op} does not apply to text field '{field.name}'")
    raise _bad(f"field '{field.name}' (type {t}) cannot be filtered")


def compile_filter(flt: dict[str, Any] | None, table: Table, ctx: ValueContext, now_ms: int,
                   depth: int = 0) -> Pred | None:
    """A predicate for a search `filter` (names) or None when there is nothing to filter."""
    if not flt:
        return None
    if not isinstance(flt, dict):
        raise _bad("filter must be an object")
    conj = flt.get("conjunction")
    if conj not in ("and", "or"):
        raise _bad("conjunction must be 'and' or 'or'")
    conds = flt.get("conditions") or []
    children = flt.get("children") or []
    if len(conds) > 50:
        raise _bad("at most 50 conditions")
    if children and depth >= 1:
        raise _bad("children nest one level only")
    by_name = {f.name: f for f in table.fields.values()}
    preds: list[Pred] = []
    for c in conds:
        if not isinstance(c, dict):
            raise _bad("a condition must be an object")
        f = by_name.get(c.get("field_name", ""))
        if f is None:
            raise ApiError(1254045, f"FieldNameNotFound: filter names unknown field {c.get('field_name')!r}")
        preds.append(compile_condition(f, c.get("operator", ""), c.get("value"), ctx, now_ms))
    for ch in children:
        p = compile_filter(ch, table, ctx, now_ms, depth + 1)
        if p is not None:
            preds.append(p)
    return _combine(conj, preds)


def _combine(conj: str, preds: list[Pred]) -> Pred | None:
    if not preds:
        return None
    if len(preds) == 1:
        return preds[0]
    if conj == "and":
        return lambda r: all(p(r) for p in preds)
    return lambda r: any(p(r) for p in preds)


def compile_view_filter(filter_info: dict[str, Any] | None, table: Table, ctx: ValueContext,
                        now_ms: int) -> Pred | None:
    """A view's `property.filter_info` (conditions by field_id, value a JSON-encoded string)."""
    if not filter_info or not filter_info.get("conditions"):
        return None
    preds = []
    for c in filter_info["conditions"]:
        f = table.fields.get(c.get("field_id", ""))
        if f is None:
            continue  # a deleted field's condition no longer filters
        raw = c.get("value")
        try:
            value = json.loads(raw) if isinstance(raw, str) and raw else ([] if raw in (None, "") else raw)
        except ValueError:
            value = [raw]
        if not isinstance(value, list):
            value = [value]
        preds.append(compile_condition(f, c.get("operator", "is"), value, ctx, now_ms))
    return _combine(filter_info.get("conjunction") or "and", preds)


def sort_ids(ids: list[str], table: Table, sort: list[dict[str, Any]], ctx: ValueContext) -> list[str]:
    """Stable multi-key sort of record ids (last key first, each with its own direction)."""
    by_name = {f.name: f for f in table.fields.values()}
    specs: list[tuple[Field, bool]] = []
    for s in sort:
        if not isinstance(s, dict) or (f := by_name.get(s.get("field_name", ""))) is None:
            raise ApiError(1254016, f"InvalidSort: unknown field {s.get('field_name') if isinstance(s, dict) else s!r}")
        specs.append((f, bool(s.get("desc"))))
    recs = table.records
    for f, desc in reversed(specs):
        keyf = _sort_key(f, ctx)
        ids.sort(key=lambda i: keyf(recs[i]), reverse=desc)
    return ids


def _sort_key(f: Field, ctx: ValueContext) -> Callable[[Record], tuple]:
    t = f.type
    if t in (SINGLE_SELECT, MULTI_SELECT):
        order = {o["id"]: i for i, o in enumerate(f.options())}

        def sel(r: Record) -> tuple:
            v = r.values.get(f.field_id)
            if v is None or v == []:
                return (0, ())
            return (1, (order.get(v, 1 << 30),) if isinstance(v, str) else tuple(order.get(i, 1 << 30) for i in v))
        return sel
    if t in (USER, CREATED_USER, MODIFIED_USER):
        users = ctx.world.users

        def ppl(r: Record) -> tuple:
            v = compare_value(f, r, ctx)
            if not v:
                return (0, ())
            return (1, tuple(users[i].name if i in users else i for i in v))
        return ppl

    def plain(r: Record) -> tuple:
        v = compare_value(f, r, ctx)
        if v is None or v == [] or v == "":
            return (0, 0)
        if isinstance(v, list):
            return (1, tuple(str(x) for x in v))
        if isinstance(v, bool):
            return (1, int(v))
        return (1, v)
    return plain

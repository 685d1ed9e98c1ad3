"""The record codec: Feishu record JSON (read format) ⇄ domain models, and values → write format.

Pure functions, no I/O. Decoding is tolerant on purpose: people type anything into a Base, and
one odd cell must not hide the rest of the plan. A bad cell becomes a `DataProblem` naming the
table, record and field, and the record is kept (with the cell empty, or with the salvageable part:
an unknown select option is kept as typed, the first of several people in a one-person field).

Encoding is strict: the values come from our own code, so a wrong type is a programming error and
raises `EncodeError` naming the table and field.

One module (~750 lines) on purpose: the decoders, the encoders and the write→read forms are the
same per-kind rules seen from three sides, and a change to one kind must be made in all three.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime, time as dtime, timezone, tzinfo
from enum import Enum
from typing import Any, Callable

from gtm.schemas.fields import FieldSpec, Kind, TableSpec
from gtm.schemas.plan import FIRST_YEAR, LAST_YEAR, MODEL_BY_TABLE, DataProblem, Person, Record
from gtm.schemas.trusted import from_sequence
from gtm.sync.binding import BaseBinding

# Plausible calendar range for plan dates; anything outside is a typo (or seconds instead of ms).
MIN_YEAR, MAX_YEAR = FIRST_YEAR, LAST_YEAR  # a plan date outside these years is a typo
MIN_MS = int(datetime(MIN_YEAR, 1, 1, tzinfo=timezone.utc).timestamp() * 1000)
_MAX_MS = int(datetime(MAX_YEAR + 1, 1, 1, tzinfo=timezone.utc).timestamp() * 1000)
VALUE_REPR_MAX = 80


class EncodeError(ValueError):
    """A value our own code tried to write cannot be encoded for its field (a programming error)."""


def short_repr(value: Any, limit: int = VALUE_REPR_MAX) -> str:
    """A repr short enough for a card or a log line."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


# -- problems -------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Bad:
    """Why a cell is bad, before it is tied to a table and record."""

    reason: str
    reason_en: str
    shown: str = ""  # the value as people see it in the Base ("" → the cell's repr)


def _bad(zh: str, en: str, shown: str = "") -> _Bad:
    return _Bad(zh, en, shown)


WRONG_SHAPE = ("格式不符合字段类型", "value does not match the field type")


# -- cell decoders: cell -> (value, [bad]) ----------------------------------------------------
def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _text(cell: Any) -> tuple[str, list[_Bad]]:
    if type(cell) is list and len(cell) == 1:  # the usual shape: one plain segment
        seg = cell[0]
        if type(seg) is dict:
            text = seg.get("text")
            if type(text) is str:
                return text, []
    if cell is None:
        return "", []
    if isinstance(cell, str):
        return cell, []
    if isinstance(cell, dict):  # a bare segment (Email in some docs)
        cell = [cell]
    if isinstance(cell, list):
        parts: list[str] = []
        for seg in cell:
            if isinstance(seg, dict) and isinstance(seg.get("text"), str):
                parts.append(seg["text"])
            elif isinstance(seg, str):
                parts.append(seg)
            else:
                return "".join(parts), [_bad(*WRONG_SHAPE)]
        return "".join(parts), []
    if _is_number(cell):  # a number typed where text is expected is still readable …
        if math.isfinite(float(cell)):
            return _num_str(cell), []
        return "", [_bad("数值无效", "not a finite number")]  # … unless it is NaN/Infinity
    return "", [_bad(*WRONG_SHAPE)]


def _num_str(v: float) -> str:
    return str(int(v)) if float(v).is_integer() else str(v)


def _number(cell: Any, nested: bool = True) -> tuple[float | None, list[_Bad]]:
    if cell is None:
        return None, []
    if _is_number(cell):
        f = float(cell)
        if math.isfinite(f):
            return f, []
        return None, [_bad("数值无效", "not a finite number")]
    if isinstance(cell, list) and len(cell) == 1 and (
            _is_number(cell[0]) or (nested and isinstance(cell[0], list))):  # formula-like wrap(s)
        return _number(cell[0], nested)
    return None, [_bad("应为数字", "a number is expected")]


def _integer(cell: Any) -> tuple[int | None, list[_Bad]]:
    f, bad = _number(cell, nested=False)
    if f is None:
        return None, bad
    if not f.is_integer():
        return round(f), [_bad("应为整数", "a whole number is expected")]
    if abs(f) > 1e15:
        return None, [_bad("数值超出范围", "number out of range")]
    return int(f), []


def _progress(cell: Any) -> tuple[float | None, list[_Bad]]:
    if type(cell) is float and 0.0 <= cell <= 1.0:  # the usual cell (NaN and ±inf fail the test)
        return cell, []
    f, bad = _number(cell, nested=False)
    if f is None:
        return None, bad
    if f < 0 or f > 1:
        return None, [_bad("进度应在 0%–100% 之间", "progress must be between 0% and 100%")]
    return f, []


def _select(options: tuple[str, ...]) -> Callable[[Any], tuple[str | None, list[_Bad]]]:
    allowed = frozenset(options)
    # agreed options decode to one shared string each (not one copy per row of a large table)
    shared = {o: o for o in options}

    def dec(cell: Any) -> tuple[str | None, list[_Bad]]:
        if type(cell) is str:  # the usual cell: an agreed option
            hit = shared.get(cell)
            if hit is not None:
                return hit, []
        if isinstance(cell, list) and len(cell) == 1 and isinstance(cell[0], str):
            cell = cell[0]  # tolerate a one-element list
        if cell is None or cell == "":
            return None, []
        if not isinstance(cell, str):
            return None, [_bad(*WRONG_SHAPE)]
        if allowed and cell not in allowed:
            return cell, [_bad("不是约定的选项", "not one of the agreed options")]
        return shared.get(cell, cell), []

    return dec


def _multi_select(options: tuple[str, ...]) -> Callable[[Any], tuple[list[str], list[_Bad]]]:
    allowed = frozenset(options)
    shared = {o: o for o in options}  # as `_select`: one string per agreed option, not one per row

    def dec(cell: Any) -> tuple[list[str], list[_Bad]]:
        if cell is None:
            return [], []
        if isinstance(cell, str):
            cell = [cell]
        if not isinstance(cell, list) or not all(isinstance(x, str) for x in cell):
            return [], [_bad(*WRONG_SHAPE)]
        if allowed and any(x not in allowed for x in cell):
            return list(cell), [_bad("包含非约定选项", "contains options that are not agreed")]
        return [shared[x] for x in cell] if allowed else list(cell), []

    return dec


def _ms(cell: Any, tz: tzinfo, with_time: bool) -> tuple[int | None, list[_Bad]]:
    if cell is None:
        return None, []
    if not _is_number(cell) or not math.isfinite(float(cell)):
        return None, [_bad("应为日期", "a date is expected")]
    if cell < MIN_MS:
        return None, [_bad(f"日期早于 {MIN_YEAR} 年，不合理", f"date before {MIN_YEAR} is not plausible",
                           _as_typed(cell, tz, with_time))]
    if cell >= _MAX_MS:
        return None, [_bad(f"日期晚于 {MAX_YEAR} 年，不合理", f"date after {MAX_YEAR} is not plausible",
                           _as_typed(cell, tz, with_time))]
    return int(cell), []


def _as_typed(ms: float, tz: tzinfo, with_time: bool) -> str:
    """An implausible date cell (milliseconds) as the Base shows it, 1900-01-01, not -2208988800000;
    "" when it is beyond what a date can hold."""
    try:
        when = datetime.fromtimestamp(ms / 1000, tz)
    except (OverflowError, OSError, ValueError):
        return ""
    return when.replace(tzinfo=None).isoformat(" ", "minutes") if with_time else when.date().isoformat()


def _date(tz: tzinfo) -> Callable[[Any], tuple[date | None, list[_Bad]]]:
    cache: dict[int, date] = {}

    def dec(cell: Any) -> tuple[date | None, list[_Bad]]:
        if type(cell) is int:  # a plan has few distinct dates: a known one needs no checking
            d = cache.get(cell)
            if d is not None:
                return d, []
        ms, bad = _ms(cell, tz, with_time=False)
        if ms is None:
            return None, bad
        d = cache.get(ms)
        if d is None:
            d = cache[ms] = datetime.fromtimestamp(ms / 1000, tz).date()
        return d, []

    return dec


DATETIME_CACHE = 4_096  # distinct instants remembered per decoder (bulk edits share theirs)


def _datetime(tz: tzinfo) -> Callable[[Any], tuple[datetime | None, list[_Bad]]]:
    # Records changed together (an import, a bulk edit, an automation) carry the same modified
    # time: they share one datetime. Bounded, so distinct instants cost no more than before.
    cache: dict[int, datetime] = {}

    def dec(cell: Any) -> tuple[datetime | None, list[_Bad]]:
        if type(cell) is int:
            d = cache.get(cell)
            if d is not None:
                return d, []
        ms, bad = _ms(cell, tz, with_time=True)
        if ms is None:
            return None, bad
        d = cache.get(ms)
        if d is None:
            if len(cache) >= DATETIME_CACHE:
                cache.clear()
            d = cache[ms] = datetime.fromtimestamp(ms / 1000, tz)
        return d, []

    return dec


def _checkbox(cell: Any) -> tuple[bool, list[_Bad]]:
    if cell is None:
        return False, []
    if isinstance(cell, bool):
        return cell, []
    return False, [_bad("应为勾选框（是/否）", "a checkbox (true/false) is expected")]


_PEOPLE: dict[tuple[str, str], Person] = {}


def _person(item: Any) -> Person | None:
    """A Person for a person cell item; frozen, so equal people share one object (fast, small)."""
    if isinstance(item, dict):
        oid = item.get("id")
        if isinstance(oid, str) and oid:
            name = item.get("name")
            key = (oid, name if isinstance(name, str) else "")
            p = _PEOPLE.get(key)
            if p is None:
                if len(_PEOPLE) > 50_000:
                    _PEOPLE.clear()
                p = _PEOPLE[key] = Person(open_id=key[0], name=key[1])
            return p
    return None


def _people(cell: Any) -> tuple[list[Person], list[_Bad]]:
    if type(cell) is list and len(cell) == 1:  # the usual cell: one person
        p = _person(cell[0])
        if p is not None:
            return [p], []
    if cell is None:
        return [], []
    if isinstance(cell, dict):
        cell = [cell]
    if not isinstance(cell, list):
        return [], [_bad(*WRONG_SHAPE)]
    people = [p for p in map(_person, cell) if p is not None]
    if len(people) != len(cell):
        return people, [_bad("人员格式不正确", "malformed person value")]
    return people, []


def _user(cell: Any) -> tuple[Person | None, list[_Bad]]:
    people, bad = _people(cell)
    if len(people) > 1:
        bad = bad + [_bad(f"只能填一个人，填了 {len(people)} 个（按第一个处理）",
                          f"only one person allowed, {len(people)} given (using the first)")]
    return (people[0] if people else None), bad


def _url(cell: Any) -> tuple[str | None, list[_Bad]]:
    if cell is None:
        return None, []
    if isinstance(cell, list) and len(cell) == 1:
        cell = cell[0]
    if isinstance(cell, str):
        return cell or None, []
    if isinstance(cell, dict):
        link = cell.get("link")
        if isinstance(link, str):
            return link or None, []
        text = cell.get("text")
        if isinstance(text, str) and link is None:
            return text or None, []
    return None, [_bad(*WRONG_SHAPE)]


def _link(cell: Any) -> tuple[list[str], list[_Bad]]:
    if cell is None:
        return [], []
    ids: Any = None
    if isinstance(cell, dict):
        ids = cell.get("link_record_ids", [])
    elif isinstance(cell, list):
        if all(isinstance(x, str) for x in cell):
            ids = cell  # write echo: a plain id list
        elif all(isinstance(x, dict) for x in cell):  # deprecated list/get shape
            ids = [r for x in cell for r in (x.get("record_ids") or [])]
    if not isinstance(ids, list) or not all(isinstance(x, str) and x for x in ids):
        return [], [_bad(*WRONG_SHAPE)]
    return list(ids), []


def _group_chat(cell: Any) -> tuple[list[str], list[_Bad]]:
    if cell is None:
        return [], []
    if isinstance(cell, dict):
        cell = [cell]
    if not isinstance(cell, list):
        return [], [_bad(*WRONG_SHAPE)]
    ids = [x["id"] for x in cell if isinstance(x, dict) and isinstance(x.get("id"), str) and x["id"]]
    if len(ids) != len(cell):
        return ids, [_bad(*WRONG_SHAPE)]
    return ids, []


def cell_decoder(f: FieldSpec, tz: tzinfo) -> Callable[[Any], tuple[Any, list[_Bad]]]:
    """The read-format decoder for one field."""
    k = f.kind
    if k is Kind.TEXT:
        return _text
    if k in (Kind.NUMBER, Kind.CURRENCY):
        return _number
    if k is Kind.INTEGER:
        return _integer
    if k is Kind.PROGRESS:
        return _progress
    if k is Kind.SELECT:
        return _select(f.option_names)
    if k is Kind.MULTI_SELECT:
        return _multi_select(f.option_names)
    if k is Kind.DATE:
        return _date(tz)
    if k in (Kind.DATETIME, Kind.MODIFIED_TIME):
        return _datetime(tz)
    if k is Kind.CHECKBOX:
        return _checkbox
    if k is Kind.USER:
        return _user
    if k is Kind.USERS:
        return _people
    if k is Kind.URL:
        return _url
    if k is Kind.LINK:
        return _link
    if k is Kind.GROUP_CHAT:
        return _group_chat
    raise ValueError(f"no decoder for kind {k}")  # pragma: no cover - every Kind is handled


class FrozenEmptyList(list):
    """The one empty list every decoded row shares for its empty list cells (links, people,
    multi-selects): a 100,000-row table has several per row, 56 bytes each. Rows are read-only
    (see `Mirror.snapshot`); a mutation would change every row at once, so it raises instead."""

    __slots__ = ()

    def _refuse(self, *args: object, **kwargs: object) -> None:
        raise TypeError("decoded rows are read-only: copy the list (list(value)) before changing it")

    append = extend = insert = remove = pop = clear = sort = reverse = _refuse
    __setitem__ = __delitem__ = __iadd__ = __imul__ = _refuse  # type: ignore[assignment]

    def __copy__(self) -> list:
        return []

    def __deepcopy__(self, memo: dict) -> list:
        return []


EMPTY_LIST = FrozenEmptyList()


def _is_empty(value: Any) -> bool:
    return value is None or value == "" or value == [] or value is False


# -- record decoding ------------------------------------------------------------------------
def _first(item: tuple[int, DataProblem]) -> int:
    return item[0]


def _missing(table: str, record_id: str, attr: str) -> DataProblem:
    """The problem of a required cell left empty."""
    return DataProblem(table=table, record_id=record_id, field=attr, value="",
                       reason="必填项为空", reason_en="required value is missing")


class RecordDecoder:
    """Decodes records of one table; built once per (spec, tz, field names) and reused (fast)."""

    def __init__(self, spec: TableSpec, tz: tzinfo, names: dict[str, str] | None = None) -> None:
        self.spec = spec
        self.tz = tz
        self.model = MODEL_BY_TABLE[spec.key]
        names = names or {}
        self.plan = []
        for f in spec.fields:
            dec = cell_decoder(f, tz)
            empty = dec(None)[0]  # what an empty cell decodes to (None, "", False or [])
            self.plan.append(((names.get(f.attr) or f.name), f.attr, dec, f.required,
                              isinstance(empty, list), empty))
        # the row's modified time, read from the record and from its 最后修改时间 cell: one decoder,
        # so both readings of an instant share one cache entry (and one datetime)
        self._dt = next((p[2] for p in self.plan if p[1] == "modified_at"), None) or _datetime(tz)
        # for count_problems: each field name's decoder, and the required names
        self._by_name = {p[0]: (p[2], p[3]) for p in self.plan}
        self._required_names = [p[0] for p in self.plan if p[3]]
        covered = {p[1] for p in self.plan} | {"record_id", "modified_at"}
        self._defaults = {name: info for name, info in self.model.model_fields.items() if name not in covered}
        self._order = list(self.model.model_fields)
        # Every row of a table sets the same fields, so rows share one "fields set" (a per-row set
        # cost ~1.2 KB, two thirds of a decoded row). Rows are read-only (see Mirror.snapshot).
        base = {"record_id", *(p[1] for p in self.plan), *self._defaults}
        self._fields_set = {True: base | {"modified_at"}, False: base}
        self._dated = from_sequence(self.model, self._fields_set[True])
        self._undated = from_sequence(self.model, self._fields_set[False])
        # The fast path (`decode`) walks the cells a record has, not every field of the table:
        # a row starts as the table's empty values in model order and each present cell fills
        # its place. Problems are put back in field order, so both paths report the same list.
        slot = {name: i for i, name in enumerate(self._order)}
        blank: list[Any] = [None] * len(self._order)
        steps: dict[str, tuple[int | None, str, Callable[[Any], tuple[Any, list[_Bad]]], bool, bool, int]] = {}
        for pos, (name, attr, dec, required, empty_list, empty) in enumerate(self.plan):
            i = slot.get(attr)
            if i is not None:
                blank[i] = EMPTY_LIST if empty_list else empty
            steps[name] = (i, attr, dec, required, empty_list, pos)
        self._blank = blank
        self._steps = steps
        self._required = [(pos, p[0], p[1]) for pos, p in enumerate(self.plan) if p[3]]
        self._default_slots = [(slot[name], info) for name, info in self._defaults.items()]
        self._rid_slot, self._mod_slot = slot["record_id"], slot.get("modified_at")
        self._fast = len(steps) == len(self.plan)  # two fields under one name (odd renames): slow path

    def _build(self, values: dict[str, Any]) -> Record:
        """Like `model_construct` (values are already the right types) but several times faster."""
        for name, info in self._defaults.items():
            values[name] = info.get_default(call_default_factory=True)
        return self._new([values.get(k) for k in self._order], "modified_at" in values)

    def _new(self, vals: list[Any], dated: bool) -> Record:
        """The model of `vals` (in `_order`), built without validation (`schemas.trusted`)."""
        return (self._dated if dated else self._undated)(vals)

    def decode(self, raw: Any) -> tuple[Record, list[DataProblem]]:
        """(domain model, data problems) of one record; never raises on bad data."""
        if not self._fast or not isinstance(raw, dict) or not isinstance(raw.get("fields"), dict):
            return self._decode_all(raw)
        rid = raw.get("record_id") or raw.get("id") or ""
        return self.decode_stored(rid if isinstance(rid, str) else str(rid), raw["fields"],
                                  raw.get("last_modified_time"))

    def decode_stored(self, rid: str, fields: Any, lm: Any) -> tuple[Record, list[DataProblem]]:
        """`decode` of a record given as its parts (the mirror's stored rows: no dict to build)."""
        if not self._fast or type(fields) is not dict:
            return self._decode_all({"record_id": rid, "fields": fields, "last_modified_time": lm})
        key = self.spec.key
        vals = self._blank.copy()
        vals[self._rid_slot] = rid
        steps = self._steps
        found: list[tuple[int, DataProblem]] = []
        required_seen = 0
        for name, cell in fields.items():
            if cell is None:
                continue
            step = steps.get(name)
            if step is None:
                continue  # a column the table spec does not know
            i, attr, dec, required, empty_list, pos = step
            value, bad = dec(cell)
            if i is not None:
                vals[i] = EMPTY_LIST if empty_list and not value else value
            if bad:
                for b in bad:
                    found.append((pos, DataProblem(table=key, record_id=rid, field=attr,
                                                   value=b.shown or short_repr(cell),
                                                   reason=b.reason, reason_en=b.reason_en)))
            if required:
                required_seen += 1
                if not bad and _is_empty(value):
                    found.append((pos, _missing(key, rid, attr)))
        if required_seen < len(self._required):  # a required cell is absent (the usual row has them all)
            for pos, name, attr in self._required:
                if fields.get(name) is None:
                    found.append((pos, _missing(key, rid, attr)))
        if len(found) > 1:
            found.sort(key=_first)  # stable: several problems of one cell keep their order
        for i, info in self._default_slots:
            vals[i] = info.get_default(call_default_factory=True)
        if lm is not None and self._mod_slot is not None:
            when, _ = self._dt(lm)
            if when is not None:
                vals[self._mod_slot] = when
                return self._dated(vals), [p for _, p in found] if found else []
        return self._undated(vals), [p for _, p in found] if found else []

    def _decode_all(self, raw: Any) -> tuple[Record, list[DataProblem]]:
        """`decode` walking every field of the table (malformed records, colliding field names)."""
        key = self.spec.key
        if not isinstance(raw, dict):
            return self.model.model_construct(), [DataProblem(
                table=key, record_id="", field="", value=short_repr(raw),
                reason="记录格式不正确", reason_en="malformed record")]
        rid = raw.get("record_id") or raw.get("id") or ""
        rid = rid if isinstance(rid, str) else str(rid)
        fields = raw.get("fields")
        problems: list[DataProblem] = []
        if not isinstance(fields, dict):
            if fields is not None:
                problems.append(DataProblem(table=key, record_id=rid, field="", value=short_repr(fields),
                                            reason="记录字段格式不正确", reason_en="malformed record fields"))
            fields = {}
        values: dict[str, Any] = {"record_id": rid}
        for name, attr, dec, required, empty_list, empty in self.plan:
            cell = fields.get(name)
            if cell is None:  # most cells of a plan are empty: skip the decoder
                values[attr] = EMPTY_LIST if empty_list else empty
                if required:
                    problems.append(_missing(key, rid, attr))
                continue
            value, bad = dec(cell)
            values[attr] = EMPTY_LIST if empty_list and not value else value
            for b in bad:
                problems.append(DataProblem(table=key, record_id=rid, field=attr, value=b.shown or short_repr(cell),
                                            reason=b.reason, reason_en=b.reason_en))
            if required and not bad and _is_empty(value):
                problems.append(_missing(key, rid, attr))
        lm = raw.get("last_modified_time")
        if lm is not None:
            when, bad = self._dt(lm)
            if when is not None:
                values["modified_at"] = when
        return self._build(values), problems


    def count_problems(self, raw: Any) -> int:
        """How many data problems `decode(raw)` reports, without building the model or the
        problems (the mirror counts them for every record a refresh brings in). Walks the cells
        the record has (most of a plan's cells are empty) and then the required ones it lacks."""
        if not isinstance(raw, dict):
            return 1
        fields = raw.get("fields")
        n = 0
        if not isinstance(fields, dict):
            if fields is not None:
                n += 1
            fields = {}
        by_name = self._by_name
        if len(by_name) != len(self.plan):  # two fields under one name (odd renames): decode all
            return len(self.decode(raw)[1])
        for name, cell in fields.items():
            if cell is None:
                continue
            step = by_name.get(name)
            if step is None:
                continue  # a column the table spec does not know
            dec, required = step
            value, bad = dec(cell)
            if bad:
                n += len(bad)
            elif required and _is_empty(value):
                n += 1
        for name in self._required_names:
            if fields.get(name) is None:
                n += 1
        return n


_DECODERS: dict[tuple[str, str, tuple], RecordDecoder] = {}


def decoder_for(spec: TableSpec, tz: tzinfo, binding: BaseBinding | None = None) -> RecordDecoder:
    """A cached decoder for a table (honouring field renames recorded in the binding)."""
    names = dict((getattr(binding, "field_names", None) or {}).get(spec.key, {}))
    key = (spec.key, str(tz), tuple(sorted(names.items())))
    dec = _DECODERS.get(key)
    if dec is None or dec.spec is not spec:
        dec = _DECODERS[key] = RecordDecoder(spec, tz, names)
    return dec


def decode_record(spec: TableSpec, raw: dict, tz: tzinfo, binding: BaseBinding | None = None
                  ) -> tuple[Record, list[DataProblem]]:
    """A search/batch_get item → (domain model, data problems). Never raises on bad data."""
    return decoder_for(spec, tz, binding).decode(raw)


def decode_cell(f: FieldSpec, cell: Any, tz: tzinfo) -> Any:
    """The domain value of one read-format cell (problems ignored): used to compare values."""
    return cell_decoder(f, tz)(cell)[0]


# -- encoding -------------------------------------------------------------------------------
def _plain(value: Any) -> Any:
    return value.value if isinstance(value, Enum) else value


def _open_id(value: Any, where: str) -> str:
    if isinstance(value, Person):
        return value.open_id
    if isinstance(value, str) and value:
        return value
    if isinstance(value, dict) and isinstance(value.get("id"), str):
        return value["id"]
    raise EncodeError(f"{where}: expected a person (open_id), got {short_repr(value)}")


def _date_ms(value: Any, tz: tzinfo, where: str) -> int:
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise EncodeError(f"{where}: naive datetime {value!r}; pass an aware datetime")
        value = value.astimezone(tz).date()
    if not isinstance(value, date):
        raise EncodeError(f"{where}: expected a date, got {short_repr(value)}")
    return int(datetime.combine(value, dtime(0), tz).timestamp() * 1000)


def encode_value(f: FieldSpec, value: Any, tz: tzinfo, where: str = "") -> Any:
    """One domain value → Feishu write format. `None` (or an empty list) clears the cell."""
    where = where or f.attr
    value = _plain(value)
    k = f.kind
    if k is Kind.MODIFIED_TIME:
        raise EncodeError(f"{where}: a modified-time field is read only")
    if value is None:
        return None
    try:
        if k is Kind.TEXT:
            return value if isinstance(value, str) else str(value)
        if k in (Kind.NUMBER, Kind.CURRENCY, Kind.PROGRESS):
            if not _is_number(value) or not math.isfinite(float(value)):
                raise EncodeError(f"{where}: expected a number, got {short_repr(value)}")
            return value
        if k is Kind.INTEGER:
            if not _is_number(value) or not float(value).is_integer():
                raise EncodeError(f"{where}: expected a whole number, got {short_repr(value)}")
            return int(value)
        if k is Kind.SELECT:
            if not isinstance(value, str):
                raise EncodeError(f"{where}: expected an option name, got {short_repr(value)}")
            return value or None
        if k is Kind.MULTI_SELECT:
            items = [_plain(v) for v in ([value] if isinstance(value, str) else value)]
            if not all(isinstance(v, str) for v in items):
                raise EncodeError(f"{where}: expected option names, got {short_repr(value)}")
            return items or None
        if k is Kind.DATE:
            return _date_ms(value, tz, where)
        if k is Kind.DATETIME:
            if isinstance(value, datetime):
                if value.tzinfo is None:
                    raise EncodeError(f"{where}: naive datetime {value!r}; pass an aware datetime")
                return int(value.timestamp() * 1000)
            return _date_ms(value, tz, where)
        if k is Kind.CHECKBOX:
            if not isinstance(value, bool):
                raise EncodeError(f"{where}: expected true/false, got {short_repr(value)}")
            return value
        if k is Kind.USER:
            if isinstance(value, list):
                if len(value) > 1:
                    raise EncodeError(f"{where}: one person only, got {len(value)}")
                return [{"id": _open_id(v, where)} for v in value] or None
            return [{"id": _open_id(value, where)}]
        if k is Kind.USERS:
            items = value if isinstance(value, (list, tuple)) else [value]
            return [{"id": _open_id(v, where)} for v in items] or None
        if k is Kind.URL:
            if isinstance(value, dict) and isinstance(value.get("link"), str):
                return {"text": value.get("text") or value["link"], "link": value["link"]}
            if isinstance(value, str):
                return {"text": value, "link": value} if value else None
            raise EncodeError(f"{where}: expected a URL, got {short_repr(value)}")
        if k is Kind.LINK:
            items = [value] if isinstance(value, str) else list(value)
            if not all(isinstance(v, str) and v for v in items):
                raise EncodeError(f"{where}: expected record ids, got {short_repr(value)}")
            return items or None
        if k is Kind.GROUP_CHAT:
            items = [value] if isinstance(value, str) else list(value)
            if not all(isinstance(v, str) and v for v in items):
                raise EncodeError(f"{where}: expected chat ids, got {short_repr(value)}")
            return [{"id": v} for v in items] or None
    except TypeError as exc:
        raise EncodeError(f"{where}: cannot encode {short_repr(value)}: {exc}") from None
    raise EncodeError(f"{where}: no encoder for kind {k}")  # pragma: no cover


def encode_fields(spec: TableSpec, values: dict[str, Any], tz: tzinfo, binding: BaseBinding | None = None
                  ) -> dict[str, Any]:
    """Attr-keyed domain values → the `fields` of a create/update request (keyed by field name)."""
    names = (getattr(binding, "field_names", None) or {}).get(spec.key, {})
    out: dict[str, Any] = {}
    for attr, value in values.items():
        try:
            f = spec.field(attr)
        except KeyError:
            raise EncodeError(f"table {spec.name} ({spec.key}) has no field {attr!r}") from None
        out[names.get(attr) or f.name] = encode_value(f, value, tz, where=f"{spec.name}.{f.name}")
    return out


def write_to_read(f: FieldSpec, encoded: Any, people: dict[str, Person] | None = None) -> Any:
    """The read-format cell Feishu will return after writing `encoded` (to update the mirror).

    `None` means the cell is empty (Feishu omits empty cells from reads).
    """
    if encoded is None or encoded == [] or encoded == "":
        return None
    k = f.kind
    if k is Kind.TEXT:
        return [{"type": "text", "text": encoded}]
    if k in (Kind.USER, Kind.USERS):
        out = []
        for item in encoded:
            p = (people or {}).get(item["id"])
            out.append({"id": item["id"], "name": p.name} if p and p.name else {"id": item["id"]})
        return out
    if k is Kind.LINK:
        return {"link_record_ids": list(encoded)}
    return encoded


def canonical(f: FieldSpec, cell: Any, tz: tzinfo) -> Any:
    """A read-format cell in write format, so a planned write can be compared with the mirror."""
    value = decode_cell(f, cell, tz)
    if k_empty(value):
        return None
    try:
        enc = encode_value(f, value, tz)
    except EncodeError:
        return ("undecodable", short_repr(cell))
    return _normal(enc)


def k_empty(value: Any) -> bool:
    return value is None or value == [] or value == ""


def _normal(enc: Any) -> Any:
    """Normalise numbers so 3 and 3.0 compare equal."""
    if _is_number(enc):
        return float(enc)
    return enc


def canonical_value(f: FieldSpec, value: Any, tz: tzinfo) -> Any:
    """A domain value in the same normal form as `canonical` (None for an empty value)."""
    enc = encode_value(f, value, tz)
    if k_empty(enc):
        return None
    return _normal(enc)

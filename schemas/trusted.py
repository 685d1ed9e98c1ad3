"""Model instances from values that are already valid: no validation, fast and small.

The record codec builds 10^5 rows from a Base, the rules ~10^5 decisions per run from values they
made themselves; pydantic's `model_construct` costs ~8 µs each. A builder here sets every field
with `object.__setattr__`, one by one, in declaration order, then the shared fields-set: the
instance keeps its values inline against its class's key table (`schemas.plan.share_keys`) and
has no dict object of its own until something asks for `__dict__` (~0.35 KB for a task). Assigning
`__dict__`, or updating it whole, is faster but makes that dict: +64 bytes per instance, 6 MB over
100,000 rows. The setter is generated per model, as `dataclasses` generates `__init__`: one
straight line of assignments is ~20 % faster than a loop over the names.

Callers own the values' types and treat the instances as read-only (every field counts as set).
"""
from __future__ import annotations

from functools import cache
from typing import Any, Callable, Mapping, Sequence, TypeVar

M = TypeVar("M")


def _source(names: Sequence[str], read: Callable[[int, str], str]) -> str:
    lines = ["def build(values):", "    obj = _new(cls)"]
    lines += [f"    _set(obj, {name!r}, {read(i, name)})" for i, name in enumerate(names)]
    lines += ["    _set(obj, '__pydantic_fields_set__', fields_set)",
              "    _set(obj, '__pydantic_extra__', None)",
              "    _set(obj, '__pydantic_private__', None)",
              "    return obj"]
    return "\n".join(lines)


def _compile(cls: type[M], read: Callable[[int, str], str], fields_set: set[str]) -> Callable[[Any], M]:
    """The builder of `cls`: every field of the model (pydantic's `model_fields`, identifiers by
    construction), in declaration order, read from `values` as `read(i, name)` spells it."""
    src = _source(tuple(cls.model_fields), read)  # type: ignore[attr-defined]
    scope: dict[str, Any] = {"_new": object.__new__, "_set": object.__setattr__, "cls": cls,
                             "fields_set": fields_set}
    exec(compile(src, f"<trusted {cls.__name__}>", "exec"), scope)  # noqa: S102 - model field names only
    return scope["build"]


def from_sequence(cls: type[M], fields_set: set[str]) -> Callable[[Sequence[Any]], M]:
    """`build(values)`: an instance of `cls` with `values[i]` as its i-th field (declaration order)
    and `fields_set` (shared by every instance, never changed)."""
    return _compile(cls, lambda i, name: f"values[{i}]", fields_set)


@cache
def from_mapping(cls: type[M]) -> Callable[[Mapping[str, Any]], M]:
    """`build(values)`: an instance of `cls` with its fields given by name, every one of them set;
    made once per model."""
    return _compile(cls, lambda i, name: f"values[{name!r}]", set(cls.model_fields))  # type: ignore[attr-defined]

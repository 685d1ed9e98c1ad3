"""Card button values: what a click sends back, as typed models (the transport routes on `a`).

Every interactive element of our cards carries a compact `value` dict in its callback behaviour
(short keys keep the 30 KB card budget for content):

| a          | element                        | value keys                 | user input (callback)                              |
|------------|--------------------------------|----------------------------|----------------------------------------------------|
| task_done  | button 完成                    | p, t, r                    | –                                                  |
| progress   | form submit button 更新进度     | p, t, r, f (form index)    | `action.form_value`: {"p{f}": "60"} (or "60%")     |
| postpone   | form submit button 延期到…      | p, t, r, f (form index)    | `action.form_value`: {"d{f}": "YYYY-MM-DD …", "why{f}": text} |
| ack        | button 确认                    | p, t, r, l (level)         | –                                                  |
| snooze     | buttons 4 小时后 / 明天提醒     | p, t, r, l, h (hours)      | – (an `action.option` of hours or a date also works) |
| resolve    | button 已解决                  | p, t, r                    | –                                                  |
| cancel     | button 取消 (chat confirm card) | p, t, r                    | –                                                  |
| signoff    | form buttons 通过 / 退回        | p, t, r, ok (1/0), f       | `action.form_value`: {"note{f}": text}             |

A confirm card for a change typed in chat carries its input in the value itself: `progress`
with `pct`, `postpone` with `new_date` (YYYY-MM-DD) and `reason`.

`p` project slug, `t` table key (task, deliverable, milestone, issue), `r` record id, `l`
escalation level. `parse_action(value, form_value, option)` turns a callback into one of the
models below (raising `ActionError`, with a message naming the bad key, on anything else).
The date picker returns "YYYY-MM-DD" possibly followed by a time and zone ("2026-12-01 +0800");
only the date part is used.
"""
from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, field_validator

ACTION_TABLES = ("task", "deliverable", "milestone", "issue", "dependency", "risk", "project")


class ActionError(ValueError):
    """A callback value we cannot use (names the key)."""


class _Base(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)
    p: str = Field(min_length=1, max_length=64)  # project slug
    t: str  # table key
    r: str = Field(min_length=1, max_length=64)  # record id

    @field_validator("t")
    @classmethod
    def _table(cls, v: str) -> str:
        if v not in ACTION_TABLES:
            raise ValueError(f"unknown table {v!r}")
        return v

    def value(self) -> dict[str, Any]:
        """The compact dict to put in a card's callback behaviour."""
        return self.model_dump(exclude_none=True, exclude=set(self._inputs()))

    @classmethod
    def _inputs(cls) -> tuple[str, ...]:
        return ()


class TaskDone(_Base):
    a: Literal["task_done"] = "task_done"


class Progress(_Base):
    a: Literal["progress"] = "progress"
    f: str = ""  # form index suffix: the input is named p{f}
    pct: int | None = Field(default=None, ge=0, le=100)  # from form_value (or a select option)

    @classmethod
    def _inputs(cls) -> tuple[str, ...]:
        return ("pct",)


class Postpone(_Base):
    a: Literal["postpone"] = "postpone"
    f: str = ""  # form index suffix: inputs are named d{f} and why{f}
    new_date: date | None = None  # from form_value
    reason: str = ""

    @classmethod
    def _inputs(cls) -> tuple[str, ...]:
        return ("new_date", "reason")


class Ack(_Base):
    a: Literal["ack"] = "ack"
    l: int | None = None  # noqa: E741 - compact key


class Snooze(_Base):
    a: Literal["snooze"] = "snooze"
    l: int | None = None  # noqa: E741
    h: int | None = Field(default=None, ge=1, le=24 * 14)  # hours (option, or fixed on the button)
    until: date | None = None

    @classmethod
    def _inputs(cls) -> tuple[str, ...]:
        return ("until",)


class Resolve(_Base):
    a: Literal["resolve"] = "resolve"


class Cancel(_Base):
    a: Literal["cancel"] = "cancel"


class Signoff(_Base):
    a: Literal["signoff"] = "signoff"
    ok: int = Field(ge=0, le=1)  # 1 通过, 0 退回
    f: str = ""  # form index suffix: the note input is named note{f}
    note: str = ""  # from form_value

    @classmethod
    def _inputs(cls) -> tuple[str, ...]:
        return ("note",)


Action = Annotated[Union[TaskDone, Progress, Postpone, Ack, Snooze, Resolve, Cancel, Signoff],
                   Field(discriminator="a")]
_ADAPTER: TypeAdapter = TypeAdapter(Action)


def _date_part(text: Any, key: str) -> date:
    try:
        return date.fromisoformat(str(text).strip()[:10])
    except ValueError:
        raise ActionError(f"{key}: not a date: {text!r}") from None


def parse_action(value: dict | None, form_value: dict | None = None, option: str | None = None):
    """The typed action of a card callback (value + the user's input). Raises ActionError."""
    if not isinstance(value, dict) or "a" not in value:
        raise ActionError("callback value has no action key 'a'")
    data = dict(value)
    form_value = form_value or {}
    a = data.get("a")
    if a == "progress":
        suffix = str(data.get("f", ""))
        raw = option if option is not None else form_value.get(f"p{suffix}")
        if raw is None or str(raw).strip() == "":
            if "pct" not in data:
                raise ActionError(f"progress: form field p{suffix} (progress %) is empty")
        else:
            try:
                data["pct"] = round(float(str(raw).strip().rstrip("%").strip()))
            except ValueError:
                raise ActionError(f"progress: p{suffix} {raw!r} is not a number 0-100") from None
    elif a == "postpone":
        suffix = str(data.get("f", ""))
        raw = form_value.get(f"d{suffix}") or form_value.get("new_date") or data.get("new_date")
        if not raw:
            raise ActionError(f"postpone: form field d{suffix} (new date) is empty")
        data["new_date"] = _date_part(raw, f"d{suffix}")
        data["reason"] = str(form_value.get(f"why{suffix}") or form_value.get("reason")
                             or data.get("reason") or "")[:500]
    elif a == "signoff":
        suffix = str(data.get("f", ""))
        data["note"] = str(form_value.get(f"note{suffix}") or data.get("note") or "").strip()[:500]
    elif a == "snooze" and option is not None:
        if len(option) >= 10 and option[4] == "-":
            data["until"] = _date_part(option, "option")
        else:
            try:
                data["h"] = int(option)
            except ValueError:
                raise ActionError(f"snooze: option {option!r} is not hours or a date") from None
    try:
        return _ADAPTER.validate_python(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(x) for x in err["loc"][1:]) or "a"
        raise ActionError(f"{where}: {err['msg']}") from None

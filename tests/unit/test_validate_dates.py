"""Dates given on the command line (`--start`, `--as-of`): one line naming the option, the value and
why it is refused, with an example; the bounds are the plan's (FIRST_YEAR–LAST_YEAR)."""
from __future__ import annotations

from datetime import date, timezone

import pytest

from gtm.bot.validate import BadArgument, check_plan_end, parse_as_of, parse_start
from gtm.schemas.templates import TEMPLATES


@pytest.mark.parametrize("value, why", [
    ("next monday", "not a date in YYYY-MM-DD form"),
    ("2026-1-5", "not a date in YYYY-MM-DD form"),
    ("2026-13-01", "no such day"),
    ("2026-02-30", "no such day"),
    ("1900-01-01", "between 2000 and 2100"),
    ("9999-12-01", "between 2000 and 2100"),
])
def test_bad_start_names_option_value_reason_and_example(value, why):
    with pytest.raises(BadArgument) as err:
        parse_start(value)
    text = str(err.value)
    assert text.startswith(f"--start {value!r}") and why in text and "e.g. --start 2026-11-23" in text
    assert " / " in text  # Chinese first, then English


def test_good_start_and_the_plan_end():
    assert parse_start(" 2100-12-31 ") == date(2100, 12, 31)
    check_plan_end(date(2100, 7, 16), 168)  # ends on 2100-12-31
    with pytest.raises(BadArgument, match="would end after 2100; start on 2100-07-16 or earlier"):
        check_plan_end(date(2100, 7, 17), 168)
    with pytest.raises(BadArgument, match="would end after 2100"):
        check_plan_end(date(9999, 12, 31), 1)  # past date.max: no OverflowError


def test_template_span_is_its_last_offset():
    assert TEMPLATES["gtm"].span_days == 168 and TEMPLATES["campaign"].span_days == 60


@pytest.mark.parametrize("value, why", [
    ("2026-02-30", "no such day"),
    ("2026-02-30T09:00", "no such day"),
    ("soon", "not an ISO-8601 date or time"),
    ("1999-12-31", "between 2000 and 2100"),
])
def test_bad_as_of(value, why):
    with pytest.raises(BadArgument) as err:
        parse_as_of(value, timezone.utc)
    assert str(err.value).startswith(f"--as-of {value!r}") and why in str(err.value)

"""What chat text is matched against: normalised text, and the shapes of task IDs and milestone codes.

`normalise` folds what people type into one form for matching only (NFKC full-width folding,
`@_user_N` mention placeholders removed, lower case, surrounding punctuation dropped); `as_typed`
keeps the text as typed for echoing back.

The ID shapes live here once, named for what they accept (both read normalised, lower-case text).
They cover the three shipped templates: gtm (T-301, M3), sales (S1-01, S1) and campaign (M001,
P001, MS1):
- `TASK_ID`: what the command router takes for a task ID — a 1-4 letter prefix (optionally with
  a phase number: "s1"), a dash and a number ("t-301", "s1-01"); or 1-2 letters straight followed
  by 3-6 digits ("m001", "p001"); so "T-301 什么情况" looks the task up;
- `TASK_ID_ALNUM`: what an update typed in chat may name — the same prefixes with letters or digits
  after the dash ("t-3a1", "ops-x12"), one group. Wider on purpose: an update is only accepted when
  a task of the plan carries exactly that ID, so the wider shape cannot pick a wrong record;
- `MILESTONE_CODE`: a milestone code anywhere in a sentence ("m3", "m 3", "ms1", "s2"), groups
  (prefix, number); never the start of a task ID ("s1-01", "m001");
- `MILESTONE_ONLY`: the whole text is a milestone code ("m3", "m 12", "ms2").
"""
from __future__ import annotations

import re
import unicodedata

TASK_ID = re.compile(r"(?<![a-z0-9])(?:([a-z]{1,4}\d{0,2})-(\d{1,6})|([a-z]{1,2})(\d{3,6}))(?![0-9])")
TASK_ID_ALNUM = re.compile(r"(?<![a-z0-9])([a-z]{1,4}\d{0,2}-[a-z0-9]{1,12}|[a-z]{1,2}\d{3,6})(?![a-z0-9])")
MILESTONE_CODE = re.compile(r"(?<![a-z0-9])(ms|m|s)\s?(\d{1,2})(?![0-9a-z-])")
MILESTONE_ONLY = re.compile(r"^(ms|m|s)\s*(\d{1,2})$")

_PLACEHOLDER = re.compile(r"@_user_\d+|@_all")
_TRAILING = re.compile(r"[\s.?!。,，;；:：~、？！]+$")
_LEADING = re.compile(r"^[\s/\\#!:：,，]+")


def normalise(text: str) -> str:
    """Fold full-width forms, drop mention placeholders, collapse spaces, lower-case."""
    text = unicodedata.normalize("NFKC", text or "")
    text = _PLACEHOLDER.sub(" ", text)
    text = re.sub(r"\s+", " ", text).strip().lower()
    text = _LEADING.sub("", text)
    stripped = _TRAILING.sub("", text)
    return stripped if stripped else text.strip()


def as_typed(text: str) -> str:
    """The text as the person typed it, minus mention placeholders and surrounding space."""
    return re.sub(r"\s+", " ", _PLACEHOLDER.sub(" ", text or "")).strip()


def task_ids(norm: str) -> list[str]:
    """Every task ID of the router's shape in normalised text, as written in the plan ("T-301",
    "S1-01", "M001")."""
    return [f"{a.upper()}-{b}" if a else f"{c.upper()}{d}" for a, b, c, d in TASK_ID.findall(norm)]


def milestone_code(prefix: str, number: str) -> str:
    """The code of a milestone as the plan writes it ("m", "03" → "M3"; "ms", "1" → "MS1")."""
    return f"{prefix.upper()}{int(number)}"

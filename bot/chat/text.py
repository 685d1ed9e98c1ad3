"""What chat text is matched against: normalised text, and the shapes of task IDs and milestone codes.

`normalise` folds what people type into one form for matching only (NFKC full-width folding,
`@_user_N` mention placeholders removed, lower case, surrounding punctuation dropped); `as_typed`
keeps the text as typed for echoing back.

The ID shapes live here once, named for what they accept (both read normalised, lower-case text):
- `TASK_ID`: what the command router takes for a task ID — a 1-4 letter prefix, a dash and a
  number ("t-301"), groups (prefix, number), so "T-301 什么情况" looks the task up;
- `TASK_ID_ALNUM`: what an update typed in chat may name — the same prefix with letters or digits
  after the dash ("t-3a1", "ops-x12"), one group. Wider on purpose: an update is only accepted when
  a task of the plan carries exactly that ID, so the wider shape cannot pick a wrong record;
- `MILESTONE_CODE`: a milestone code anywhere in a sentence ("m3", "m 3"), group 1 the number;
  the whole match is the code as typed;
- `MILESTONE_ONLY`: the whole text is a milestone code ("m3", "m 12").
"""
from __future__ import annotations

import re
import unicodedata

TASK_ID = re.compile(r"(?<![a-z0-9])([a-z]{1,4})-(\d{1,6})(?![0-9])")
TASK_ID_ALNUM = re.compile(r"(?<![a-z0-9])([a-z]{1,4}-[a-z0-9]{1,12})(?![a-z0-9])")
MILESTONE_CODE = re.compile(r"(?<![a-z0-9])m\s?(\d{1,2})(?![0-9])")
MILESTONE_ONLY = re.compile(r"^m\s*(\d{1,2})$")

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
    """Every task ID of the router's shape in normalised text, as written in the plan ("T-301")."""
    return [f"{prefix.upper()}-{number}" for prefix, number in TASK_ID.findall(norm)]


def milestone_code(number: str) -> str:
    """The code of milestone `number` as the plan writes it ("03" → "M3")."""
    return f"M{int(number)}"

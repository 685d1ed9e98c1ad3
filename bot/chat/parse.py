"""Understand what people type after @-mentioning the bot: one `Command` (zh or en, forgiving).

The router is a registry of `Intent`s (`gtm.bot.chat.intents` holds the table): one command is one
entry — its display words, its synonyms, its help text and its handler. Adding a command means
adding one `Intent(...)` there; nothing else has to change.

How a sentence is read (`parse`):
1. Normalised for matching only: `@_user_N` placeholders removed, full-width folded (NFKC:
   `？`→`?`, `Ｍ３`→`M3`), lower-cased, trailing punctuation dropped. The text as typed
   (placeholders removed) is kept in `Command.original` and is what the answer echoes.
2. A command word at the start takes the rest as its argument ("状态 星河" → status of 星河).
3. Otherwise synonyms are looked for anywhere in the sentence ("我有哪些任务", "what's overdue",
   "本周周报"); the longest hit wins, so 本周周报 is the report and not "due this week".
4. Milestone codes (M3) and task IDs (T-301) are found anywhere; "M3进度怎么样" is M3.
5. "本周" / "下周" (this week / next week) filter the due-soon answer.
6. Milestone names are matched fuzzily (rapidfuzz) when the caller passes them.
7. Nothing matched: `unknown`, with the 3 nearest intents (shown as buttons).
"""
from __future__ import annotations

import importlib
import re
import unicodedata
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Literal

from pydantic import BaseModel, Field
from rapidfuzz import fuzz, process

from gtm.bot.chat.update_parse import is_update

When = Literal["", "this_week", "next_week"]


class Command(BaseModel):
    name: str  # an intent name (see `gtm.bot.chat.intents`) or "unknown"
    arg: str = ""  # project name for status/report…, milestone code or name for milestone
    text: str = ""  # the normalised text
    original: str = ""  # the text as typed (mention placeholders removed): what answers echo
    when: When = ""  # time filter for due-soon answers
    codes: list[str] = Field(default_factory=list)  # task IDs found in the sentence ("T-301")
    suggestions: list[str] = Field(default_factory=list)  # display forms, e.g. "状态"
    suggested: list[str] = Field(default_factory=list)  # intent names of `suggestions`


Handler = Callable[[Command, Any], tuple[str, BaseModel]]


@dataclass(frozen=True)
class Intent:
    """One command: words (first zh and en are shown in help), synonyms found anywhere in a
    sentence, help text, and the handler `(Command, AskContext) -> (template, view)`."""

    name: str
    zh: str
    en: str
    help_zh: str
    help_en: str
    handler: Handler
    words: tuple[str, ...] = ()  # more command words: "word [argument]" at the start
    synonyms: tuple[str, ...] = ()  # phrases recognised anywhere in the sentence
    example: str = ""  # shown in help instead of the word (e.g. "M3")
    needs_check: bool = True  # False: the answer never reads the rule results (faster)
    listed: bool = True  # shown in help and offered as a suggestion

    def all_words(self) -> tuple[str, ...]:
        return (normalise(self.zh), normalise(self.en)) + tuple(normalise(w) for w in self.words)

    def display(self, locale: str = "zh") -> str:
        return self.en if locale == "en" else self.zh


_REGISTRY: dict[str, Intent] = {}


def register(intent: Intent) -> Intent:
    """Add (or replace) an intent; returns it."""
    _REGISTRY[intent.name] = intent
    _vocabulary.cache = None  # type: ignore[attr-defined]
    return intent


def registry() -> dict[str, Intent]:
    """Every intent, in help order. The table module registers on import; it imports the
    handlers, which import this module, so it is loaded here on first use, not at the top."""
    if not _REGISTRY:
        importlib.import_module("gtm.bot.chat.intents")
    return _REGISTRY


def intent(name: str) -> Intent:
    return registry()[name]


_MILESTONE_CODE = re.compile(r"^m\s*(\d{1,2})$")
_MILESTONE_ANY = re.compile(r"(?<![a-z0-9])m\s?(\d{1,2})(?![0-9])")
_TASK_ID = re.compile(r"(?<![a-z0-9])([a-z]{1,4})-(\d{1,6})(?![0-9])")
_PLACEHOLDER = re.compile(r"@_user_\d+|@_all")
_TRAILING = re.compile(r"[\s.?!。,，;；:：~、？！]+$")
_LEADING = re.compile(r"^[\s/\\#!:：,，]+")
_WHEN = (("下周", "next_week"), ("next week", "next_week"), ("本周", "this_week"), ("这周", "this_week"),
         ("this week", "this_week"))


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


def display(name: str, locale: str = "") -> str:
    """How an intent is named to people: "状态" (zh), "status" (en), or both when no locale."""
    it = intent(name)
    if locale:
        return it.display(locale)
    return f"{it.zh} / {it.en}"


def _vocabulary() -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """(command words, synonyms) as (normalised phrase, intent name), longest first."""
    cached = getattr(_vocabulary, "cache", None)
    if cached is not None and cached[0] == len(registry()):
        return cached[1]
    words = [(w, it.name) for it in registry().values() for w in it.all_words() if w]
    syns = [(normalise(s), it.name) for it in registry().values() for s in (it.all_words() + it.synonyms) if s]
    words.sort(key=lambda p: -len(p[0]))
    syns.sort(key=lambda p: -len(p[0]))
    _vocabulary.cache = (len(registry()), (words, syns))  # type: ignore[attr-defined]
    return words, syns


def _contains(norm: str, phrase: str) -> bool:
    if not phrase.isascii():
        return phrase in norm
    return re.search(r"(?<![a-z0-9])" + re.escape(phrase) + r"(?![a-z0-9])", norm) is not None


def _when(norm: str) -> When:
    for phrase, when in _WHEN:
        if _contains(norm, phrase):
            return when  # type: ignore[return-value]
    return ""


def parse(text: str, milestones: Iterable[str] = ()) -> Command:
    """The command in `text`. `milestones` (codes or "M3 名称" labels) lets names match."""
    norm = normalise(text)
    base = {"text": norm, "original": as_typed(text), "when": _when(norm),
            "codes": [f"{a.upper()}-{b}" for a, b in _TASK_ID.findall(norm)]}
    if not norm:
        return Command(name="help", **base)
    m = _MILESTONE_CODE.match(norm)
    if m:
        return Command(name="milestone", arg=f"M{int(m.group(1))}", **base)
    if is_update(norm) and "update" in registry():  # "T-301 80%", "M3 延期到 12-20", "push T-301 to friday"
        return Command(name="update", **base)
    words, syns = _vocabulary()
    # 2. "word [argument]" at the start
    for word, name in words:
        if norm == word:
            return Command(name=name, **base)
        if norm.startswith(word) and len(word) > 1:
            rest = norm[len(word):]
            if word.isascii() and not rest.startswith(" "):
                continue  # "statusx" is not "status"
            arg = rest.strip()
            if name == "milestone":
                mm = _MILESTONE_CODE.match(arg)
                arg = f"M{int(mm.group(1))}" if mm else arg
            if arg and _synonym_hit(arg, syns) and name not in ("milestone",):
                break  # "本周周报": the rest is itself a command; decide on the whole sentence
            return Command(name=name, arg=arg, **base)
    # 4. a milestone code anywhere ("M3进度怎么样", "how is m3 going")
    mm = _MILESTONE_ANY.search(norm)
    hit = _synonym_hit(norm, syns)
    if mm and (hit is None or intent(hit[1]).name in ("status", "milestone")):
        return Command(name="milestone", arg=f"M{int(mm.group(1))}", **base)
    if base["codes"] and "task" in registry() and (hit is None or hit[1] == "status"):
        return Command(name="task", arg=base["codes"][0], **base)  # "T-301 什么情况"
    # 3. a synonym anywhere, longest first
    if hit is not None:
        return Command(name=hit[1], **base)
    # 6. a milestone by name or label, also approximately ("m3 发布准备" for "M3 发布准备就绪")
    labels = [x for x in milestones if x]
    for label in labels:
        low = normalise(label)
        if low and (norm == low or (len(norm) >= 2 and norm in low)):
            return Command(name="milestone", arg=label, **base)
    if labels and len(norm) >= 2:
        best = process.extractOne(norm, [normalise(x) for x in labels], scorer=fuzz.WRatio, score_cutoff=80)
        if best is not None:
            return Command(name="milestone", arg=labels[best[2]], **base)
    names = suggest_intents(norm)
    return Command(name="unknown", suggestions=[display(n) for n in names], suggested=names, **base)


def _synonym_hit(norm: str, syns: list[tuple[str, str]]) -> tuple[str, str] | None:
    for phrase, name in syns:
        if len(phrase) > 1 and _contains(norm, phrase):
            return phrase, name
    return None


def suggest_intents(norm: str, n: int = 3) -> list[str]:
    """The `n` intents nearest to an unknown text (rapidfuzz over every word and synonym)."""
    _, syns = _vocabulary()
    listed = [(p, name) for p, name in syns  # intents that need an argument are not offered
              if registry()[name].listed and not registry()[name].example and len(p) > 1]
    scored: dict[str, float] = {}
    for phrase, name in listed:
        score = max(fuzz.ratio(norm, phrase), fuzz.partial_ratio(norm, phrase) * 0.9 if len(phrase) > 1 else 0)
        if not norm.isascii() and not phrase.isascii():
            score += 15 * sum(1 for ch in set(phrase) if ch in norm) / len(set(phrase))
        scored[name] = max(scored.get(name, 0.0), score)
    ranked = sorted(scored, key=lambda k: -scored[k])
    return [k for k in ranked if k != "help"][:n]


def suggest(norm: str, n: int = 3) -> list[str]:
    """Closest commands to an unknown text ("staus" → "状态 / status")."""
    return [display(x) for x in suggest_intents(norm, n)]


# Kept for callers that read the words directly: intent name -> words (display zh, en first).
class _Aliases(dict):
    def __missing__(self, key: str) -> tuple[str, ...]:
        it = intent(key)
        return (it.zh, it.en) + it.words + it.synonyms


ALIASES: dict[str, tuple[str, ...]] = _Aliases()

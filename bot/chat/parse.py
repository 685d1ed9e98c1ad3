"""Understand what people type after @-mentioning the bot: one `Command` (zh or en, forgiving).

The words come from the command registry (`gtm.bot.chat.intents.INTENTS`: one entry per command —
its display words, synonyms, help text and view function); adding a command means adding one
entry there, nothing here.

How a sentence is read (`parse`):
1. Normalised for matching only (`gtm.bot.chat.text.normalise`): `@_user_N` placeholders removed,
   full-width folded (NFKC: `？`→`?`, `Ｍ３`→`M3`), lower-cased, trailing punctuation dropped. The
   text as typed (placeholders removed) is kept in `Command.original` and is what the answer echoes.
2. A command word at the start takes the rest as its argument ("状态 星河" → status of 星河).
3. Otherwise synonyms are looked for anywhere in the sentence ("我有哪些任务", "what's overdue",
   "本周周报"); the longest hit wins, so 本周周报 is the report and not "due this week".
4. Milestone codes (M3) and task IDs (T-301) are found anywhere (`text.MILESTONE_CODE`,
   `text.TASK_ID`); "M3进度怎么样" is M3. A plan update ("T-301 80%") goes to the update intent.
5. "本周" / "下周" (this week / next week) filter the due-soon answer.
0. Before all this, a project named anywhere (the asker's project names, when the caller passes
   them) is taken out of the text into `Command.project`, so its name cannot pass for a command
   word ("逾期 营销活动执行进度" is overdue of that project, not progress).
6. Milestone names are matched fuzzily (rapidfuzz) when the caller passes them.
7. Nothing matched: `unknown`, with the 3 nearest intents (shown as buttons).
"""
from __future__ import annotations

import re
from collections.abc import Iterable

from rapidfuzz import fuzz, process

from gtm.bot.chat.command import Command, Intent, When
from gtm.bot.chat.intents import display, intent, registry
from gtm.bot.chat.text import (
    MILESTONE_CODE,
    MILESTONE_ONLY,
    as_typed,
    milestone_code,
    normalise,
    task_ids,
)
from gtm.bot.chat.update_parse import is_update

_WHEN = (("下周", "next_week"), ("next week", "next_week"), ("本周", "this_week"), ("这周", "this_week"),
         ("this week", "this_week"))
Vocabulary = tuple[list[tuple[str, str]], list[tuple[str, str]]]
_vocabulary_cache: dict[tuple[int, ...], Vocabulary] = {}


def _vocabulary() -> Vocabulary:
    """(command words, synonyms) as (normalised phrase, intent name), longest first; rebuilt when
    the registry's entries change (`intents.register`)."""
    entries: list[Intent] = list(registry().values())
    key = tuple(id(it) for it in entries)
    cached = _vocabulary_cache.get(key)
    if cached is not None:
        return cached
    words = [(w, it.name) for it in entries for w in it.all_words() if w]
    syns = [(normalise(s), it.name) for it in entries for s in (it.all_words() + it.synonyms) if s]
    words.sort(key=lambda p: -len(p[0]))
    syns.sort(key=lambda p: -len(p[0]))
    _vocabulary_cache.clear()
    _vocabulary_cache[key] = (words, syns)
    return words, syns


def _find(norm: str, phrase: str) -> int:
    """Where `phrase` starts in `norm` (-1: not there); a Latin phrase only as a whole word."""
    if not phrase.isascii():
        return norm.find(phrase)
    m = re.search(r"(?<![a-z0-9])" + re.escape(phrase) + r"(?![a-z0-9])", norm)
    return m.start() if m else -1


def _contains(norm: str, phrase: str) -> bool:
    return _find(norm, phrase) >= 0


def _when(norm: str) -> When:
    for phrase, when in _WHEN:
        if _contains(norm, phrase):
            return when  # type: ignore[return-value]
    return ""


def _named_project(norm: str, projects: Iterable[str]) -> tuple[str, str]:
    """(the project named in `norm`, `norm` without it): the longest name found, a Latin name as a
    whole word; ("", norm) when none is. Taken out before the words are read, so a name holding a
    command word ("营销活动执行进度": 进度) does not decide the command."""
    found, low, at = "", "", -1
    for name in projects:
        phrase = normalise(name)
        if len(phrase) >= 2 and len(phrase) > len(low) and (where := _find(norm, phrase)) >= 0:
            found, low, at = name, phrase, where
    if not found:
        return "", norm
    return found, normalise(norm[:at] + " " + norm[at + len(low):])


def parse(text: str, milestones: Iterable[str] = (), projects: Iterable[str] = ()) -> Command:
    """The command in `text`. `milestones` (codes or "M3 名称" labels) lets names match;
    `projects` (the asker's project names) lets a sentence name its project anywhere
    ("逾期 营销活动执行进度", "销售项目管理 状态"): `Command.project`. A project named alone is
    asked for its status."""
    project, norm = _named_project(normalise(text), projects)
    base = {"text": norm, "original": as_typed(text), "when": _when(norm), "codes": task_ids(norm),
            "project": project}
    if not norm:
        return Command(name="status" if project else "help", **base)
    m = MILESTONE_ONLY.match(norm)
    if m:
        return Command(name="milestone", arg=milestone_code(m.group(1), m.group(2)), **base)
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
                mm = MILESTONE_ONLY.match(arg)
                arg = milestone_code(mm.group(1), mm.group(2)) if mm else arg
            if arg and _synonym_hit(arg, syns) and name not in ("milestone",):
                break  # "本周周报": the rest is itself a command; decide on the whole sentence
            return Command(name=name, arg=arg, **base)
    # 4. a milestone code anywhere ("M3进度怎么样", "how is m3 going")
    mm = MILESTONE_CODE.search(norm)
    hit = _synonym_hit(norm, syns)
    if mm and (hit is None or intent(hit[1]).name in ("status", "milestone")):
        return Command(name="milestone", arg=milestone_code(mm.group(1), mm.group(2)), **base)
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

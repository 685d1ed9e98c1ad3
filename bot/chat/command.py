"""A command as read from chat text (`Command`) and one entry of the command registry (`Intent`).

`gtm.bot.chat.parse.parse` turns a sentence into a `Command`; `gtm.bot.chat.intents` holds one
`Intent` per command the bot understands — its words, synonyms, help text and view function.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, Field

from gtm.bot.chat.context import AskContext
from gtm.bot.chat.text import normalise

When = Literal["", "this_week", "next_week"]
Answer = tuple[str, BaseModel]  # (template name under bot/cards/templates, view-model)


class Command(BaseModel):
    name: str  # an intent name (see `gtm.bot.chat.intents`) or "unknown"
    arg: str = ""  # project name for status/report…, milestone code or name for milestone
    text: str = ""  # the normalised text
    original: str = ""  # the text as typed (mention placeholders removed): what answers echo
    when: When = ""  # time filter for due-soon answers
    codes: list[str] = Field(default_factory=list)  # task IDs found in the sentence ("T-301")
    project: str = ""  # a project named anywhere in the sentence (its name as registered), taken out of `text`
    suggestions: list[str] = Field(default_factory=list)  # display forms, e.g. "状态"
    suggested: list[str] = Field(default_factory=list)  # intent names of `suggestions`


Handler = Callable[[Command, AskContext], Answer]


@dataclass(frozen=True)
class Intent:
    """One command: words (first zh and en are shown in help), synonyms found anywhere in a
    sentence, help text, and the view function `(Command, AskContext) -> (template, view)`."""

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

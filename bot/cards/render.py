"""Render a view-model through a jinja2 template into Feishu card JSON 2.0 (a dict).

Why templates emit JSON text safely: every `{{ … }}` must end in the `j` filter (JSON encoding);
the environment's `finalize` refuses anything else, so a forgotten filter is an error in tests,
not a broken card in production. User text additionally goes through `md` (markdown escaping:
a task called `<at id=all></at>` renders as text and pings nobody) or `pt` (plain text, clipped).

After rendering, the JSON is parsed back, checked against the card rules of docs/feishu-api.md §7 and
against the 30 KB limit; long lists (`Clip` fields of the view) are cut with "还有 N 项 / and N
more" until the card fits.
"""
from __future__ import annotations

import json
import re
from functools import lru_cache
from importlib import resources
from typing import Any, Generic, Iterator, TypeVar

import jinja2
from markupsafe import Markup
from pydantic import BaseModel

from gtm.bot.catalogue import heading, plural

T = TypeVar("T")

MAX_CARD_BYTES = 30 * 1024  # docs/feishu-api.md §6.1: card bodies ≤ 30 KB
# The card travels as a JSON string inside the request body (quotes get escaped once more);
# keep a margin below the hard limit so the envelope never tips it over.
TARGET_CARD_BYTES = 28 * 1024
MAX_ELEMENTS = 200  # 3P, unconfirmed; we stay under it anyway
MAX_TABLES = 5
MAX_CHARTS = 5

HEADER_TEMPLATES = frozenset({"blue", "wathet", "turquoise", "green", "yellow", "orange", "red",
                              "carmine", "violet", "purple", "indigo", "grey", "default"})
TAG_COLORS = frozenset({"neutral", "blue", "turquoise", "lime", "orange", "violet", "indigo",
                        "wathet", "green", "yellow", "red", "purple", "carmine"})
TABLE_DATA_TYPES = frozenset({"text", "lark_md", "options", "number", "persons", "date", "markdown"})
ELEMENT_ID = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,19}$")
OPEN_ID = re.compile(r"^(ou|on|cli)_[A-Za-z0-9_-]{1,64}$")

# package data, read through importlib.resources (works from a wheel, not only from a checkout)
TEMPLATE_PACKAGE, TEMPLATE_FOLDER = "gtm.bot.cards", "templates"


class CardError(ValueError):
    """A card that Feishu would reject (names the rule broken)."""


class Clip(BaseModel, Generic[T]):
    """A list the renderer may shorten to fit the size limit; `more` counts what was cut."""

    items: list[T] = []
    more: int = 0

    @classmethod
    def of(cls, items: list, cap: int | None = None) -> "Clip":
        items = list(items)
        if cap is not None and len(items) > cap:
            return cls(items=items[:cap], more=len(items) - cap)
        return cls(items=items)

    @property
    def total(self) -> int:
        return len(self.items) + self.more

    def __len__(self) -> int:
        return len(self.items)

    def __iter__(self):  # type: ignore[override]  # templates loop over the items
        return iter(self.items)

    def __bool__(self) -> bool:
        return bool(self.items) or self.more > 0


class Json(Markup):
    """Text already encoded as a JSON value: with macro output, the only thing templates may emit."""


# ---- filters ------------------------------------------------------------------------------
_MD_ESCAPES = {c: f"&#{ord(c)};" for c in "&<>*_~`[]#|\\"}
_MD_RE = re.compile("[" + re.escape("".join(_MD_ESCAPES)) + "]")


def clip_text(value: Any, limit: int = 200) -> str:
    """One line of user text, at most `limit` characters (a 10 KB name must not eat the card)."""
    text = "" if value is None else str(value)
    text = text.replace("\r", " ").replace("\n", " ").replace("\t", " ")
    return text if len(text) <= limit else text[: max(1, limit - 1)] + "…"


def plain(value: Any, limit: int = 200) -> str:
    """User text for plain_text and table text cells: clipped, angle brackets made inert
    (full-width look-alikes), so no client ever reads a tag such as `<at id=all>` in it."""
    return clip_text(value, limit).replace("<", "＜").replace(">", "＞")


def md_escape(value: Any, limit: int = 200) -> str:
    """User text for markdown/lark_md: clipped, then every markup character as an HTML entity."""
    return _MD_RE.sub(lambda m: _MD_ESCAPES[m.group(0)], clip_text(value, limit))


def json_value(value: Any) -> Json:
    if isinstance(value, BaseModel):
        value = value.model_dump(mode="json")
    return Json(json.dumps(value, ensure_ascii=False, default=str))


def mention(open_id: Any) -> str:
    """`<at id=…>` for a well-formed open_id only; anything else renders as escaped text."""
    oid = "" if open_id is None else str(open_id)
    if OPEN_ID.match(oid):
        return f"<at id={oid}></at>"
    return md_escape(oid, 60)


def _finalize(value: Any) -> Any:
    # Json values and macro output (Markup: template text only, `safe` is removed) pass;
    # any other value reaching the output was not JSON-escaped: refuse it.
    if isinstance(value, Markup):
        return value
    raise jinja2.TemplateError(f"template output not JSON-escaped (use |j): {str(value)[:60]!r}")


@lru_cache(maxsize=1)
def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader(TEMPLATE_PACKAGE, TEMPLATE_FOLDER), autoescape=True, finalize=_finalize,
        undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True,
        keep_trailing_newline=False,
    )
    env.filters.pop("safe", None)  # nothing may skip the JSON filter
    env.filters["j"] = json_value
    env.filters["md"] = md_escape
    env.filters["pt"] = plain
    env.filters["at"] = mention
    env.globals["tag_color"] = lambda c: c if c in TAG_COLORS else "neutral"
    env.globals["word"] = heading  # section headings from the catalogue
    env.globals["plural"] = plural  # English counts: plural(3, "item") → "3 items"
    return env


def template_names() -> list[str]:
    folder = resources.files(TEMPLATE_PACKAGE).joinpath(TEMPLATE_FOLDER)
    return sorted(p.name[: -len(".json.j2")] for p in folder.iterdir()
                  if p.name.endswith(".json.j2") and not p.name.startswith("_"))


# ---- measuring and checking ----------------------------------------------------------------
def card_bytes(card: dict) -> int:
    """Size as sent: the card serialised as the message `content` string (UTF-8 bytes)."""
    return len(json.dumps(card, ensure_ascii=False).encode("utf-8"))


def walk_elements(elements: list, depth: int = 0, parent: str = "body") -> Iterator[tuple[dict, int, str]]:
    """Every element with its nesting depth and the tag of its container."""
    for el in elements or []:
        if not isinstance(el, dict):
            continue
        yield el, depth, parent
        tag = el.get("tag", "")
        for key in ("elements", "columns"):
            if isinstance(el.get(key), list) and tag != "table":
                yield from walk_elements(el[key], depth + 1, tag)


def check_card(card: dict) -> None:
    """The card rules of docs/feishu-api.md §7 that our templates could break. Raises CardError."""
    if card.get("schema") != "2.0":
        raise CardError("schema must be 2.0")
    if (card.get("config") or {}).get("update_multi") is not True:
        raise CardError("config.update_multi must be true")
    header = card.get("header") or {}
    if header and header.get("template", "default") not in HEADER_TEMPLATES:
        raise CardError(f"header.template {header.get('template')!r} not allowed")
    for tag in header.get("text_tag_list") or []:
        if tag.get("color") not in TAG_COLORS:
            raise CardError(f"text_tag color {tag.get('color')!r} not allowed")
    elements = (card.get("body") or {}).get("elements")
    if not isinstance(elements, list):
        raise CardError("body.elements missing")
    ids: set[str] = set()
    tables = charts = count = 0
    for el, depth, parent in walk_elements(elements):
        count += 1
        tag = el.get("tag")
        eid = el.get("element_id")
        if eid is not None:
            if not ELEMENT_ID.match(str(eid)) or eid in ids:
                raise CardError(f"bad or duplicate element_id {eid!r}")
            ids.add(eid)
        if tag == "table":
            tables += 1
            if depth != 0:
                raise CardError("table allowed at the root only")
            if not 1 <= int(el.get("page_size", 5)) <= 10:
                raise CardError("table page_size must be 1-10")
            for col in el.get("columns", []):
                if col.get("data_type") not in TABLE_DATA_TYPES:
                    raise CardError(f"table column data_type {col.get('data_type')!r} not allowed")
        elif tag == "chart":
            charts += 1
        elif tag == "form" and parent == "column":
            raise CardError("form cannot sit inside a column")
        if depth > 5:
            raise CardError("nesting deeper than 5 levels")
    if tables > MAX_TABLES:
        raise CardError(f"{tables} tables (max {MAX_TABLES})")
    if charts > MAX_CHARTS:
        raise CardError(f"{charts} charts (max {MAX_CHARTS})")
    if count > MAX_ELEMENTS:
        raise CardError(f"{count} elements (max {MAX_ELEMENTS})")


# ---- rendering -----------------------------------------------------------------------------
def _clips(obj: Any) -> Iterator[Clip]:
    if isinstance(obj, Clip):
        yield obj
        for item in obj.items:
            yield from _clips(item)
    elif isinstance(obj, BaseModel):
        for name in type(obj).model_fields:
            yield from _clips(getattr(obj, name))
    elif isinstance(obj, (list, tuple)):
        for item in obj:
            yield from _clips(item)


def _too_big(card: dict, limit: int) -> bool:
    if card_bytes(card) > limit:
        return True
    return sum(1 for _ in walk_elements(card["body"]["elements"])) > MAX_ELEMENTS


def render_text(name: str, view: BaseModel, locale: str = "zh") -> str:
    """The raw JSON text a template produces (for debugging and golden diffs)."""
    locale = "en" if locale == "en" else "zh"
    tpl = environment().get_template(f"{name}.json.j2")
    return tpl.render(v=view, locale=locale, en=locale == "en",
                      t=lambda zh, en_text="": (en_text or zh) if locale == "en" else zh)


def render_element(name: str, view: BaseModel, locale: str = "zh") -> dict:
    """One card element from the fragment template `templates/_<name>.json.j2` (a piece put into
    a card that was already rendered, e.g. the line replacing a record's buttons after a click)."""
    return _parse(f"_{name}", render_text(f"_{name}", view, locale))


def _parse(name: str, text: str) -> dict:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:  # a template bug, never user data
        raise CardError(f"template {name} produced invalid JSON: {exc}") from exc


def with_i18n(card: Any, other: Any, locale: str = "zh") -> Any:
    """`card` (rendered in `locale`) with every text whose other-language rendering differs given
    as `i18n_content` {"zh_cn": …, "en_us": …}: card JSON 2.0 supports per-text (not whole-card)
    translations, and each reader's client shows its own language. Where the two renderings
    differ in shape (a list cut differently), the card's own text stays as it is."""
    if isinstance(card, dict) and isinstance(other, dict):
        out = {k: (with_i18n(v, other[k], locale) if k in other else v) for k, v in card.items()}
        mine, theirs = card.get("content"), other.get("content")
        if isinstance(mine, str) and isinstance(theirs, str) and mine != theirs and "i18n_content" not in card:
            zh, en = (mine, theirs) if locale != "en" else (theirs, mine)
            out["i18n_content"] = {"zh_cn": zh, "en_us": en}
        return out
    if isinstance(card, list) and isinstance(other, list) and len(card) == len(other):
        return [with_i18n(a, b, locale) for a, b in zip(card, other)]
    return card


def _build(name: str, view: BaseModel, locale: str) -> dict:
    """The card in `locale`, with the other language as `i18n_content` on each text."""
    card = _parse(name, render_text(name, view, locale))
    other = _parse(name, render_text(name, view, "zh" if locale == "en" else "en"))
    return with_i18n(card, other, locale)


def render(name: str, view: BaseModel, locale: str = "zh", *, limit: int = TARGET_CARD_BYTES) -> dict:
    """Render `templates/<name>.json.j2` with `view` in both languages (the project's `locale`
    as `content`, both in `i18n_content`), check it, and cut lists until it fits."""
    locale = "en" if locale == "en" else "zh"
    card = _build(name, view, locale)
    if _too_big(card, limit):
        view = view.model_copy(deep=True)
        for _ in range(200):
            clips = [c for c in _clips(view) if c.items]
            if not clips:
                raise CardError(f"card {name} is {card_bytes(card)} bytes even with every list cut")
            size = card_bytes(card)
            biggest = max(clips, key=lambda c: len(c.items))
            n = len(biggest.items)
            keep = min(n - 1, int(n * min(0.85, limit / size)))
            biggest.more += n - keep
            biggest.items = biggest.items[:keep]
            card = _build(name, view, locale)
            if not _too_big(card, limit):
                break
        else:  # pragma: no cover - 200 rounds always reach zero items first
            raise CardError(f"card {name} could not be cut to size")
    check_card(card)
    return card


def localized(card: Any, lang: str) -> Any:
    """What a reader whose client is in `lang` ("zh_cn", "en_us") sees: each text's
    `i18n_content` for that language, else its `content` (as Feishu clients do)."""
    if isinstance(card, dict):
        out = {k: localized(v, lang) for k, v in card.items() if k != "i18n_content"}
        i18n = card.get("i18n_content")
        if isinstance(i18n, dict) and isinstance(i18n.get(lang), str):
            out["content"] = i18n[lang]
        return out
    if isinstance(card, list):
        return [localized(x, lang) for x in card]
    return card

"""The card checker: one method per element tag of `vocabulary.ELEMENTS` (`el_<tag>`), the shared
checks (attributes, text, @-mentions, behaviours) and the card and header around them. A failure
raises `CardError` with Feishu's sub-code and the path of the offending element.
"""
from __future__ import annotations

import json
import re
from typing import Any, Callable

from gtm.sandbox.cards.vocabulary import (
    ASPECT_RATIOS, AT_RE, BUTTON_SIZES, BUTTON_TYPES, COLOR_THEMES, COLUMN_KEYS, COMMON, CONTAINERS, ELEMENT_ID_RE,
    ELEMENTS, FLEX_MODES, LAYOUT, LOCALES, PERSON_SIZES, PX_RE, ROOT_ONLY, ROW_HEIGHTS, TABLE_TYPES, TEMPLATES,
    TEXT_KEYS, TEXT_TAG_COLORS)
from gtm.sandbox.errors import ApiError


class CardError(Exception):
    """A rejected card: `sub_code` is Feishu's sub-code, `path` names the offending element."""

    def __init__(self, sub_code: int, detail: str, path: str = "") -> None:
        super().__init__(detail)
        self.sub_code, self.detail, self.path = sub_code, detail, path

    def api_error(self) -> ApiError:
        return ApiError(230099, f"Failed to create card content, ext=ErrCode: {self.sub_code}; "
                                f"ErrMsg: {self.detail}; ErrorValue: {self.path}; ", 400)


def _fail(sub: int, detail: str, path: str) -> None:
    raise CardError(sub, detail, path)


class Checker:
    def __init__(self, known_user: Callable[[str], bool], max_elements: int) -> None:
        self.known_user = known_user
        self.max_elements = max_elements
        self.ids: set[str] = set()
        self.count = 0
        self.tables = 0
        self.charts = 0

    # -- helpers --------------------------------------------------------------------------
    def keys(self, obj: dict, allowed: set[str], path: str) -> None:
        extra = sorted(set(obj) - allowed)
        if extra:
            _fail(200621, f"unknown attribute {extra[0]!r}", path)

    def text(self, obj: Any, path: str, plain_only: bool = False) -> None:
        if not isinstance(obj, dict):
            _fail(200621, "text must be an object", path)
        self.keys(obj, TEXT_KEYS, path)
        allowed = {"plain_text"} if plain_only else {"plain_text", "lark_md"}
        if obj.get("tag") not in allowed:
            _fail(200621, f"text tag must be one of {sorted(allowed)}", path)
        if not isinstance(obj.get("content", ""), str):
            _fail(200621, "text content must be a string", path)
        self.i18n(obj, path)
        if obj.get("tag") == "lark_md":
            self.ats(obj.get("content", ""), path)

    def i18n(self, obj: dict, path: str) -> None:
        if "i18n_content" not in obj:
            return
        tr = obj["i18n_content"]
        if not isinstance(tr, dict) or not tr:
            _fail(200621, "i18n_content must be an object of language → text", path)
        for lang, text in tr.items():
            if lang not in LOCALES:
                _fail(200621, f"i18n_content: unknown language {lang!r}", path)
            if not isinstance(text, str):
                _fail(200621, f"i18n_content.{lang} must be a string", path)
            self.ats(text, path)

    def ats(self, content: str, path: str) -> None:
        for kind, value in AT_RE.findall(content or ""):
            if kind.lower() == "email":
                continue
            for uid in value.split(","):
                if uid != "all" and not self.known_user(uid):
                    _fail(100290, f"invalid at user id {uid}", path)

    def behaviors(self, items: Any, path: str) -> None:
        if not isinstance(items, list):
            _fail(200621, "behaviors must be a list", path)
        for i, b in enumerate(items):
            p = f"{path}.behaviors[{i}]"
            if not isinstance(b, dict):
                _fail(200621, "behavior must be an object", p)
            if b.get("type") == "callback":
                self.keys(b, {"type", "value"}, p)
                if not isinstance(b.get("value"), (dict, str)):
                    _fail(200621, "callback value must be an object", p)
            elif b.get("type") == "open_url":
                self.keys(b, {"type", "default_url", "android_url", "ios_url", "pc_url"}, p)
            elif b.get("type") == "form_action":
                self.keys(b, {"type", "behavior"}, p)
            else:
                _fail(200621, f"unknown behavior type {b.get('type')!r}", p)

    # -- elements -------------------------------------------------------------------------
    def elements(self, items: Any, path: str, depth: int, inside: str = "") -> None:
        if not isinstance(items, list):
            _fail(200621, "elements must be a list", path)
        for i, el in enumerate(items):
            self.element(el, f"{path}[{i}]", depth, inside)

    def element(self, el: Any, path: str, depth: int, inside: str) -> None:
        if not isinstance(el, dict) or not isinstance(el.get("tag"), str):
            _fail(200621, "element must be an object with a tag", path)
        tag = el["tag"]
        path = f"{path}<{tag}>"
        if tag not in ELEMENTS:
            _fail(200621, f"unsupported element tag {tag!r}", path)
        self.keys(el, COMMON | ELEMENTS[tag], path)
        self.count += 1
        if self.count > self.max_elements:
            _fail(200621, f"a card holds at most {self.max_elements} elements", path)
        if "element_id" in el:
            eid = el["element_id"]
            if not isinstance(eid, str) or not ELEMENT_ID_RE.match(eid):
                _fail(200621, "element_id: a letter then letters/digits/_, at most 20 characters", path)
            if eid in self.ids:
                _fail(200621, f"duplicate element_id {eid!r}", path)
            self.ids.add(eid)
        if tag in ROOT_ONLY and depth > 0:
            _fail(200621, f"{tag} may only sit at the root of body.elements", path)
        if tag in CONTAINERS and depth >= 5:
            _fail(200621, "containers nest at most 5 levels", path)
        getattr(self, f"el_{tag}")(el, path, depth, inside)

    def el_markdown(self, el: dict, path: str, depth: int, inside: str) -> None:
        if not isinstance(el.get("content"), str):
            _fail(200621, "markdown content must be a string", path)
        self.ats(el["content"], path)
        self.i18n(el, path)

    def el_div(self, el: dict, path: str, depth: int, inside: str) -> None:
        if "text" in el:
            self.text(el["text"], path + ".text")
        for i, f in enumerate(el.get("fields") or []):
            if not isinstance(f, dict):
                _fail(200621, "div field must be an object", path)
            self.keys(f, {"is_short", "text"}, f"{path}.fields[{i}]")
            self.text(f.get("text"), f"{path}.fields[{i}].text")

    def el_hr(self, el: dict, path: str, depth: int, inside: str) -> None:
        return None

    def el_column_set(self, el: dict, path: str, depth: int, inside: str) -> None:
        if "flex_mode" in el and el["flex_mode"] not in FLEX_MODES:
            _fail(200621, f"flex_mode must be one of {sorted(FLEX_MODES)}", path)
        cols = el.get("columns", [])
        if not isinstance(cols, list):
            _fail(200621, "columns must be a list", path)
        for i, col in enumerate(cols):
            p = f"{path}.columns[{i}]"
            if not isinstance(col, dict) or col.get("tag") != "column":
                _fail(200621, "column_set.columns holds column elements", p)
            self.keys(col, COLUMN_KEYS, p)
            width = col.get("width", "auto")
            if width not in ("auto", "weighted") and not (isinstance(width, str) and PX_RE.match(width)):
                _fail(200621, "column width must be auto, weighted or [16,600]px", p)
            if "weight" in col and (not isinstance(col["weight"], int) or not 1 <= col["weight"] <= 5):
                _fail(200621, "column weight must be an integer 1-5", p)
            self.elements(col.get("elements", []), p + ".elements", depth + 1, inside or "column")

    def el_collapsible_panel(self, el: dict, path: str, depth: int, inside: str) -> None:
        header = el.get("header")
        if header is not None:
            if not isinstance(header, dict):
                _fail(200621, "panel header must be an object", path)
            self.keys(header, {"title", "background_color", "vertical_align", "padding", "position",
                               "width", "icon", "icon_position", "icon_expanded_angle"}, path + ".header")
            if "title" in header:
                self.text(header["title"], path + ".header.title")
        self.elements(el.get("elements", []), path + ".elements", depth + 1, inside or "panel")

    def el_form(self, el: dict, path: str, depth: int, inside: str) -> None:
        if not isinstance(el.get("name"), str) or not el["name"]:
            _fail(200621, "form needs a name", path)
        self.elements(el.get("elements", []), path + ".elements", depth + 1, "form")

    def _named_in_form(self, el: dict, path: str, inside: str) -> None:
        if inside == "form" and not el.get("name"):
            _fail(200621, f"{el['tag']} inside a form needs a name", path)

    def el_date_picker(self, el: dict, path: str, depth: int, inside: str) -> None:
        self._named_in_form(el, path, inside)
        if "initial_date" in el and not re.match(r"^\d{4}-\d{2}-\d{2}$", str(el["initial_date"])):
            _fail(200621, "initial_date must be YYYY-MM-DD", path)
        if "placeholder" in el:
            self.text(el["placeholder"], path + ".placeholder", plain_only=True)
        if "behaviors" in el:
            self.behaviors(el["behaviors"], path)

    def el_input(self, el: dict, path: str, depth: int, inside: str) -> None:
        self._named_in_form(el, path, inside)
        for key in ("placeholder", "label"):
            if key in el:
                self.text(el[key], f"{path}.{key}", plain_only=True)
        if "behaviors" in el:
            self.behaviors(el["behaviors"], path)

    def el_button(self, el: dict, path: str, depth: int, inside: str) -> None:
        if "text" not in el:
            _fail(200621, "button needs text", path)
        self.text(el["text"], path + ".text")
        if "type" in el and el["type"] not in BUTTON_TYPES:
            _fail(200621, f"button type must be one of {sorted(BUTTON_TYPES)}", path)
        if "size" in el and el["size"] not in BUTTON_SIZES:
            _fail(200621, f"button size must be one of {sorted(BUTTON_SIZES)}", path)
        width = el.get("width", "default")
        if width not in ("default", "fill") and not (isinstance(width, str) and PX_RE.match(width)
                                                     and int(width[:-2]) >= 100):
            _fail(200621, "button width must be default, fill or [100,∞)px", path)
        if "form_action_type" in el:
            if inside != "form":
                _fail(200621, "form_action_type is only allowed inside a form", path)
            if el["form_action_type"] not in ("submit", "reset"):
                _fail(200621, "form_action_type must be submit or reset", path)
            if not el.get("name"):
                _fail(200621, "a form button needs a name", path)
        if "behaviors" in el:
            self.behaviors(el["behaviors"], path)

    def el_person(self, el: dict, path: str, depth: int, inside: str) -> None:
        uid = el.get("user_id")
        if not isinstance(uid, str) or not self.known_user(uid):
            _fail(100290, f"invalid person user id {uid}", path)
        if "size" in el and el["size"] not in PERSON_SIZES:
            _fail(200621, "person size must be extra_small/small/medium/large", path)

    def el_person_list(self, el: dict, path: str, depth: int, inside: str) -> None:
        persons = el.get("persons")
        if not isinstance(persons, list):
            _fail(200621, "person_list.persons must be a list", path)
        for i, p in enumerate(persons):
            if not isinstance(p, dict) or set(p) - {"id"}:
                _fail(200621, "person_list.persons items are {\"id\": open_id}", f"{path}.persons[{i}]")
            if not self.known_user(str(p.get("id"))) and not el.get("drop_invalid_user_id"):
                _fail(100290, f"invalid person user id {p.get('id')}", f"{path}.persons[{i}]")

    def el_chart(self, el: dict, path: str, depth: int, inside: str) -> None:
        self.charts += 1
        if self.charts > 5:
            _fail(200550, "at most 5 charts per card", path)
        if "aspect_ratio" in el and el["aspect_ratio"] not in ASPECT_RATIOS:
            _fail(200550, f"aspect_ratio must be one of {sorted(ASPECT_RATIOS)}", path)
        if "color_theme" in el and el["color_theme"] not in COLOR_THEMES:
            _fail(200550, f"color_theme must be one of {sorted(COLOR_THEMES)}", path)
        if "height" in el:
            h = el["height"]
            m = PX_RE.match(h) if isinstance(h, str) else None
            if h != "auto" and not (m and 1 <= int(m.group(1)) <= 999):
                _fail(200550, "height must be auto or [1,999]px", path)
        spec = el.get("chart_spec")
        if not isinstance(spec, dict) or not isinstance(spec.get("type"), str):
            _fail(200550, "chart_spec must be a VChart spec object with a type", path)
        data = spec.get("data")
        if isinstance(data, dict):
            data = [data]
        if not isinstance(data, list) or not data or not all(isinstance(d, dict) and isinstance(d.get("values"), list)
                                                              for d in data):
            _fail(200550, "chart_spec.data must hold values lists", path)
        if "function" in json.dumps(spec) and "=>" in json.dumps(spec):
            _fail(200550, "chart_spec may not contain JavaScript", path)

    def el_table(self, el: dict, path: str, depth: int, inside: str) -> None:
        self.tables += 1
        if self.tables > 5:
            _fail(200621, "at most 5 tables per card", path)
        ps = el.get("page_size", 5)
        if not isinstance(ps, int) or not 1 <= ps <= 10:
            _fail(200621, "page_size must be 1-10", path)
        rh = el.get("row_height", "low")
        if rh not in ROW_HEIGHTS and not (isinstance(rh, str) and PX_RE.match(rh) and 32 <= int(rh[:-2]) <= 124):
            _fail(200621, "row_height must be low/middle/high/auto or [32,124]px", path)
        cols = el.get("columns")
        if not isinstance(cols, list) or not cols or len(cols) > 50:
            _fail(200621, "table needs 1-50 columns", path)
        types: dict[str, str] = {}
        for i, c in enumerate(cols):
            p = f"{path}.columns[{i}]"
            if not isinstance(c, dict):
                _fail(200621, "column must be an object", p)
            self.keys(c, {"name", "display_name", "data_type", "width", "horizontal_align", "vertical_align",
                          "format", "date_format"}, p)
            if not isinstance(c.get("name"), str) or not c["name"]:
                _fail(200621, "table column needs a name", p)
            if c.get("data_type") not in TABLE_TYPES:
                _fail(200621, f"data_type must be one of {sorted(TABLE_TYPES)}", p)
            if "format" in c:
                f = c["format"]
                if c["data_type"] != "number" or not isinstance(f, dict) or set(f) - {"symbol", "precision", "separator"}:
                    _fail(200621, "format is {symbol, precision, separator} on number columns", p)
                if "precision" in f and not (isinstance(f["precision"], int) and 0 <= f["precision"] <= 10):
                    _fail(200621, "format.precision must be 0-10", p)
            types[c["name"]] = c["data_type"]
        rows = el.get("rows", [])
        if not isinstance(rows, list):
            _fail(200914, "rows must be a list", path)
        for r, row in enumerate(rows):
            p = f"{path}.rows[{r}]"
            if not isinstance(row, dict):
                _fail(200914, "row must be an object", p)
            unknown = sorted(set(row) - set(types))
            if unknown:
                _fail(200914, f"row key {unknown[0]!r} is not a column", p)
            for name, value in row.items():
                self.cell(types[name], value, f"{p}.{name}")

    def cell(self, dtype: str, value: Any, path: str) -> None:
        if value is None:
            return
        if dtype in ("text", "lark_md", "markdown"):
            if not isinstance(value, str):
                _fail(200914, f"{dtype} cell must be a string", path)
            if dtype != "text":
                self.ats(value, path)
        elif dtype == "number":
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                _fail(200914, "number cell must be a number", path)
        elif dtype == "date":
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                _fail(200914, "date cell must be a ms timestamp", path)
        elif dtype == "options":
            items = value if isinstance(value, list) else [value]
            for o in items:
                if not isinstance(o, dict) or not isinstance(o.get("text"), str) or set(o) - {"text", "color"}:
                    _fail(200914, "options cell items are {text, color}", path)
        elif dtype == "persons":
            ids = value if isinstance(value, list) else [value]
            for uid in ids:
                if not isinstance(uid, str):
                    _fail(200914, "persons cell holds open_id strings", path)
                if not self.known_user(uid):
                    _fail(100290, f"invalid person user id {uid}", path)

    # -- card -----------------------------------------------------------------------------
    def card(self, card: Any) -> None:
        if not isinstance(card, dict):
            _fail(200621, "card must be a JSON object", "")
        self.keys(card, {"schema", "config", "card_link", "header", "body"}, "card")
        if card.get("schema") != "2.0":
            _fail(200621, "schema must be \"2.0\" (only card JSON 2.0 is emulated)", "card.schema")
        cfg = card.get("config", {})
        if not isinstance(cfg, dict):
            _fail(200621, "config must be an object", "card.config")
        self.keys(cfg, {"update_multi", "width_mode", "summary", "streaming_mode", "enable_forward",
                        "locales", "style", "use_custom_translation", "enable_forward_interaction"}, "card.config")
        if "update_multi" in cfg and not isinstance(cfg["update_multi"], bool):
            _fail(200621, "update_multi must be a boolean", "card.config")
        if "width_mode" in cfg and cfg["width_mode"] not in ("compact", "fill", "default"):
            _fail(200621, "width_mode must be compact/fill/default", "card.config")
        if "summary" in cfg and (not isinstance(cfg["summary"], dict) or set(cfg["summary"]) - {"content", "i18n_content"}):
            _fail(200621, "summary is {content}", "card.config.summary")
        if "header" in card:
            self.header(card["header"])
        body = card.get("body")
        if not isinstance(body, dict):
            _fail(200621, "body must be an object with elements", "card.body")
        self.keys(body, {"elements"} | LAYOUT, "card.body")
        self.elements(body.get("elements", []), "body.elements", 0)

    def header(self, h: Any) -> None:
        if not isinstance(h, dict):
            _fail(200621, "header must be an object", "card.header")
        self.keys(h, {"title", "subtitle", "template", "text_tag_list", "icon", "padding", "i18n_text_tag_list"},
                  "card.header")
        if "title" not in h:
            _fail(200621, "header needs a title", "card.header")
        self.text(h["title"], "card.header.title", plain_only=True)
        if "subtitle" in h:
            self.text(h["subtitle"], "card.header.subtitle", plain_only=True)
        if "template" in h and h["template"] not in TEMPLATES:
            _fail(200621, f"header template must be one of {sorted(TEMPLATES)}", "card.header.template")
        tags = h.get("text_tag_list", [])
        if not isinstance(tags, list) or len(tags) > 3:
            _fail(200621, "text_tag_list holds at most 3 tags", "card.header")
        for i, t in enumerate(tags):
            p = f"card.header.text_tag_list[{i}]"
            if not isinstance(t, dict) or t.get("tag") != "text_tag":
                _fail(200621, "text_tag_list items are text_tag objects", p)
            self.keys(t, {"tag", "text", "color", "element_id"}, p)
            self.text(t.get("text"), p + ".text", plain_only=True)
            if "color" in t and t["color"] not in TEXT_TAG_COLORS:
                _fail(200621, "unknown text_tag colour", p)

"""The card JSON 2.0 vocabulary the sandbox accepts (docs/feishu-api.md §7): element tags and
the attributes each may carry, enumerations (colours, sizes, widths), patterns and the locales of
`i18n_content`. Anything not listed here is rejected with 200621 by `checker`.
"""
from __future__ import annotations

import re

TEMPLATES = {"blue", "wathet", "turquoise", "green", "yellow", "orange", "red", "carmine", "violet",
             "purple", "indigo", "grey", "default"}
TEXT_TAG_COLORS = TEMPLATES | {"neutral", "lime"}
TABLE_TYPES = {"text", "lark_md", "options", "number", "persons", "date", "markdown"}
ASPECT_RATIOS = {"1:1", "2:1", "4:3", "16:9"}
COLOR_THEMES = {"brand", "rainbow", "complementary", "converse", "primary"}
BUTTON_TYPES = {"default", "primary", "danger", "text", "primary_text", "danger_text", "primary_filled",
                "danger_filled", "laser"}
BUTTON_SIZES = {"tiny", "small", "medium", "large"}
FLEX_MODES = {"none", "stretch", "flow", "bisect", "trisect"}
ROW_HEIGHTS = {"low", "middle", "high", "auto"}
PERSON_SIZES = {"extra_small", "small", "medium", "large"}
ELEMENT_ID_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,19}$")
PX_RE = re.compile(r"^(\d+)px$")
AT_RE = re.compile(r"<at\s+(id|ids|email)\s*=\s*[\"']?([^\"'>\s]+)[\"']?\s*>", re.I)

COMMON = {"tag", "element_id", "margin"}
LAYOUT = {"direction", "horizontal_spacing", "vertical_spacing", "horizontal_align", "vertical_align",
          "padding", "background_style"}
ELEMENTS: dict[str, set[str]] = {
    "markdown": {"content", "i18n_content", "text_align", "text_size", "icon", "href"},
    "div": {"text", "fields", "icon", "text_align", "text_size"},
    "hr": set(),
    "column_set": {"columns", "flex_mode", "background_style", "horizontal_spacing", "horizontal_align"},
    "table": {"page_size", "row_height", "row_max_height", "header_style", "columns", "rows",
              "freeze_first_column"},
    "chart": {"aspect_ratio", "height", "color_theme", "chart_spec", "preview"},
    "button": {"text", "type", "size", "width", "icon", "hover_tips", "disabled", "disabled_tips", "confirm",
               "behaviors", "name", "form_action_type"},
    "person": {"user_id", "size", "show_avatar", "show_name", "style"},
    "person_list": {"persons", "show_name", "show_avatar", "size", "lines", "drop_invalid_user_id", "icon"},
    "collapsible_panel": {"expanded", "header", "border", "background_color", "elements"} | LAYOUT,
    "form": {"name", "elements"} | LAYOUT,
    "date_picker": {"name", "required", "disabled", "width", "placeholder", "initial_date", "behaviors"},
    "input": {"name", "required", "disabled", "placeholder", "default_value", "width", "max_length",
              "input_type", "show_icon", "rows", "auto_resize", "max_rows", "label", "label_position",
              "behaviors"},
}
COLUMN_KEYS = {"tag", "element_id", "margin", "width", "weight", "elements"} | LAYOUT
TEXT_KEYS = {"tag", "content", "text_size", "text_align", "text_color", "lines", "i18n_content"}
CONTAINERS = {"column_set", "collapsible_panel", "form"}
# the language keys of `i18n_content` (per-text translations; card JSON 2.0 has no whole-card
# i18n_elements): the client shows its own language, else `content`
LOCALES = {"zh_cn", "en_us", "zh_hk", "zh_tw", "ja_jp", "id_id", "vi_vn", "th_th", "pt_br", "es_es",
           "ko_kr", "de_de", "fr_fr", "it_it", "ru_ru", "ms_my"}
ROOT_ONLY = {"table", "form"}

"""Card JSON 2.0 validation (docs/feishu-api.md §7) for the structure this project sends.

Feishu rejects a bad card with code 230099 and a sub-code inside `msg`; we do the same:
200621 parse/structure error (incl. unknown attributes, which JSON 2.0 rejects), 200550 bad
chart spec, 200914 table rows not matching the columns, 100290 invalid person/at user.

Choices where the doc is silent (UNCONFIRMED, stricter reading):
- only `schema: "2.0"` cards are emulated; a 1.0 card (no schema) is rejected with 200621;
- the 200-element cap (3P) is enforced (`SandboxConfig.card_max_elements`);
- `<at id=ou_x>` in markdown with an unknown user gives 100290 like person elements do;
- the element vocabulary is the subset listed in `vocabulary.ELEMENTS`; anything else is a 200621.

Where to look: `vocabulary` (tags, attributes, enumerations), `checker` (one check per tag, the
card and header around them); this module is what IM calls: `validate_card`, `parse_card`.
"""
from __future__ import annotations

import json
from typing import Any, Callable

from gtm.sandbox.cards.checker import CardError, Checker

__all__ = ["CardError", "parse_card", "update_multi", "validate_card"]


def validate_card(card: Any, known_user: Callable[[str], bool] = lambda _id: True,
                  max_elements: int = 200) -> None:
    """Raise `CardError` when the card is not a card JSON 2.0 Feishu would accept."""
    Checker(known_user, max_elements).card(card)


def parse_card(content: str, known_user: Callable[[str], bool] = lambda _id: True,
               max_elements: int = 200) -> dict:
    """Parse and validate an `interactive` message content string; 230099 ApiError on failure."""
    try:
        card = json.loads(content)
    except ValueError:
        raise CardError(200621, "parse card json err", "content").api_error()
    if isinstance(card, dict) and card.get("type") in ("template", "card") and "data" in card:
        raise CardError(200861, "template/card_id cards are not emulated", "content").api_error()
    try:
        validate_card(card, known_user, max_elements)
    except CardError as err:
        raise err.api_error()
    return card


def update_multi(card: dict) -> bool:
    return bool((card.get("config") or {}).get("update_multi"))

"""Money as people read it: one format for every card, answer, report and notice.

A project's money unit is its `Policy.currency` (an ISO 4217 code, overridable per project),
defaulting to its template's (gtm: USD, the seed's "$"; sales and campaign: CNY). The format is the
unit's symbol, thousands separators, and cents only when there are any: "$560,000", "¥1,234.50".
"""
from __future__ import annotations

SYMBOLS = {"CNY": "¥", "USD": "$", "EUR": "€", "GBP": "£", "JPY": "JP¥", "HKD": "HK$", "SGD": "S$",
           "TWD": "NT$", "KRW": "₩", "AUD": "A$", "CAD": "C$"}

# Three-letter names people use for a currency that are not its ISO 4217 code (or are another's).
ISO_LOOKALIKES = {"RMB": "CNY", "NTD": "TWD", "YEN": "JPY", "UKP": "GBP", "STG": "GBP", "EUD": "EUR"}


def symbol(currency: str) -> str:
    """The sign for an ISO code; an unknown code is shown as the code and a space ("CHF 12")."""
    code = (currency or "CNY").upper()
    return SYMBOLS.get(code, f"{code} ")


def format_money(amount: float, currency: str) -> str:
    """`amount` in `currency`: "$560,000", "¥1,234.50", "-¥12"."""
    cents = round(abs(amount) * 100)
    whole, frac = divmod(cents, 100)
    text = f"{whole:,}" + (f".{frac:02d}" if frac else "")
    return ("-" if amount < 0 and cents else "") + symbol(currency) + text

"""A lookup by task id or milestone code that matches no record: say so, with the closest ids."""
from __future__ import annotations

import difflib
import re

from gtm.bot.cards import views as V
from gtm.bot.catalogue import not_found_phrase
from gtm.bot.chat.scope import message
from gtm.schemas.plan import PlanSnapshot

CLOSEST = 3
_ID = re.compile(r"^(\D*?)(\d+)$")


def known_ids(snapshot: PlanSnapshot) -> dict[str, str]:
    """Every task id and milestone code (upper case) with the record's label."""
    out = {t.task_id.strip().upper(): t.label for t in snapshot.tasks if t.task_id.strip()}
    out.update({m.code.strip().upper(): m.label for m in snapshot.milestones if m.code.strip()})
    return out


def closest_ids(want: str, known: list[str]) -> list[str]:
    """Ids with the same prefix and the nearest number (T-999 → T-303, T-302 …), else spelled alike."""
    m = _ID.match(want)
    if m:
        same = [(abs(int(k.group(2)) - int(m.group(2))), k.group(0)) for k in map(_ID.match, known)
                if k and k.group(1) == m.group(1)]
        if same:
            return [k for _, k in sorted(same)[:CLOSEST]]
    return difflib.get_close_matches(want, known, n=CLOSEST, cutoff=0.6)


def not_found(snapshot: PlanSnapshot, wanted: set[str]) -> V.MessageView | None:
    """The answer when none of `wanted` (upper-case ids) is in the plan; None when one is."""
    known = known_ids(snapshot)
    if not wanted or wanted & known.keys():
        return None
    close = [known[k] for w in sorted(wanted) for k in closest_ids(w, sorted(known))]
    close = list(dict.fromkeys(close))
    w = not_found_phrase(sorted(wanted), bool(close))
    return message("没有找到", "Not found", w.zh, w.en, choices=close)

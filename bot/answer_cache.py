"""Per-project cache of what every @mention answer derives from the plan.

Why: on a 10^4-record plan, decoding the snapshot, indexing the open items and running every
rule cost about a second of CPU; 20 people asking at once, all on one GIL, queued for seconds.
None of it changes between two questions unless the mirror changes (or, for the rules, the clock
moves on), so it is computed once and shared:

- `ProjectAnswers` (one per mirror version): the snapshot, its open-item index
  (`views.ItemIndex`: items by owner, in due order) and the set of people in the plan. Keyed by
  the mirror's table versions (`Mirror.versions()`), which every write to the mirror bumps —
  refreshes, record-change events, our own write-back — so an edit is seen by the next answer.
- its `check()` (`run_checks`: RAG colours, escalation levels, data problems), keyed also by the
  minute of `now`, the policy and the stored escalation states; computed with the first `now`
  of that minute (the rules count days and hours; a minute is below what any answer shows).

One computation at a time per project: whoever finds the entry missing or stale builds it under
the project's lock; the others wait for that result instead of recomputing. Entries are read-only
once published, so readers need no lock. Entries are keyed by the `Mirror` object (weakly): a new
binding (new mirror) or a dropped runtime simply stops using its entry.
"""
from __future__ import annotations

import threading
import weakref
from datetime import datetime
from typing import Any, Callable

from gtm.bot.views import ItemIndex
from gtm.schemas.decisions import CheckResult, EscalationState
from gtm.schemas.plan import PlanSnapshot
from gtm.schemas.settings import Policy

Versions = tuple[tuple[str, int], ...]
States = dict[tuple[str, str], EscalationState]


def version_key(versions: dict[str, int]) -> Versions:
    return tuple(sorted((k, int(v or 0)) for k, v in versions.items()))


def minute_of(now: datetime) -> int:
    """The minute `now` falls in (an instant; equal for every timezone's view of it)."""
    return int(now.timestamp() // 60)


class ProjectAnswers:
    """The derived answer context of one mirror version. Read-only for callers."""

    def __init__(self, versions: Versions, snapshot: PlanSnapshot) -> None:
        self.versions = versions
        self.snapshot = snapshot
        self.index = ItemIndex(snapshot)
        self._people: frozenset[str] | None = None
        self._lock = threading.Lock()  # one check computation at a time
        # (minute, policy json, states, result), replaced as a whole (atomic for readers)
        self._check: tuple[int, str, States, CheckResult] | None = None
        self.check_runs = 0

    def people(self) -> frozenset[str]:
        """open_ids of everyone in the plan (`PlanSnapshot.people()`, which walks every row)."""
        if self._people is None:
            with self._lock:
                if self._people is None:
                    self._people = frozenset(self.snapshot.people())
        return self._people

    def check(self, now: datetime, policy: Policy, states: States,
              run: Callable[..., CheckResult] | None = None) -> CheckResult:
        """`run_checks(snapshot, now, policy, states)`, reused within the same minute as long as
        the policy and the escalation states are the same."""
        minute, pol = minute_of(now), policy.model_dump_json()
        hit = self._check
        if hit is not None and hit[0] == minute and hit[1] == pol and hit[2] == states:
            return hit[3]
        with self._lock:
            hit = self._check
            if hit is not None and hit[0] == minute and hit[1] == pol and hit[2] == states:
                return hit[3]  # computed while we waited
            if run is None:
                from gtm.bot.rules.engine import run_checks as run
            result = run(self.snapshot, now, policy, states)
            self._check = (minute, pol, dict(states), result)
            self.check_runs += 1
            return result


class AnswerCache:
    """`ProjectAnswers` per mirror, rebuilt when the mirror's versions move. Thread-safe."""

    def __init__(self) -> None:
        self._entries: "weakref.WeakKeyDictionary[Any, ProjectAnswers]" = weakref.WeakKeyDictionary()
        self._locks: "weakref.WeakKeyDictionary[Any, threading.Lock]" = weakref.WeakKeyDictionary()
        self._guard = threading.Lock()
        self.stats = {"hits": 0, "builds": 0}

    def _lock_for(self, mirror: Any) -> threading.Lock:
        with self._guard:
            lock = self._locks.get(mirror)
            if lock is None:
                lock = self._locks[mirror] = threading.Lock()
            return lock

    def get(self, mirror: Any, versions: dict[str, int], now: datetime | None = None) -> ProjectAnswers:
        """The entry for `mirror` at `versions` (as just read from the store); built if missing.

        The builder re-reads the versions under the lock, so an entry is never labelled with
        versions newer than its snapshot (at worst older: the next answer rebuilds)."""
        key = version_key(versions)
        hit = self._entries.get(mirror)
        if hit is not None and hit.versions == key:
            self._bump("hits")
            return hit
        with self._lock_for(mirror):
            hit = self._entries.get(mirror)
            if hit is not None and hit.versions == key:
                self._bump("hits")
                return hit  # somebody built it while we waited
            key = version_key(mirror.versions())
            if hit is not None and hit.versions == key:
                self._bump("hits")  # our versions were already superseded by the cached ones
                return hit
            entry = ProjectAnswers(key, mirror.snapshot(now))
            with self._guard:
                self._entries[mirror] = entry
            self._bump("builds")
            return entry

    def peek(self, mirror: Any) -> ProjectAnswers | None:
        return self._entries.get(mirror)

    def clear(self) -> None:
        with self._guard:
            self._entries.clear()

    def _bump(self, key: str) -> None:
        with self._guard:
            self.stats[key] += 1


CACHE = AnswerCache()
"""The process's cache (the dispatcher's workers and `gtm ask` share it)."""

"""Per-project cache of what every @mention answer derives from the plan.

Why: on a 10^4-record plan, decoding the snapshot, indexing the open items and running every
rule cost about a second of CPU; 20 people asking at once, all on one GIL, queued for seconds.
None of it changes between two questions unless the mirror changes (or, for the rules, the clock
moves on), so it is computed once and shared:

- `ProjectAnswers` (one per mirror version): the snapshot, its open-item index
  (`queries.ItemIndex`: items by owner, in due order) and the set of people in the plan. Keyed by
  the mirror's table versions (`Mirror.versions()`), which every write to the mirror bumps —
  refreshes, record-change events, our own write-back.
- its `check()`: the part of `run_checks` an answer shows (RAG colour and reasons, the issues'
  escalation states, data problems, warnings — `answer_digest`; never the notices and cell
  writes, which are most of a check's size on a large plan: the rules run in their digest mode,
  `run_checks(..., digest=True)`, which makes each notice and write and drops it at once), keyed
  also by the minute of `now`, the policy and the stored escalation states.

Copy-on-write: entries are read-only once published and replaced as a whole, so readers take no
lock and never wait for a rebuild:

- the mirror tells the cache when it changed (`Mirror.subscribe`); the thread that changed it (the
  scheduler's refresh, a record-change event, write-back) builds the new entry and swaps it in, so
  the next answer sees the edit;
- a reader that finds the published entry older than the store (another replica changed the
  mirror, or a rebuild is under way) answers from it and leaves the rebuild to the cache's
  background worker;
- when the clock has moved on by at most `STALE_CHECK_MINUTES` and nothing else changed, a reader
  gets the previous minute's rules result while the worker computes the new one (the rules count
  days and hours; a minute is below what any answer shows);
- only the very first answer of a project (nothing published yet; `gtm serve` builds it at start)
  or a changed policy or escalation state (a person acted) computes in the reader.

Entries are keyed by the `Mirror` object (weakly): a new binding (new mirror) or a dropped runtime
simply stops using its entry.
"""
from __future__ import annotations

import logging
import queue
import threading
import weakref
from collections.abc import Callable
from datetime import datetime
from typing import Protocol

from gtm.bot.rules import DIGEST_RECORDS
from gtm.bot.rules.queries import ItemIndex
from gtm.bot.rules.engine import run_checks
from gtm.schemas.decisions import CheckResult, EscalationState, RagStatus
from gtm.schemas.plan import PlanSnapshot
from gtm.schemas.settings import Policy

log = logging.getLogger(__name__)

Versions = tuple[tuple[str, int], ...]
States = dict[tuple[str, str], EscalationState]
RunChecks = Callable[[PlanSnapshot, datetime, Policy, States], CheckResult]
Spawn = Callable[[Callable[[], None]], None]
STALE_CHECK_MINUTES = 2  # how far the clock may have moved on for a reader to get the last result


class CachedMirror(Protocol):
    """What the cache needs of a mirror (`gtm.sync.mirror.Mirror`)."""

    def versions(self) -> dict[str, int]: ...

    def snapshot(self, now: datetime | None = None) -> PlanSnapshot: ...


def version_key(versions: dict[str, int]) -> Versions:
    return tuple(sorted((k, int(v or 0)) for k, v in versions.items()))


def covers(have: Versions, want: Versions) -> bool:
    """Whether an entry at `have` is at least as new as `want` in every table."""
    got = dict(have)
    return all(got.get(k, -1) >= v for k, v in want)


def minute_of(now: datetime) -> int:
    """The minute `now` falls in (an instant; equal for every timezone's view of it)."""
    return int(now.timestamp() // 60)


def answer_digest(result: CheckResult) -> CheckResult:
    """What answers read of a check: the RAG colour and reasons (each with its first
    `DIGEST_RECORDS` records: answers list five, `views.reasons_of`), the escalation states of
    issues (`queries.issue_level`; the tasks' states are the scheduler's business), the schedule
    slips (the report's and status card's 进度影响 lines and their count), problems and warnings. Never the notices and cell writes, which the scheduler's own run keeps. On a
    100,000-item plan this keeps about a tenth of the result."""
    rag = result.rag
    if any(len(r.records) > DIGEST_RECORDS for r in rag.reasons):
        rag = RagStatus.model_construct(color=rag.color, reasons=[
            r if len(r.records) <= DIGEST_RECORDS else r.model_copy(update={"records": r.records[:DIGEST_RECORDS]})
            for r in rag.reasons])
    return CheckResult.model_construct(notices=[], writes=[], rag=rag,
                                       escalations=[st for st in result.escalations if st.table == "issue"],
                                       problems=result.problems, warnings=result.warnings,
                                       slips=result.slips)


def digest_checks(snapshot: PlanSnapshot, now: datetime, policy: Policy, states: States) -> CheckResult:
    """The rules as answers use them: `run_checks` in its digest mode (no notices, no writes, the
    issues' escalation states; everything else identical)."""
    return run_checks(snapshot, now, policy, states, digest=True)


def _run_in_thread(job: Callable[[], None]) -> None:
    threading.Thread(target=job, name="gtm-answer-check", daemon=True).start()


class _Check:
    """One published rules result and the inputs it was computed from."""

    __slots__ = ("minute", "now", "policy_json", "policy", "states", "result")

    def __init__(self, now: datetime, policy: Policy, policy_json: str, states: States,
                 result: CheckResult) -> None:
        self.minute, self.now, self.policy, self.policy_json = minute_of(now), now, policy, policy_json
        self.states, self.result = dict(states), result


class ProjectAnswers:
    """The derived answer context of one mirror version. Read-only for callers."""

    def __init__(self, versions: Versions, snapshot: PlanSnapshot, *, spawn: Spawn | None = None,
                 indexed: bool = True, previous: ProjectAnswers | None = None) -> None:
        self.versions = versions
        self.snapshot = snapshot
        self._index_lock = threading.Lock()
        self._index: ItemIndex | None = None
        if indexed:  # after a small change, the previous entry's index updated (`ItemIndex`)
            prior = previous._index if previous is not None else None
            self._index = ItemIndex(snapshot, (previous.snapshot, prior) if prior is not None else None)
        self._people: frozenset[str] | None = None
        self._lock = threading.Lock()  # one check computation at a time
        self._spawn = spawn or _run_in_thread
        self._check: _Check | None = None  # replaced as a whole (atomic for readers)
        self._refreshing = False
        self.check_runs = 0

    @property
    def index(self) -> ItemIndex:
        """The snapshot's open-item index (`queries.ItemIndex`). Built with the entry, so a rebuild
        never leaves it to a reader; only `gtm serve`'s first entries (`indexed=False`) build it
        right after ready (`snapshots.warm_answers`), or on the first question if that is sooner."""
        return self._index or self.build_index()

    @property
    def indexed(self) -> bool:
        """Whether the open-item index is built yet."""
        return self._index is not None

    def build_index(self) -> ItemIndex:
        """The index, built now if it is not yet (once: concurrent callers wait for one build)."""
        with self._index_lock:
            if self._index is None:
                self._index = ItemIndex(self.snapshot)
            return self._index

    def people(self) -> frozenset[str]:
        """open_ids of everyone in the plan (`PlanSnapshot.people()`, which walks every row)."""
        if self._people is None:
            with self._lock:
                if self._people is None:
                    self._people = frozenset(self.snapshot.people())
        return self._people

    def check(self, now: datetime, policy: Policy, states: States, run: RunChecks | None = None) -> CheckResult:
        """`answer_digest(run_checks(snapshot, now, policy, states))`, reused within the same
        minute as long as the policy and the escalation states are the same; a result up to
        `STALE_CHECK_MINUTES` old is served while the new minute's is computed in the background."""
        minute, pol = minute_of(now), policy.model_dump_json()
        hit = self._check
        if hit is not None and hit.policy_json == pol and hit.states == states:
            if hit.minute == minute:
                return hit.result
            if 0 < minute - hit.minute <= STALE_CHECK_MINUTES:
                self._recompute_later(now, policy, states, run)
                return hit.result
        with self._lock:
            hit = self._check
            if hit is not None and hit.minute == minute and hit.policy_json == pol and hit.states == states:
                return hit.result  # computed while we waited
            return self._compute(now, policy, pol, states, run)

    def _compute(self, now: datetime, policy: Policy, pol: str, states: States, run: RunChecks | None) -> CheckResult:
        result = answer_digest((run or digest_checks)(self.snapshot, now, policy, states))
        self._check = _Check(now, policy, pol, states, result)
        self.check_runs += 1
        return result

    def _recompute_later(self, now: datetime, policy: Policy, states: States, run: RunChecks | None) -> None:
        with self._lock:
            if self._refreshing:
                return
            self._refreshing = True
        pol = policy.model_dump_json()

        def job() -> None:
            try:
                with self._lock:
                    hit = self._check
                    if not (hit is not None and hit.minute >= minute_of(now)):
                        self._compute(now, policy, pol, dict(states), run)
            except Exception:  # noqa: BLE001 - readers keep the previous result; the next one retries
                log.exception("recomputing the answer check failed")
            finally:
                self._refreshing = False

        self._spawn(job)

    def carry_check(self, previous: "ProjectAnswers", run: RunChecks | None = None) -> None:
        """Compute this (new) entry's rules result with the inputs of `previous`'s last one, so
        the first reader after a swap finds it ready. Called by the builder before publishing."""
        hit = previous._check
        if hit is not None:
            with self._lock:
                self._compute(hit.now, hit.policy, hit.policy_json, hit.states, run)


class AnswerCache:
    """`ProjectAnswers` per mirror, swapped copy-on-write when the mirror's versions move. Thread-safe."""

    def __init__(self, build: Callable[[CachedMirror, datetime | None], PlanSnapshot] | None = None) -> None:
        self._entries: "weakref.WeakKeyDictionary[CachedMirror, ProjectAnswers]" = weakref.WeakKeyDictionary()
        self._locks: "weakref.WeakKeyDictionary[CachedMirror, threading.Lock]" = weakref.WeakKeyDictionary()
        self._subscribed: "weakref.WeakSet[CachedMirror]" = weakref.WeakSet()
        self._guard = threading.Lock()
        self._build = build or (lambda mirror, now: mirror.snapshot(now))
        # one background worker runs every rebuild and rules recompute, one at a time: a large
        # plan's rules allocate ~1.6 KB per item while they run, so ten at once would add up
        self._queue: "queue.Queue[Callable[[], None]]" = queue.Queue()
        self._queued: set[int] = set()
        self._worker: threading.Thread | None = None
        self.stats = {"hits": 0, "builds": 0, "stale": 0, "swaps": 0}

    def _lock_for(self, mirror: CachedMirror) -> threading.Lock:
        with self._guard:
            lock = self._locks.get(mirror)
            if lock is None:
                lock = self._locks[mirror] = threading.Lock()
            return lock

    def get(self, mirror: CachedMirror, versions: dict[str, int], now: datetime | None = None, *,
            indexed: bool = True) -> ProjectAnswers:
        """The entry for `mirror` at `versions` (as just read from the store).

        Published entry at least as new: returned. Older: returned too, and the background worker
        rebuilds (the reader never waits for a rebuild). None yet: built here, its open-item index
        too unless `indexed=False` (`gtm serve`'s start-up: the index follows right after ready)."""
        key = version_key(versions)
        hit = self._entries.get(mirror)
        if hit is not None:
            if covers(hit.versions, key):
                self._bump("hits")
                return hit
            self._bump("stale")
            self.rebuild_later(mirror, now)
            return hit
        with self._lock_for(mirror):
            hit = self._entries.get(mirror)
            if hit is not None:
                self._bump("hits")
                return hit  # somebody built it while we waited
            return self._swap(mirror, now, None, indexed=indexed)

    def rebuild(self, mirror: CachedMirror, now: datetime | None = None) -> ProjectAnswers | None:
        """Build the entry for the mirror's current versions and swap it in (the caller's thread).
        Only for a mirror that has an entry: nobody asked about the others."""
        if self._entries.get(mirror) is None:
            return None
        with self._lock_for(mirror):
            old = self._entries.get(mirror)
            if old is not None and covers(old.versions, version_key(mirror.versions())):
                return old
            return self._swap(mirror, now, old)

    def _swap(self, mirror: CachedMirror, now: datetime | None, old: ProjectAnswers | None, *,
              indexed: bool = True) -> ProjectAnswers:
        """Build under the mirror's lock (held by the caller) and publish in one assignment. The
        versions are read before the snapshot, so an entry is never labelled with versions newer
        than its rows (at worst older: the next reader schedules another rebuild)."""
        key = version_key(mirror.versions())
        entry = ProjectAnswers(key, self._build(mirror, now), spawn=self.spawn, indexed=indexed, previous=old)
        if old is not None:
            entry.carry_check(old)
        with self._guard:
            self._entries[mirror] = entry
        self._bump("swaps" if old is not None else "builds")
        self._subscribe(mirror)
        return entry

    def _subscribe(self, mirror: CachedMirror) -> None:
        """Ask the mirror to call us when it changes (the writer's thread then rebuilds)."""
        subscribe = getattr(mirror, "subscribe", None)
        if subscribe is None or mirror in self._subscribed:
            return
        self._subscribed.add(mirror)
        ref = weakref.ref(self)

        def changed(m: CachedMirror) -> None:
            cache = ref()
            if cache is not None:
                cache.rebuild(m)

        subscribe(changed)

    def rebuild_later(self, mirror: CachedMirror, now: datetime | None = None) -> None:
        """Queue a rebuild for the background worker (one pending per mirror)."""
        with self._guard:
            if id(mirror) in self._queued:
                return
            self._queued.add(id(mirror))
        ref = weakref.ref(mirror)

        def job() -> None:
            m = ref()
            if m is not None:
                with self._guard:
                    self._queued.discard(id(m))
                self.rebuild(m, now)

        self.spawn(job)

    def spawn(self, job: Callable[[], None]) -> None:
        """Run `job` on the cache's background worker (after the jobs queued before it)."""
        with self._guard:
            if self._worker is None or not self._worker.is_alive():
                self._worker = threading.Thread(target=self._work, name="gtm-answer-cache", daemon=True)
                self._worker.start()
        self._queue.put(job)

    def _work(self) -> None:
        while True:
            job = self._queue.get()
            try:
                job()
            except Exception:  # noqa: BLE001 - readers keep the published entry; the next one retries
                log.exception("answer cache background job failed")
            finally:
                self._queue.task_done()

    def settle(self) -> None:
        """Wait until the background worker has nothing queued (tests, benchmarks, start-up)."""
        self._queue.join()

    def peek(self, mirror: CachedMirror) -> ProjectAnswers | None:
        return self._entries.get(mirror)

    def clear(self) -> None:
        with self._guard:
            self._entries.clear()

    def _bump(self, key: str) -> None:
        with self._guard:
            self.stats[key] += 1


CACHE = AnswerCache()
"""The process's cache (the dispatcher's workers and `gtm ask` share it)."""

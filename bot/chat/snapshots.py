"""What answers read about each project: its mirrored snapshot (refreshed when stale), the
cached answer context derived from it, and the rules' result.

Hot path: an @mention must be answered in well under the 3 s budget, so the snapshot comes from the
mirror in the store; only when it is older than `max_age` seconds is the mirror refreshed (the
mirror's refresh is incremental, and record-change events keep it fresh between checks). What
answers derive from the snapshot (open-item index, `run_checks`) is cached per project by mirror
version (`gtm.bot.chat.answer_cache`), and the rules run only for commands that show their results.
"""
from __future__ import annotations

import logging
import threading
from datetime import datetime

from sqlalchemy import select

from gtm.bot.chat.answer_cache import CACHE, ProjectAnswers
from gtm.bot.chat.context import ProjectData
from gtm.bot.runtime import ProjectRuntime, Runtime
from gtm.schemas.decisions import CheckResult
from gtm.schemas.plan import LIST_BY_TABLE
from gtm.sync.mirror import Mirror
from gtm.sync.store.base import Store
from gtm.sync.store.ledger import get_states
from gtm.sync.store.mirror import MirrorTable

log = logging.getLogger(__name__)

DEFAULT_MAX_AGE = 120.0
LIST_ATTRS = tuple(LIST_BY_TABLE.values())
_refresh_locks: dict[str, threading.Lock] = {}
_locks_guard = threading.Lock()

# (ProjectData, the project, its cached answers): one project of the asker, its check pending
AskerProject = tuple[ProjectData, ProjectRuntime, ProjectAnswers]


def _lock_for(slug: str) -> threading.Lock:
    with _locks_guard:
        return _refresh_locks.setdefault(slug, threading.Lock())


def refresh_if_stale(runtime: Runtime, project: ProjectRuntime, now: datetime,
                     max_age: float = DEFAULT_MAX_AGE) -> dict[str, int]:
    """Refresh the project's mirror only when older than `max_age` seconds (never read: always);
    returns its `Mirror.versions()`."""
    mirror = runtime.mirror(project)
    versions, age = _mirror_state(runtime.store, mirror, now)
    if age > max_age:
        with _lock_for(project.slug):
            versions, age = _mirror_state(runtime.store, mirror, now)
            if age > max_age:  # nobody refreshed meanwhile
                mirror.refresh(now)
                versions = mirror.versions()
    return versions


def _mirror_state(store: Store, mirror: Mirror, now: datetime) -> tuple[dict[str, int], float]:
    """(`Mirror.versions()`, seconds since its least recently refreshed table (inf: never)) in one
    small query."""
    with store.session() as s:
        rows = s.execute(select(MirrorTable.table_key, MirrorTable.version, MirrorTable.last_refresh_at)
                         .where(MirrorTable.project == mirror.slug)).all()
    versions = {k: v for k, v, _ in rows}
    stamps = {k: at for k, _, at in rows}
    keys = list(mirror.table_keys)
    if not keys or any(stamps.get(k) is None for k in keys):
        return versions, float("inf")
    return versions, max((now - stamps[k]).total_seconds() for k in keys)


def answers_for(runtime: Runtime, project: ProjectRuntime, now: datetime,
                max_age: float = DEFAULT_MAX_AGE) -> ProjectAnswers:
    """The project's cached answer context (`answer_cache.ProjectAnswers`): the mirrored
    snapshot (refreshed first only when older than `max_age` seconds) and what is derived from it."""
    return CACHE.get(runtime.mirror(project), refresh_if_stale(runtime, project, now, max_age), now)


def warm_answers(runtime: Runtime, now: datetime, *, index: bool = True, check: bool = True) -> int:
    """Load every active project's answer context from the store (never from Feishu): decode the
    mirror, index its open items (`index`) and run the rules once (`check`), so the first @mention
    after start-up finds it ready. `gtm serve` loads the mirrors before it says ready and the rest
    right after. Returns the records loaded. A project that fails is logged and left to its first
    question."""
    total = 0
    for project in runtime.projects():
        try:
            mirror = runtime.mirror(project)
            answers = CACHE.get(mirror, mirror.versions(), now, indexed=index)
            if index:
                answers.build_index()  # an entry built before (without) gets it now
            if check:
                cached_check(runtime, project, answers, now)
            snap = answers.snapshot
            total += sum(len(getattr(snap, attr)) for attr in LIST_ATTRS) + (1 if snap.project.record_id else 0)
        except Exception as exc:  # noqa: BLE001 - one broken project must not stop the service
            log.warning("project %s: answers not preloaded: %s", project.slug, exc)
    return total


def cached_check(runtime: Runtime, project: ProjectRuntime, answers: ProjectAnswers, now: datetime) -> CheckResult:
    """`run_checks` through the cache: rules run once per minute, policy and ladder state."""
    with runtime.store.session() as s:
        states = get_states(s, project.slug)
    return answers.check(now, project.policy, states)


def data_of(project: ProjectRuntime, answers: ProjectAnswers) -> ProjectData:
    """`ProjectData` from the project's cached answers, its check pending (`cached_check`)."""
    snap = answers.snapshot
    return ProjectData(name=project.name or snap.project.name or project.slug, snapshot=snap, check=None,
                       slug=project.slug, index=answers.index, policy=project.policy)


def projects_of(runtime: Runtime, open_id: str, now: datetime, max_age: float) -> list[AskerProject]:
    """(ProjectData, project, ProjectAnswers) of every active project the person belongs to."""
    found = []
    for project in runtime.projects():
        try:
            answers = answers_for(runtime, project, now, max_age)
            if not (open_id and open_id in answers.people()):
                continue
            data = data_of(project, answers)
        except Exception as exc:  # noqa: BLE001 - one broken project must not hide the others
            log.warning("project %s unavailable for %s: %s", project.slug, open_id, exc)
            continue
        found.append((data, project, answers))
    return found

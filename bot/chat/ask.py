"""Answering a question: context building shared by the chat bot and `gtm ask`, plus a terminal view.

`answer_incoming` (dispatcher) and `ask` (CLI) build the same `AskContext` — the project's mirror
snapshot, a `run_checks` result for RAG and escalation levels, the asker — and call
`gtm.bot.chat.answers.answer`, so the terminal prints exactly what the chat would show.

Hot path: an @mention must be answered in well under the 3 s budget, so the snapshot comes from the
mirror in the store; only when it is older than `max_age` seconds is the mirror refreshed (the
mirror's refresh is incremental, and record-change events keep it fresh between checks). What
answers derive from the snapshot (open-item index, `run_checks`) is cached per project by mirror
version (`gtm.bot.chat.answer_cache`), and the rules run only for commands that show their results.
"""
from __future__ import annotations

import logging
import threading
from datetime import datetime, timezone
from typing import Any, Iterable

from gtm.schemas.plan import LIST_BY_TABLE, PlanSnapshot

log = logging.getLogger(__name__)

DEFAULT_MAX_AGE = 120.0
LIST_ATTRS = tuple(LIST_BY_TABLE.values())
_refresh_locks: dict[str, threading.Lock] = {}
_locks_guard = threading.Lock()


# -- snapshots and checks -----------------------------------------------------------------------
def _lock_for(slug: str) -> threading.Lock:
    with _locks_guard:
        return _refresh_locks.setdefault(slug, threading.Lock())


def snapshot_for(runtime: Any, project: Any, now: datetime, max_age: float = DEFAULT_MAX_AGE) -> PlanSnapshot:
    """The project's mirrored snapshot, refreshed first only when older than `max_age` seconds."""
    mirror = runtime.mirror(project)
    if mirror_age(runtime.store, mirror, now) > max_age:
        with _lock_for(project.slug):
            if mirror_age(runtime.store, mirror, now) > max_age:  # nobody refreshed meanwhile
                mirror.refresh(now)
    return mirror.snapshot(now)


def mirror_age(store: Any, mirror: Any, now: datetime) -> float:
    """Seconds since the least recently refreshed table of the mirror (inf: never refreshed)."""
    from sqlalchemy import select

    from gtm.sync.store.mirror import MirrorTable

    with store.session() as s:
        stamps = dict(s.execute(select(MirrorTable.table_key, MirrorTable.last_refresh_at)
                                .where(MirrorTable.project == mirror.slug)).all())
    keys = list(getattr(mirror, "table_keys", stamps))
    if not keys or any(stamps.get(k) is None for k in keys):
        return float("inf")
    return max((now - stamps[k]).total_seconds() for k in keys)


def check_for(runtime: Any, project: Any, snapshot: PlanSnapshot, now: datetime):
    """`run_checks` for RAG colours and escalation levels (pure; the ladder states from the store)."""
    from gtm.bot.rules.engine import run_checks
    from gtm.sync.store.ledger import get_states

    with runtime.store.session() as s:
        states = get_states(s, project.slug)
    return run_checks(snapshot, now, project.policy, states)


def needs_check(name: str) -> bool:
    """Whether the answer to this command reads the check result (RAG, escalation levels, check
    problems); the others skip `run_checks` entirely (`Intent.needs_check`)."""
    from gtm.bot.chat.parse import registry

    it = registry().get(name)
    return it.needs_check if it is not None else name != "unknown"


def _mirror_state(store: Any, mirror: Any, now: datetime) -> tuple[dict[str, int], float]:
    """(`Mirror.versions()`, `mirror_age`) in one small query."""
    from sqlalchemy import select

    from gtm.sync.store.mirror import MirrorTable

    with store.session() as s:
        rows = s.execute(select(MirrorTable.table_key, MirrorTable.version, MirrorTable.last_refresh_at)
                         .where(MirrorTable.project == mirror.slug)).all()
    versions = {k: v for k, v, _ in rows}
    stamps = {k: at for k, _, at in rows}
    keys = list(getattr(mirror, "table_keys", stamps))
    if not keys or any(stamps.get(k) is None for k in keys):
        return versions, float("inf")
    return versions, max((now - stamps[k]).total_seconds() for k in keys)


def answers_for(runtime: Any, project: Any, now: datetime, max_age: float = DEFAULT_MAX_AGE):
    """The project's cached answer context (`answer_cache.ProjectAnswers`): the mirrored
    snapshot (refreshed first only when older than `max_age` seconds) and what is derived from it."""
    from gtm.bot.chat.answer_cache import CACHE

    mirror = runtime.mirror(project)
    versions, age = _mirror_state(runtime.store, mirror, now)
    if age > max_age:
        with _lock_for(project.slug):
            versions, age = _mirror_state(runtime.store, mirror, now)
            if age > max_age:  # nobody refreshed meanwhile
                mirror.refresh(now)
                versions = mirror.versions()
    return CACHE.get(mirror, versions, now)


def warm_answers(runtime: Any, now: datetime, *, with_check: bool = True) -> int:
    """Load every active project's answer context from the store (never from Feishu): decode the
    mirror, index it and (`with_check`) run the rules once, so the first @mention after start-up
    finds it ready. Returns the records loaded. A project that fails is logged and left to its
    first question."""
    from gtm.bot.chat.answer_cache import CACHE

    total = 0
    for project in runtime.projects():
        try:
            mirror = runtime.mirror(project)
            answers = CACHE.get(mirror, mirror.versions(), now)
            if with_check:
                cached_check(runtime, project, answers, now)
            snap = answers.snapshot
            total += sum(len(getattr(snap, attr)) for attr in LIST_ATTRS) + (1 if snap.project.record_id else 0)
        except Exception as exc:  # noqa: BLE001 - one broken project must not stop the service
            log.warning("project %s: answers not preloaded: %s", project.slug, exc)
    return total


def cached_check(runtime: Any, project: Any, answers: Any, now: datetime):
    """`check_for` through the cache: rules run once per minute, policy and ladder state."""
    from gtm.sync.store.ledger import get_states

    with runtime.store.session() as s:
        states = get_states(s, project.slug)
    return answers.check(now, project.policy, states)


def project_data(runtime: Any, project: Any, now: datetime, max_age: float = DEFAULT_MAX_AGE, *,
                 with_check: bool = True):
    """`ProjectData` of one project (`with_check=False`: without the rules' result)."""
    return _project_data(runtime, project, answers_for(runtime, project, now, max_age), now, with_check)


def _project_data(runtime: Any, project: Any, answers: Any, now: datetime, with_check: bool):
    from gtm.bot.chat.answers import ProjectData

    snap = answers.snapshot
    return ProjectData(name=project.name or snap.project.name or project.slug, snapshot=snap,
                       check=cached_check(runtime, project, answers, now) if with_check else None,
                       slug=project.slug, index=answers.index, policy=project.policy)


def member_of(snapshot: PlanSnapshot, open_id: str) -> bool:
    """Whether a person appears anywhere in the plan (PM, management, team, owners, RACI)."""
    return bool(open_id) and open_id in snapshot.people()


def asker_projects(runtime: Any, open_id: str, now: datetime, max_age: float = DEFAULT_MAX_AGE,
                   projects: Iterable[Any] | None = None, *, with_check: bool = True) -> list[Any]:
    """`ProjectData` of every active project the person belongs to."""
    return [data for data, _, _ in _asker_projects(runtime, open_id, now, max_age, projects, with_check)]


def _asker_projects(runtime: Any, open_id: str, now: datetime, max_age: float,
                    projects: Iterable[Any] | None, with_check: bool) -> list[tuple[Any, Any, Any]]:
    """(ProjectData, project, ProjectAnswers) of every active project the person belongs to."""
    found = []
    for project in (projects if projects is not None else runtime.projects()):
        try:
            answers = answers_for(runtime, project, now, max_age)
            if not (open_id and open_id in answers.people()):
                continue
            data = _project_data(runtime, project, answers, now, with_check)
        except Exception as exc:  # noqa: BLE001 - one broken project must not hide the others
            log.warning("project %s unavailable for %s: %s", project.slug, open_id, exc)
            continue
        found.append((data, project, answers))
    return found


# -- building the context -----------------------------------------------------------------------
def build_context(runtime: Any, text: str, *, asker: str, project: Any | None, now: datetime,
                  chat_id: str = "", chat_type: str = "group", max_age: float = DEFAULT_MAX_AGE):
    """(Command, AskContext) for `text` asked by `asker` in `project` (None: across their projects)."""
    from gtm.bot.chat.parse import parse
    from gtm.bot.chat.answers import AskContext

    ctx = AskContext(now=now, asker=asker or "", chat_id=chat_id, chat_type=chat_type)
    milestones: list[str] = []
    answers = None
    if project is not None:
        answers = answers_for(runtime, project, now, max_age)
        data = _project_data(runtime, project, answers, now, with_check=False)
        ctx.project_name, ctx.project_slug = data.name, project.slug
        ctx.snapshot, ctx.index, ctx.policy = data.snapshot, data.index, project.policy
        ctx.locale = project.policy.locale
        milestones = [m.label for m in data.snapshot.milestones]
    cmd = parse(text, milestones)
    others: list[tuple[Any, Any, Any]] = []  # (ProjectData, project, ProjectAnswers), checks pending
    if project is None or cmd.name == "portfolio":
        if asker:
            others = _asker_projects(runtime, asker, now, max_age, None, with_check=False)
        else:
            for p in runtime.projects():
                a = answers_for(runtime, p, now, max_age)
                others.append((_project_data(runtime, p, a, now, with_check=False), p, a))
        ctx.projects = [d for d, _, _ in others]
        if project is None and ctx.projects:
            ctx.policy = next((p.policy for p in runtime.projects() if p.slug == ctx.projects[0].slug),
                              ctx.policy)
            ctx.locale = ctx.policy.locale  # p2p: the language of the asker's project, not always zh
            if cmd.name == "unknown" or not cmd.arg:
                names = [m.label for d in ctx.projects for m in d.snapshot.milestones]
                cmd = parse(text, names) if names else cmd
    if needs_check(cmd.name):  # only now is it known whether the answer shows rule results
        if project is not None:
            ctx.check = cached_check(runtime, project, answers, now)
        kept = []
        for data, p, a in others:
            try:
                data.check = cached_check(runtime, p, a, now)
            except Exception as exc:  # noqa: BLE001 - as `asker_projects`: skip a broken project
                if not asker:
                    raise
                log.warning("project %s unavailable for %s: %s", p.slug, asker, exc)
                continue
            kept.append(data)
        if others:
            ctx.projects = kept
    return cmd, ctx


def answer_incoming(runtime: Any, inc: Any, project: Any | None, now: datetime, *,
                    max_age: float = DEFAULT_MAX_AGE) -> dict[str, Any]:
    """The card answering a chat message (the dispatcher's default answerer)."""
    from gtm.bot.chat.answers import answer

    cmd, ctx = build_context(runtime, inc.text, asker=inc.open_id, project=project, now=now,
                             chat_id=inc.chat_id, chat_type=inc.chat_type or "group", max_age=max_age)
    return answer(cmd, ctx)


def not_linked_card(chat_id: str) -> dict[str, Any]:
    try:
        from gtm.bot.chat.answers import not_linked_card as render_not_linked

        return render_not_linked(chat_id)
    except Exception:  # noqa: BLE001 - the template is the bot engineer's; keep a fallback
        from gtm.bot.chat.dispatcher import unlinked_card

        return unlinked_card(chat_id)


def ask(runtime: Any, text: str, as_open_id: str | None = None, project: str | None = None,
        now: datetime | None = None) -> dict[str, Any]:
    """What the bot would answer (`gtm ask`): in `project` (slug), the only project, or — with
    several projects and no `project` — across the projects of `as_open_id`, as in a p2p chat."""
    from gtm.bot.chat.answers import answer
    from gtm.bot.runtime import ProjectNotFound

    now = now or datetime.now(timezone.utc)
    target = None
    if project:
        target = runtime.project(project)
    else:
        try:
            target = runtime.project()
        except ProjectNotFound:
            if not as_open_id:
                raise
    cmd, ctx = build_context(runtime, text, asker=as_open_id or "", project=target, now=now,
                             chat_type="group" if target else "p2p", max_age=0 if target else DEFAULT_MAX_AGE)
    return answer(cmd, ctx)


# -- the terminal view --------------------------------------------------------------------------
def card_to_text(card: dict[str, Any], width: int = 100) -> str:
    """A readable rendering of a JSON 2.0 card: header, markdown, aligned tables, bar charts,
    buttons as [按钮]."""
    out: list[str] = []
    header = card.get("header") or {}
    title = _plain(header.get("title"))
    if title:
        sub = _plain(header.get("subtitle"))
        color = header.get("template", "")
        out.append(f"■ {title}" + (f"  ({color})" if color and color != "default" else ""))
        if sub:
            out.append(f"  {sub}")
        tags = [_plain(t.get("text")) for t in header.get("text_tag_list") or []]
        if tags:
            out.append("  " + " ".join(f"[{t}]" for t in tags if t))
        out.append("─" * min(width, max(20, _width(title) + 2)))
    elements = (card.get("body") or {}).get("elements") or card.get("elements") or []
    for el in elements:
        _element(el, out, width, indent="")
    return "\n".join(line.rstrip() for line in out).strip() + "\n"


def _plain(node: Any) -> str:
    if isinstance(node, dict):
        return str(node.get("content") or node.get("text") or "")
    return str(node or "")


def _width(s: str) -> int:
    import unicodedata

    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in s)


def _pad(s: str, w: int) -> str:
    return s + " " * max(0, w - _width(s))


def _md(text: str) -> str:
    import re

    text = re.sub(r"<at\s+(?:id|user_id|ids|email)=\\?\"?([^\s>\"\\]+)\\?\"?\s*>\s*</at>", r"@\1", text)
    text = re.sub(r"<person\s+id=['\"]?([^'\"\s>]+)['\"]?[^>]*>\s*</person>", r"@\1", text)
    text = re.sub(r"<font[^>]*>(.*?)</font>", r"\1", text, flags=re.S)
    text = re.sub(r"<text_tag[^>]*>(.*?)</text_tag>", r"[\1]", text, flags=re.S)
    text = re.sub(r"<link\s+url=['\"]?([^'\"\s>]+)['\"]?[^>]*>(.*?)</link>", r"\2 (\1)", text, flags=re.S)
    text = re.sub(r"<local_datetime[^>]*millisecond=['\"]?(\d+)['\"]?[^>]*>\s*</local_datetime>",
                  lambda m: datetime.fromtimestamp(int(m.group(1)) / 1000, timezone.utc).strftime("%Y-%m-%d"),
                  text)
    text = re.sub(r"\[([^\]]+)\]\((https?://[^)]+)\)", r"\1 (\2)", text)
    text = text.replace("**", "")
    return text


def _cell(value: Any, dtype: str) -> str:
    if value is None:
        return ""
    if dtype == "options" and isinstance(value, list):
        return ",".join(str(v.get("text", "")) if isinstance(v, dict) else str(v) for v in value)
    if dtype == "persons":
        return ",".join(value) if isinstance(value, list) else str(value)
    if dtype == "date" and isinstance(value, (int, float)):
        return datetime.fromtimestamp(value / 1000, timezone.utc).strftime("%Y-%m-%d")
    if dtype in ("lark_md", "markdown"):
        return _md(str(value)).replace("\n", " ")
    return str(value)


def _table(el: dict[str, Any], out: list[str], indent: str) -> None:
    cols = el.get("columns") or []
    rows = el.get("rows") or []
    heads = [str(c.get("display_name") or c.get("name", "")) for c in cols]
    cells = [[_cell(r.get(c.get("name")), c.get("data_type", "text")) for c in cols] for r in rows]
    widths = [max([_width(h)] + [_width(row[i]) for row in cells]) for i, h in enumerate(heads)]
    out.append(indent + "  ".join(_pad(h, w) for h, w in zip(heads, widths)))
    out.append(indent + "  ".join("-" * w for w in widths))
    for row in cells:
        out.append(indent + "  ".join(_pad(v, w) for v, w in zip(row, widths)))


def _chart(el: dict[str, Any], out: list[str], indent: str) -> None:
    spec = el.get("chart_spec") or {}
    title = _plain(spec.get("title", {}).get("text") if isinstance(spec.get("title"), dict) else spec.get("title"))
    data = spec.get("data") or {}
    values = data.get("values") if isinstance(data, dict) else (data[0].get("values") if data else [])
    xf = spec.get("xField") or spec.get("categoryField") or "x"
    yf = spec.get("yField") or spec.get("valueField") or "y"
    if isinstance(xf, list):
        xf = xf[0]
    if isinstance(yf, list):
        yf = yf[0]
    if spec.get("direction") == "horizontal":
        xf, yf = yf, xf
    pts = [(str(v.get(xf, "")), v.get(yf)) for v in values or [] if isinstance(v, dict)]
    pts = [(k, float(y)) for k, y in pts if isinstance(y, (int, float))]
    out.append(indent + f"[图表 / chart{': ' + title if title else ''}]")
    if not pts:
        return
    top = max(abs(y) for _, y in pts) or 1.0
    lw = max(_width(k) for k, _ in pts)
    for k, y in pts:
        bar = "█" * max(0, round(20 * abs(y) / top))
        out.append(indent + f"{_pad(k, lw)} │{bar} {y:g}")


def _element(el: dict[str, Any], out: list[str], width: int, indent: str) -> None:
    tag = el.get("tag")
    if tag in ("markdown", "lark_md"):
        out.extend(indent + line for line in _md(str(el.get("content", ""))).splitlines())
    elif tag == "div":
        out.append(indent + _md(_plain(el.get("text"))))
    elif tag == "hr":
        out.append(indent + "─" * 20)
    elif tag == "table":
        _table(el, out, indent)
    elif tag == "chart":
        _chart(el, out, indent)
    elif tag == "button":
        out.append(indent + f"[{_plain(el.get('text'))}]")
    elif tag in ("column_set",):
        buttons = [c for col in el.get("columns") or [] for c in col.get("elements") or []]
        if buttons and all(b.get("tag") == "button" for b in buttons):
            out.append(indent + " ".join(f"[{_plain(b.get('text'))}]" for b in buttons))
            return
        for col in el.get("columns") or []:
            for sub in col.get("elements") or []:
                _element(sub, out, width, indent)
    elif tag in ("form", "collapsible_panel", "interactive_container"):
        hdr = el.get("header") or {}
        if hdr.get("title"):
            out.append(indent + "▸ " + _md(_plain(hdr.get("title"))))
        for sub in el.get("elements") or []:
            _element(sub, out, width, indent + ("  " if tag == "collapsible_panel" else ""))
    elif tag in ("person", "person_list"):
        ids = [p.get("id") for p in el.get("persons") or []] or [el.get("user_id")]
        out.append(indent + " ".join(f"@{i}" for i in ids if i))
    elif tag in ("date_picker", "picker_date"):
        out.append(indent + f"[{_plain(el.get('placeholder')) or '选择日期'}]")
    elif tag in ("input",):
        out.append(indent + f"[{_plain(el.get('placeholder')) or '输入'}: ____]")
    elif tag in ("select_static", "overflow"):
        opts = [_plain(o.get("text")) for o in el.get("options") or []]
        out.append(indent + "[" + " | ".join(opts) + "]")
    elif tag == "note":
        for sub in el.get("elements") or []:
            out.append(indent + "  " + _md(_plain(sub)))
    elif tag == "img":
        out.append(indent + "[图片 / image]")
    elif "elements" in el:
        for sub in el.get("elements") or []:
            _element(sub, out, width, indent)

"""Fuzz (issue 17): random cells of every field type through sync (the record codec and the
snapshot), check (every rule), ask (every chat answer, rendered and size-checked) and the weekly
report. Asserts: nothing crashes; every bad cell is reported, and each cell at most once; no value
a person typed is changed (writes go only to the service's cells, plus 延期 on overdue, unfinished
items of a known status — the rule of docs/seeds/003 §2.4)."""
from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, given, settings, strategies as st

from gtm.bot.chat.parse import parse
from gtm.bot.chat.answers import AskContext, answer
from gtm.bot.checks.weekly_report import build_weekly_report, report_card
from gtm.bot.rules.engine import run_checks
from gtm.bot.rules.overdue import TRACKED
from gtm.schemas.fields import Kind, Writer
from gtm.schemas.plan import LIST_BY_TABLE, PlanSnapshot
from gtm.schemas.settings import Policy
from gtm.schemas.tables import PLAN_TABLES
from gtm.sync.records import RecordDecoder, encode_value

TZ = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 11, 20, 10, 0, tzinfo=TZ)
TABLES = ["project", "milestone", "deliverable", "task", "risk", "dependency", "issue", "metric"]
IDS = {t: [f"rec{t[:3]}{i}" for i in range(3)] for t in TABLES}
ASK = ["状态", "我的任务", "逾期", "本周", "风险", "依赖", "问题", "数据问题", "M1", "帮助", "周报"]
PEOPLE = ["ou_pm", "ou_alice", "ou_bob"]

JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(2 ** 53), 2 ** 53) | st.floats(allow_nan=True)
    | st.text(max_size=6),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
        st.sampled_from(["id", "text", "type", "link", "name", "link_record_ids", "x"]), inner, max_size=3),
    max_leaves=6)
DAYS = st.dates(date(1960, 1, 1), date(2200, 1, 1)) | st.dates(NOW.date() - timedelta(days=20),
                                                               NOW.date() + timedelta(days=20))


def good(f, table: str):
    """A domain value of the field, encoded as Feishu would hold it (including odd-but-typed ones:
    dates in 1970 or 2200, unknown options, links to deleted rows, people without names)."""
    k = f.kind
    link_pool = IDS.get(f.link_table or "", []) + ["recgone"]
    dom = {
        Kind.TEXT: st.text(max_size=8) | st.just("长" * 3000),
        Kind.NUMBER: st.floats(-1e9, 1e9, allow_nan=False), Kind.CURRENCY: st.floats(-1e9, 1e9, allow_nan=False),
        Kind.INTEGER: st.integers(-1000, 1000), Kind.PROGRESS: st.floats(0, 1),
        Kind.SELECT: st.sampled_from([*f.option_names, "暂停"]) if f.option_names else st.text(min_size=1, max_size=4),
        Kind.MULTI_SELECT: st.lists(st.text(min_size=1, max_size=4), max_size=2),
        Kind.DATE: DAYS,
        Kind.DATETIME: DAYS.map(lambda d: datetime(d.year, d.month, d.day, 9, tzinfo=TZ)),
        Kind.CHECKBOX: st.booleans(), Kind.URL: st.just("https://x.example/a"),
        Kind.LINK: st.lists(st.sampled_from(link_pool), max_size=3, unique=True),
        Kind.GROUP_CHAT: st.lists(st.just("oc_abcdefg"), max_size=1),
    }
    if k in (Kind.USER, Kind.USERS):
        person = st.builds(lambda oid, name: {"id": oid, "name": name}, st.sampled_from(PEOPLE),
                           st.sampled_from(["", "张三", "李" * 500]))
        return st.lists(person, min_size=1, max_size=1 if k is Kind.USER else 3)
    if k is Kind.MODIFIED_TIME:
        return st.just(int(NOW.timestamp() * 1000))
    return dom[k].map(lambda v: _encode(f, v))


def _encode(f, v):
    try:
        return encode_value(f, v, TZ)
    except Exception:  # noqa: BLE001 - a value our encoder refuses: hand the raw value to the decoder
        return v


@st.composite
def plan_records(draw):
    raw: dict[str, list[dict]] = {}
    for t in TABLES:
        spec = PLAN_TABLES[t]
        n = 1 if t == "project" else draw(st.integers(1, 3))
        rows = []
        for rid in IDS[t][:n]:
            cells = {}
            for f in spec.fields:
                mode = draw(st.sampled_from(["empty", "good", "good", "junk"]))
                if mode == "good":
                    cells[f.name] = draw(good(f, t))
                elif mode == "junk":
                    cells[f.name] = draw(JSON)
            rows.append({"record_id": rid, "fields": cells})
        raw[t] = rows
    return raw


def sync(raw: dict[str, list[dict]]) -> PlanSnapshot:
    """What the mirror does with what Feishu returned: decode every record, assemble, label."""
    snap = PlanSnapshot(project_slug="fuzz", read_at=NOW)
    problems = []
    for t, rows in raw.items():
        dec = RecordDecoder(PLAN_TABLES[t], TZ)
        decoded = []
        for r in rows:
            model, probs = dec.decode(r)
            decoded.append(model)
            problems += probs
        if t == "project":
            snap.project = decoded[0]  # type: ignore[assignment]
        else:
            setattr(snap, LIST_BY_TABLE[t], decoded)
    snap.problems = snap.labelled(problems)
    return snap


def _person_typed(f) -> bool:
    return f.writer is not Writer.SERVICE


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(plan_records())
def test_random_cells_through_sync_check_ask_and_report(raw):
    snap = sync(raw)
    decoder_bad = {(p.table, p.record_id, p.field) for p in snap.problems}
    result = run_checks(snap, NOW, Policy())

    # every bad cell is reported, each cell at most once
    cells = [(p.table, p.record_id, p.field) for p in result.problems if p.field]
    assert len(cells) == len(set(cells)), sorted(c for c in cells if cells.count(c) > 1)
    assert decoder_bad <= {(p.table, p.record_id, p.field) for p in result.problems}
    for p in result.problems:
        text = p.describe("zh") + p.describe("en")
        assert len(text) < 800 and "怎么改" in p.describe("zh")

    # no value typed by a person changed
    rows = {(t, r.record_id): r for t in TABLES for r in snap.rows(t)}
    today = NOW.date()
    for w in result.writes:
        f = PLAN_TABLES[w.table].field(w.attr)
        if not _person_typed(f):
            continue
        assert w.attr == "status" and w.table in TRACKED, w
        p_attr, _, done, overdue_value, _ = TRACKED[w.table]
        row = rows[(w.table, w.record_id)]
        planned = getattr(row, p_attr)
        assert w.value == overdue_value, w  # never a revert: nothing here was set by the service
        assert row.status != done and planned is not None and planned < today, (w, row.status, planned)

    # ask: every answer renders (the renderer checks the card rules and the 30 KB limit)
    ctx = AskContext(project_name="Fuzz", project_slug="fuzz", snapshot=snap, check=result, now=NOW,
                     asker="ou_alice")
    milestones = [m.label for m in snap.milestones]
    for text in ASK:
        card = answer(parse(text, milestones), ctx)
        assert isinstance(card, dict) and card.get("body")
    # the weekly report
    view = build_weekly_report(snap, result, NOW, "Asia/Shanghai", None, [], [], project_name="Fuzz")
    assert report_card(view, "zh")["body"]

import ast
import inspect
import pkgutil
from datetime import date, datetime, timedelta

import pytest

import gtm.bot.rules as rules_pkg
from gtm.bot.rules.engine import run_checks
from gtm.schemas.decisions import EscalationState
from gtm.schemas.plan import DataProblem, Issue, Task
from gtm.schemas.settings import Policy
from tests.support.rule_plans import at, plan

MODULES = [__import__(f"gtm.bot.rules.{m.name}", fromlist=["x"])
           for m in pkgutil.iter_modules(rules_pkg.__path__)]
FORBIDDEN = {("datetime", "now"), ("datetime", "utcnow"), ("datetime", "today"),
             ("date", "today"), ("time", "time"), ("time", "monotonic"), ("time", "sleep"),
             ("time", "perf_counter")}


@pytest.mark.parametrize("module", [rules_pkg, *MODULES], ids=lambda m: m.__name__)
def test_rule_modules_read_no_clock_and_do_no_io(module):
    tree = ast.parse(inspect.getsource(module))
    calls = {(n.value.id, n.attr) for n in ast.walk(tree)
             if isinstance(n, ast.Attribute) and isinstance(n.value, ast.Name)}
    assert not calls & FORBIDDEN
    imported = {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import)
                for a in n.names} | {n.module.split(".")[0] for n in ast.walk(tree)
                                     if isinstance(n, ast.ImportFrom) and n.module}
    assert not imported & {"time", "os", "socket", "requests", "lark_oapi", "sqlalchemy", "pathlib"}
    names = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
    assert "open" not in names and "print" not in names


def test_every_rule_function_takes_now():
    checks = [f for mod in MODULES for name, f in vars(mod).items()
              if inspect.isfunction(f) and f.__module__ == mod.__name__
              and name.startswith(("check_", "run_", "evaluate_", "is_quiet", "next_send"))]
    assert len(checks) >= 9
    for f in checks:
        assert "now" in inspect.signature(f).parameters, f.__qualname__


def test_naive_now_is_refused():
    with pytest.raises(ValueError, match="timezone-aware"):
        run_checks(plan(), datetime(2025, 9, 15, 10), Policy(), {})


def test_snapshot_problems_pass_through_and_new_ones_are_added_once():
    codec = DataProblem(table="risk", record_id="r1", field="impact", value="x", reason="坏值")
    snap = plan(problems=[codec], tasks=[Task(record_id="t1", task_id="T1", name="无负责人",
                                              planned_end=date(2025, 9, 10), status="进行中")])
    result = run_checks(snap, at(2025, 9, 15, 10), Policy(), {})
    assert result.problems[0] == codec
    assert [(p.record_id, p.field) for p in result.problems[1:]] == [("t1", "owner")]


def test_problems_once_per_cell_and_whole_record_problems_once_each():
    """The first word on a cell wins (equal repeats included); whole-record problems (no field)
    once each, compared as models; the order is first-seen."""
    from gtm.bot.rules import problem
    from gtm.bot.rules.engine import _unique

    codec = DataProblem(table="task", record_id="t1", field="status", value="x", reason="坏值")
    rule = problem("task", "t1", "status", "x", "规则", "rule")
    whole = DataProblem(table="task", record_id="t2", field="", value="", reason="整行")
    other = DataProblem(table="task", record_id="t3", field="", value="", reason="整行")
    got = _unique([codec, whole, rule, codec, problem("task", "t1", "owner", "", "无", "none"),
                   whole.model_copy(), other, whole])
    assert got == [codec, whole, got[2], other] and (got[2].field, got[2].reason) == ("owner", "无")


def test_escalation_states_round_trip_through_the_engine():
    raised = at(2025, 9, 1, 10)
    snap = plan(issues=[Issue(record_id="i1", issue="x", raised_at=raised, status="待处理")])
    for policy, expected in ((Policy(escalation_repeat_after_days=0), ["L1", "L2"]),
                             # unacknowledged: each level repeats every working day (Sat/Sun skipped)
                             (Policy(), ["L1", "repeat1", "L2", "repeat1", "repeat2"])):
        states: dict = {}
        sent: list[str] = []
        for hours in range(0, 24 * 10, 6):
            result = run_checks(snap, raised + timedelta(hours=hours), policy, states)
            sent += [n.key for n in result.notices if n.kind == "escalation"]
            states.update({(s.table, s.record_id): s for s in result.escalations})
        assert [k.rsplit(":", 1)[-1] for k in sent] == expected
        assert isinstance(states[("issue", "i1")], EscalationState)


def test_calendar_warning_surfaces_in_the_result():
    from gtm.bot.rules.calendar import WorkCalendar

    cal = WorkCalendar(Policy(), library=None)  # chinesecalendar only: next year falls back to Mon–Fri
    result = run_checks(plan(), at(max_year(), 11, 20, 10), Policy(), {}, calendar=cal)
    assert result.warnings and str(max_year() + 1) in result.warnings[0]


def max_year() -> int:
    from gtm.bot.rules.calendar import WorkCalendar
    return max(WorkCalendar(Policy()).data_years)


def test_generated_plan_invariants():
    """The benchmark's plan through the engine: keys unique, writes disjoint, result valid."""
    from gtm.benchmarks.rules_speed import generate_plan
    from gtm.schemas.decisions import CheckResult

    now = at(2025, 9, 16, 10)
    snap = generate_plan(3000, now)
    result = run_checks(snap, now, Policy(), {})
    keys = [n.key for n in result.notices]
    assert len(keys) == len(set(keys)) and all(n.recipients for n in result.notices)
    cells = [(w.table, w.record_id, w.attr) for w in result.writes]
    assert len(cells) == len(set(cells))
    assert CheckResult.model_validate(result.model_dump()) == result
    kinds = {n.kind for n in result.notices}
    assert {"overdue", "due_soon", "escalation", "budget", "gate"} <= kinds
    again = run_checks(snap, now, Policy(), {(s.table, s.record_id): s for s in result.escalations})
    assert not [n for n in again.notices if n.kind == "escalation"]  # each level once


def test_digest_run_decides_the_same_and_keeps_no_notices_or_writes():
    """`digest=True` (the answer cache's run): RAG with every reason, its text and its first
    `DIGEST_RECORDS` records, problems, warnings, slips and the issues' ladder states equal the
    full run's; no notices, no writes."""
    from gtm.bot.rules import DIGEST_RECORDS
    from gtm.benchmarks.rules_speed import generate_plan

    now = at(2025, 9, 16, 10)
    snap = generate_plan(3000, now)
    full = run_checks(snap, now, Policy(), {})
    digest = run_checks(snap, now, Policy(), {}, digest=True)
    assert full.notices and full.writes and digest.notices == [] and digest.writes == []
    assert type(digest.notices) is list and type(digest.escalations) is list
    assert digest.rag.color == full.rag.color
    assert [(r.color, r.code, r.text, r.text_en) for r in digest.rag.reasons] == \
        [(r.color, r.code, r.text, r.text_en) for r in full.rag.reasons]
    assert [r.records for r in digest.rag.reasons] == [r.records[:DIGEST_RECORDS] for r in full.rag.reasons]
    long = [r for r in full.rag.reasons if len(r.records) > DIGEST_RECORDS]
    assert long and "等共" in long[0].text  # a long reason: its count is the full run's, records cut
    assert digest.problems == full.problems and digest.warnings == full.warnings
    assert digest.slips == full.slips
    issues = [st for st in full.escalations if st.table == "issue"]
    assert issues and digest.escalations == issues and len(full.escalations) > len(issues)
    # the mode ends with the run: a full run afterwards keeps everything again
    assert run_checks(snap, now, Policy(), {}).notices == full.notices


def test_urgent_only_run_is_the_full_run_without_the_digest_notices():
    """`urgent_only=True` (the periodic check): every write, escalation state, RAG, problem,
    warning and slip of the full run, and its notices that go out at once, in the same order."""
    from gtm.benchmarks.rules_speed import generate_plan

    now = at(2025, 9, 16, 10)
    snap = generate_plan(3000, now)
    full = run_checks(snap, now, Policy(), {})
    urgent = run_checks(snap, now, Policy(), {}, urgent_only=True)
    assert any(n.digest for n in full.notices) and any(not n.digest for n in full.notices)
    assert urgent.notices == [n for n in full.notices if not n.digest] and type(urgent.notices) is list
    assert urgent.writes == full.writes and urgent.escalations == full.escalations
    assert urgent.rag == full.rag and urgent.problems == full.problems
    assert urgent.warnings == full.warnings and urgent.slips == full.slips
    assert run_checks(snap, now, Policy(), {}).notices == full.notices  # the mode ends with the run


def test_decisions_share_their_class_key_table_and_behave_as_models():
    """Cell writes, notices and references are built attribute by attribute against their class's
    key table (`schemas.plan.share_keys`) with one shared fields-set: a 100,000-item plan's rules
    make ~66,000 writes, and a dict plus a set each doubled them."""
    import tracemalloc

    from gtm.bot.rules import make_notice, make_write, ref
    from gtm.schemas.decisions import CellWrite, Notice
    from gtm.schemas.plan import Task

    CellWrite(table="task", record_id="r0", attr="status", value="延期")  # validation first: no harm
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        writes = [make_write("task", "rec1", "status", "延期") for _ in range(2000)]
        per_write = (tracemalloc.get_traced_memory()[0] - before) / len(writes)
    finally:
        tracemalloc.stop()
    assert per_write < 200, f"{per_write:.0f} bytes per cell write"
    w = writes[0]
    assert w == CellWrite(table="task", record_id="rec1", attr="status", value="延期")
    assert CellWrite.model_validate(w.model_dump()) == w and w.model_fields_set == set(CellWrite.model_fields)
    r = ref("task", Task(record_id="rec9", task_id="T9", name="发布会"))
    n = make_notice(kind="overdue", key="k", recipients=["ou_1"], record=r, text="逾期")
    assert Notice.model_validate(n.model_dump()) == n
    copy = n.model_copy(update={"text": "改"})
    assert copy.text == "改" and n.text == "逾期" and n.model_fields_set == set(Notice.model_fields)

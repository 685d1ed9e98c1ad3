"""Case 8 of issue 17: the data-problem report names the row by its own ID or name, the field, the
clipped value, what is wrong and how to fix it; finds cycles and end-before-start; refuses dates
outside 2000–2100; never prints a whole 100,000-character name or a raw ou_… id."""
from __future__ import annotations

from datetime import date

from gtm.bot.rules.engine import run_checks
from gtm.schemas.plan import Person, Task
from gtm.schemas.settings import Policy
from tests.support.rule_plans import ALICE, at, plan

NOW = at(2026, 11, 20, 10)


def t(rid: str, tid: str, **kw) -> Task:
    base = dict(record_id=rid, task_id=tid, name=f"任务{tid}", owner=ALICE, planned_start=date(2026, 11, 1),
                planned_end=date(2026, 12, 1), status="进行中")
    base.update(kw)
    return Task(**base)


def problems_by_row(result):
    out: dict[str, list] = {}
    for p in result.problems:
        out.setdefault(p.record_id, []).append(p)
    return out


def test_cycles_self_links_end_before_start_and_implausible_dates_are_reported_once_each():
    tasks = [t("rec_a", "T1", predecessors=["rec_b"]), t("rec_b", "T2", predecessors=["rec_a"]),
             t("rec_c", "T3", predecessors=["rec_c"]),
             t("rec_d", "T4", planned_start=date(2026, 12, 5), planned_end=date(2026, 12, 1)),
             t("rec_e", "T5", planned_end=date(1970, 1, 1)),
             t("rec_f", "T6", planned_end=date(9999, 12, 31))]
    result = run_checks(plan(tasks=tasks), NOW, Policy())
    rows = problems_by_row(result)
    assert [p.field for p in rows["rec_a"]] == ["predecessors"] and [p.field for p in rows["rec_b"]] == ["predecessors"]
    assert "T1 任务T1 → T2 任务T2 → T1 任务T1" in rows["rec_a"][0].reason
    assert [p.field for p in rows["rec_c"]] == ["predecessors"] and "自己" in rows["rec_c"][0].reason
    [end] = rows["rec_d"]
    assert end.field == "planned_end" and "计划结束早于计划开始" in end.describe()
    for rid in ("rec_e", "rec_f"):
        [bad] = rows[rid]
        assert bad.field == "planned_end" and "2000–2100" in bad.describe()
    # 1970-01-01 is not "20794 days late": no overdue notice, no variance write for it
    assert not [n for n in result.notices if n.record and n.record.record_id in ("rec_e", "rec_f")]
    assert not [w for w in result.writes if w.record_id in ("rec_e", "rec_f")]


def test_each_problem_names_table_row_field_value_what_and_how():
    result = run_checks(plan(tasks=[t("rec_d", "T4", planned_start=date(2026, 12, 5),
                                      planned_end=date(2026, 12, 1))]), NOW, Policy())
    [p] = [p for p in result.problems if p.record_id == "rec_d"]
    zh, en = p.describe("zh"), p.describe("en")
    assert zh.startswith("任务 ·「T4 任务T4」 ·「计划结束」") and "rec_d" not in zh
    assert "2026-12-05" in zh and "怎么改" in zh
    assert en.startswith("Tasks · T4 任务T4 · Planned end") and "Fix:" in en


def test_long_text_is_clipped_and_an_unnamed_person_is_marked():
    huge = "很长的名字" * 20_000  # 100,000 characters
    ghost = Person(open_id="ou_resigned_9f3c")  # Feishu sends no name for a resigned member
    tasks = [t("rec_x", "T9", name=huge, owner=ghost, planned_end=date(2026, 11, 10), predecessors=["rec_x"])]
    result = run_checks(plan(tasks=tasks), NOW, Policy())
    texts = [p.describe() for p in result.problems] + [p.describe("en") for p in result.problems]
    texts += [n.text for n in result.notices] + [n.title for n in result.notices]
    assert texts and max(len(x) for x in texts) < 400
    assert ghost.label() != ghost.open_id and "ou_" not in ghost.label() and "离职" in ghost.label()

"""Schema drift on every sync: the fields the rules depend on, compared with the spec by id.

People rename, delete and retype fields in their Base. Before this check, a renamed 计划结束 made
every task look undated, so `ask 逾期` said "0 items" and `check` sent nothing, run after run.
Now every sync lists each bound table's fields (one schema read per table) and compares them with
the spec by field id, name and type:

- renamed, same type → followed by its id (the binding's field name is updated, the mirror is
  re-read under the new name) and reported once as an `info` change;
- deleted, or its type changed → a `FieldGap`: every answer and check that depends on the field
  says what it cannot judge ("计划结束 字段已改名/改类型，无法判断逾期 → `gtm init --repair`");
- a field the binding never had an id for is bound by its spec name (old registrations).

The result is kept in the registry row (`field_ids["_names"]`, `field_ids["_drift"]`) so answers
read it without a Feishu call; `DriftReport.changes` lists what changed in this sync, which the
check turns into one alert per change for the PM and the admins.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Callable

from sqlalchemy import update

from gtm.schemas.fields import FieldSpec, TableSpec
from gtm.schemas.plan import FieldGap
from gtm.schemas.tables import PLAN_TABLES
from gtm.sync.binding import BaseBinding
from gtm.sync.feishu.gateway import Gateway
from gtm.sync.provision_findings import type_name
from gtm.sync.provision_read import Reader
from gtm.sync.store.base import Store
from gtm.sync.store.mirror import MirrorTable
from gtm.sync.store.registry import get_project

log = logging.getLogger(__name__)

# (table, attr) → what the rules cannot judge without that field (zh, en). Fields not listed here
# still drift-check; their gaps say "相关规则 / the rules that use it".
JUDGES: dict[tuple[str, str], tuple[str, str]] = {
    ("task", "planned_end"): ("逾期、即将到期", "overdue, due soon"),
    ("task", "status"): ("逾期、即将到期、阻塞升级", "overdue, due soon, blocked escalation"),
    ("task", "actual_end"): ("完成日期偏差", "completion variance"),
    ("task", "owner"): ("负责人提醒", "owner reminders"),
    ("deliverable", "due_date"): ("交付物逾期", "deliverable overdue"),
    ("deliverable", "status"): ("交付物逾期", "deliverable overdue"),
    ("milestone", "target_date"): ("里程碑逾期与门禁", "milestone overdue and gates"),
    ("milestone", "status"): ("里程碑逾期与门禁", "milestone overdue and gates"),
    ("issue", "raised_at"): ("问题升级", "issue escalation"),
    ("issue", "status"): ("问题升级", "issue escalation"),
    ("project", "pm"): ("项目经理提醒与升级", "PM reminders and escalation"),
    ("project", "budget"): ("预算超支", "budget overrun"),
    ("project", "spent"): ("预算超支", "budget overrun"),
}


@dataclass(frozen=True)
class DriftChange:
    """One change found by this sync (said once: the check alerts on it, keyed by `key`)."""

    kind: str  # renamed (followed) | missing | retyped | restored
    table: str
    attr: str
    text: str
    text_en: str

    @property
    def key(self) -> str:
        return f"drift:{self.table}:{self.attr}:{self.kind}:{self.text_en}"[:250]


@dataclass
class DriftReport:
    gaps: list[FieldGap] = field(default_factory=list)
    changes: list[DriftChange] = field(default_factory=list)
    calls: int = 0
    changed_tables: set[str] = field(default_factory=set)  # re-read these in full


def _judges(spec: TableSpec, f: FieldSpec) -> tuple[str, str]:
    return JUDGES.get((spec.key, f.attr), ("相关规则", "the rules that use it"))


def _gap(spec: TableSpec, f: FieldSpec, kind: str, fid: str, actual: dict | None) -> FieldGap:
    zh, en = _judges(spec, f)
    return FieldGap(table=spec.key, field=f.attr, kind=kind, field_id=fid,
                    actual_name=(actual or {}).get("field_name") or "",
                    actual_type=int((actual or {}).get("type") or 0), judges=zh, judges_en=en)


def compare(binding: BaseBinding, spec: TableSpec, actual: list[dict]) -> tuple[list[FieldGap], list[DriftChange]]:
    """Compare one table's fields with the spec; updates `binding` (ids and followed names)."""
    ids = binding.field_ids.setdefault(spec.key, {})
    names = binding.field_names.setdefault(spec.key, {})
    by_id = {a.get("field_id"): a for a in actual}
    by_name = {a.get("field_name"): a for a in actual}
    bound = set(ids.values())
    gaps: list[FieldGap] = []
    changes: list[DriftChange] = []
    for f in spec.fields:
        fid = ids.get(f.attr, "")
        a = by_id.get(fid) if fid else None
        if a is None:
            cand = by_name.get(f.name)
            if cand is not None and (not fid or cand.get("field_id") not in bound):
                ids[f.attr] = fid = cand.get("field_id") or ""
                a = cand
            else:
                if fid:  # it had an id and that id is gone: deleted
                    gaps.append(_gap(spec, f, "missing", fid, None))
                continue
        name = a.get("field_name") or f.name
        if int(a.get("type") or 0) != int(f.type):
            gaps.append(_gap(spec, f, "retyped", fid, a))
            continue
        before = names.get(f.attr) or f.name
        if name != f.name:
            names[f.attr] = name
        else:
            names.pop(f.attr, None)
        if name != before:
            zh, en = _judges(spec, f)
            changes.append(DriftChange(
                "renamed", spec.key, f.attr,
                f"{spec.name}.{f.name} 字段被改名为「{name}」，已按字段 ID 继续跟踪（{zh}照常判断）",
                f"{spec.en}.{f.en} ({spec.name}.{f.name}) was renamed to “{name}”; it is followed by its "
                f"field id ({en} keep working)"))
    if not names:
        binding.field_names.pop(spec.key, None)
    return gaps, changes


def gap_change(g: FieldGap) -> DriftChange:
    spec = PLAN_TABLES[g.table]
    f = spec.field(g.field)
    if g.kind == "retyped":
        extra = f"（现名「{g.actual_name}」，类型「{type_name(g.actual_type)}」，应为「{type_name(f.type)}」）"
        extra_en = (f" (now “{g.actual_name}”, type {type_name(g.actual_type, 'en')}, must be "
                    f"{type_name(f.type, 'en')})")
    else:
        extra, extra_en = f"（原 ID {g.field_id}）", f" (was {g.field_id})"
    return DriftChange(g.kind, g.table, g.field, g.describe("zh") + extra, g.describe("en") + extra_en)


def check_drift(gateway: Gateway, binding: BaseBinding,
                tables: Callable[[], list[str]] | list[str] | None = None) -> DriftReport:
    """List the fields of every bound table and compare them with the spec (mutates `binding`)."""
    reader = Reader(gateway)
    keys = [k for k in (tables if isinstance(tables, list) else list(binding.table_ids)) if k in binding.table_ids]
    old_gaps = {(g.get("table"), g.get("field"), g.get("kind"), g.get("actual_type")) for g in binding.gaps}
    old_names = {k: dict(v) for k, v in binding.field_names.items()}
    report = DriftReport()
    kept_gaps = [g for g in binding.gaps if g.get("table") not in keys]
    for key in keys:
        actual = reader.fields(binding.app_token, binding.table_ids[key], context=PLAN_TABLES[key].name)
        gaps, changes = compare(binding, PLAN_TABLES[key], actual)
        report.gaps += gaps
        report.changes += changes
        if changes or binding.field_names.get(key, {}) != old_names.get(key, {}):
            report.changed_tables.add(key)
    report.calls = reader.calls
    report.gaps += [FieldGap(**g) for g in kept_gaps]
    new_gaps = {(g.table, g.field, g.kind, g.actual_type) for g in report.gaps}
    for g in report.gaps:
        if (g.table, g.field, g.kind, g.actual_type) not in old_gaps:
            report.changes.append(gap_change(g))
            report.changed_tables.add(g.table)
    for t, a, k, _ in old_gaps - new_gaps:
        if t in keys:
            spec = PLAN_TABLES[t]
            f = spec.field(a)
            report.changes.append(DriftChange(
                "restored", t, a, f"{spec.name}.{f.name} 已恢复，重新开始判断", f"{spec.en}.{f.en} is back; tracking again"))
            report.changed_tables.add(t)
    binding.gaps = [g.model_dump() for g in report.gaps]
    return report


def save_drift(store: Store, binding: BaseBinding, report: DriftReport) -> None:
    """Keep the binding's ids, followed names and gaps in the registry; bump the mirror versions
    of changed tables so cached answers are rebuilt with the new state."""
    with store.session() as s:
        row = get_project(s, binding.slug)
        if row is not None:
            row.field_ids = binding.to_row_fields()["field_ids"]
        if report.changed_tables:
            s.execute(update(MirrorTable)
                      .where(MirrorTable.project == binding.slug,
                             MirrorTable.table_key.in_(sorted(report.changed_tables)))
                      .values(version=MirrorTable.version + 1)
                      .execution_options(synchronize_session=False))

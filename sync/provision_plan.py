"""`gtm init`'s plan: read what a Base holds and compare it with the table specs (writes nothing).

`plan_provision` reads tables, fields and views (a few records where needed) and returns a
`ProvisionPlan`: the steps that would make the Base match `PLAN_TABLES`, and the findings (drift,
retyped fields, renamed ones followed). `gtm.sync.provision` carries a plan out.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass, field
from datetime import date
from typing import Any
from zoneinfo import ZoneInfo

from gtm.schemas.fields import FieldSpec, TableRegistry, TableSpec, ViewSpec
from gtm.schemas.tables import PLAN_TABLES, tables_for
from gtm.schemas.templates import get_template, layout
from gtm.sync import provision_findings as F
from gtm.sync.binding import BaseBinding
from gtm.sync.feishu.errors import NotFound
from gtm.sync.feishu.gateway import Gateway
from gtm.sync.provision_findings import Finding
from gtm.sync.provision_read import Reader, is_empty_record


# Field types the create-table call accepts in its `fields` (docs/feishu-api.md §2.2); others are
# added one by one afterwards.
CREATE_TABLE_TYPES = {1, 2, 5, 13, 15, 20, 22}


class BaseMissing(NotFound):
    """The Base in the registry is gone (deleted, or the app lost access). A `FeishuError`, so
    callers that report Feishu failures report this one too, with a message that says what to do."""

    def __init__(self, app_token: str, cause: Exception | None = None) -> None:
        self.app_token = app_token
        self.message = (f"多维表格 {app_token} 不存在或应用已无权访问；如已删除，请去掉登记后重新运行 `gtm init` "
                        f"创建新的多维表格")
        self.message_en = (f"the Base {app_token} does not exist or the app lost access to it; if it was "
                           f"deleted, run `gtm init` again to create a new one")
        super().__init__(getattr(cause, "code", 1254040), f"{self.message} / {self.message_en}",
                         api="bitable.table.list", log_id=getattr(cause, "log_id", ""))


# -- the plan ------------------------------------------------------------------------------
@dataclass
class Step:
    """One write the apply step will make. `op` says which; `label` says it for people."""

    op: str  # create_base | create_table | adopt_table | create_field | rename_field | set_aside_field | fix_options |
    #          delete_field | create_view | rename_view | delete_rows | seed_rows
    table: str = ""  # table key
    label: str = ""
    label_en: str = ""
    attr: str = ""
    view: str = ""  # view (spec) name
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass
class ProvisionPlan:
    slug: str
    name: str
    template: str
    start: date
    tz: str
    repair: bool
    specs: TableRegistry
    binding: BaseBinding  # the working binding: ids found so far (app_token "" = to create)
    create_base: bool
    steps: list[Step] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    rows: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    reads: int = 0  # read calls made while planning
    example: bool = False  # the template's worked example instead of a clean plan

    @property
    def writes(self) -> int:
        """How many write steps the apply step will run (0: nothing to do)."""
        return len(self.steps)

    def lines(self, lang: str = "zh") -> list[str]:
        """The plan for a dry run: one line per step, then the findings."""
        out = [s.label_en if lang == "en" else s.label for s in self.steps]
        out += [f.describe(lang) for f in self.findings]
        return out


# -- planning ------------------------------------------------------------------------------
def plan_provision(gateway: Gateway, specs: TableRegistry | None = None, binding: BaseBinding | None = None,
                   name: str = "", template: str = "gtm", start: date | None = None,
                   tz: str | ZoneInfo = "Asia/Shanghai", *, slug: str = "", repair: bool = False,
                   example: bool = False, _fresh_table: str | None = None) -> ProvisionPlan:
    """Compare the specs (by default the template's tables) with the Base; no writes.
    `binding=None` (or no app_token): a new Base."""
    tz_name = tz.key if isinstance(tz, ZoneInfo) else str(tz)
    if start is None:
        raise ValueError("plan_provision: a start date is needed to lay out the template")
    tmpl = get_template(template)
    specs = specs if specs is not None else tables_for(template)
    b = copy.deepcopy(binding) if binding else BaseBinding(slug=slug or "default", app_token="",
                                                           timezone=tz_name)
    plan = ProvisionPlan(slug=slug or b.slug, name=name or tmpl.name, template=template, start=start,
                         tz=tz_name, repair=repair, specs=specs, binding=b,
                         create_base=not b.app_token, example=example,
                         rows=layout(tmpl, start, ZoneInfo(tz_name), project_name=name, example=example))
    reader = Reader(gateway)
    if plan.create_base:
        plan.steps.append(Step("create_base", label=f"创建多维表格「{plan.name}」",
                               label_en=f"create the Base “{plan.name}”"))
        for spec in specs:
            _plan_new_table(plan, spec, seed=True)
        _order_seed_steps(plan)
        return plan
    try:
        actual = reader.tables(b.app_token)
    except NotFound as exc:
        raise BaseMissing(b.app_token, exc) from exc
    by_id = {t["table_id"]: t for t in actual}
    by_name = {t.get("name"): t for t in actual}
    claimed: set[str] = set()
    fresh = by_id.get(_fresh_table) if _fresh_table else None
    for spec in specs:
        tid = b.table_ids.get(spec.key)
        t = by_id.get(tid) if tid else None
        if t is None:
            t = by_name.get(spec.name) if by_name.get(spec.name, {}).get("table_id") not in claimed else None
            if t is not None and tid:
                plan.findings.append(F.table_rebound(spec, tid, t["table_id"]))
            elif t is not None and not tid:
                pass  # adopted by name on a first run
            elif tid:  # bound before, gone now
                finding = F.table_missing(spec, tid)
                plan.findings.append(finding)
                if repair:
                    _plan_new_table(plan, spec, seed=False, finding=finding)
                continue
            elif fresh is not None and fresh["table_id"] not in claimed:
                _plan_adopt_fresh(plan, reader, spec, fresh)
                claimed.add(fresh["table_id"])
                continue
            else:
                _plan_new_table(plan, spec, seed=True)
                continue
            b.table_ids[spec.key] = t["table_id"]
            if not tid:  # first time we see this table: seed it only if it is empty
                recs = reader.records(b.app_token, t["table_id"], limit=1, context=spec.name)
                if recs:
                    plan.findings.append(F.table_not_empty(spec, len(recs)))
                else:
                    plan.steps.append(_seed_step(spec))
        claimed.add(t["table_id"])
        fields = reader.fields(b.app_token, t["table_id"], context=spec.name)
        views = reader.views(b.app_token, t["table_id"], context=spec.name)
        _plan_fields(plan, spec, fields)
        _plan_views(plan, spec, views)
    plan.reads = reader.calls
    _order_seed_steps(plan)
    return plan


def note_name(binding: BaseBinding, table_key: str, attr: str, actual: str) -> None:
    """Remember the Feishu name of a field when it differs from the common layout's (a template's
    own wording, an older release's name, a user's rename): the reader, the mirror and write-back
    work with the common layout and find each field by this name."""
    names = binding.field_names.setdefault(table_key, {})
    if actual != PLAN_TABLES[table_key].field(attr).name:
        names[attr] = actual
    else:
        names.pop(attr, None)
    if not names:
        binding.field_names.pop(table_key, None)


def _seed_step(spec: TableSpec) -> Step:
    return Step("seed_rows", spec.key, label=f"写入模板行：{spec.name}",
                label_en=f"add the template rows to {spec.en}")


def _plan_new_table(plan: ProvisionPlan, spec: TableSpec, *, seed: bool, finding: Finding | None = None) -> None:
    # fields go in with the table while they can (the create-table call takes some types only);
    # the rest are added one by one in spec order, so the Base's columns keep the spec's order
    inline = []
    for f in spec.fields:
        if f is not spec.primary and f.type not in CREATE_TABLE_TYPES:
            break
        inline.append(f.attr)
    plan.steps.append(Step("create_table", spec.key, label=f"创建表「{spec.name}」",
                           label_en=f"create table {spec.en} ({spec.name})",
                           detail={"inline": inline, "finding": finding}))
    for f in spec.fields:
        if f.attr not in inline:
            plan.steps.append(_create_field_step(spec, f))
    for v in spec.views[1:]:
        plan.steps.append(_create_view_step(spec, v))
    if seed and plan.rows.get(spec.key):
        plan.steps.append(_seed_step(spec))


def _order_seed_steps(plan: ProvisionPlan) -> None:
    """Seeding goes last (all fields must exist) in spec order (milestones before their links)."""
    seeds = [s for s in plan.steps if s.op == "seed_rows" and plan.rows.get(s.table)]
    rest = [s for s in plan.steps if s.op != "seed_rows"]
    order = plan.specs.keys()
    plan.steps = rest + sorted(seeds, key=lambda s: order.index(s.table))


def _create_field_step(spec: TableSpec, f: FieldSpec, finding: Finding | None = None) -> Step:
    return Step("create_field", spec.key, attr=f.attr, label=f"创建字段 {spec.name}.{f.name}",
                label_en=f"create field {spec.en}.{f.en}", detail={"finding": finding})


def _create_view_step(spec: TableSpec, v: ViewSpec, finding: Finding | None = None) -> Step:
    return Step("create_view", spec.key, view=v.name, label=f"创建视图 {spec.name}/{v.name}",
                label_en=f"create view {spec.en}/{v.en or v.name}", detail={"finding": finding})


def _plan_adopt_fresh(plan: ProvisionPlan, reader: Reader, spec: TableSpec, table: dict) -> None:
    """Use the new Base's default table for `spec`: rename it, its primary field and its view,
    drop the platform's unused default fields and empty default rows."""
    b = plan.binding
    tid = table["table_id"]
    b.table_ids[spec.key] = tid
    plan.steps.append(Step("adopt_table", spec.key, label=f"把默认表改名为「{spec.name}」",
                           label_en=f"rename the default table to {spec.name}",
                           detail={"table_id": tid, "rename": table.get("name") != spec.name}))
    fields = reader.fields(b.app_token, tid, context=spec.name)
    views = reader.views(b.app_token, tid, context=spec.name)
    records = reader.records(b.app_token, tid, context=spec.name)
    empty = [r["record_id"] for r in records if is_empty_record(r)]
    if empty:
        plan.steps.append(Step("delete_rows", spec.key, label=f"删除默认空行 {len(empty)} 行",
                               label_en=f"delete {len(empty)} empty default rows",
                               detail={"record_ids": empty}))
    names = {f.name for f in spec.fields}
    primary = next((f for f in fields if f.get("is_primary")), fields[0] if fields else None)
    kept = []
    for f in fields:
        if f is primary:
            if f.get("field_name") != spec.primary.name:
                plan.steps.append(Step("rename_field", spec.key, attr=spec.primary.attr,
                                       label=f"主字段改名为「{spec.primary.name}」",
                                       label_en=f"rename the primary field to {spec.primary.name}",
                                       detail={"field_id": f["field_id"], "type": f.get("type") or 1}))
            b.field_ids.setdefault(spec.key, {})[spec.primary.attr] = f["field_id"]
            kept.append({**f, "field_name": spec.primary.name, "type": int(spec.primary.type)})
        elif f.get("field_name") not in names:
            plan.steps.append(Step("delete_field", spec.key, label=f"删除默认字段「{f.get('field_name')}」",
                                   label_en=f"delete the default field {f.get('field_name')}",
                                   detail={"field_id": f["field_id"], "field_name": f.get("field_name")}))
        else:
            kept.append(f)
    _plan_fields(plan, spec, kept)
    default_view = next((v for v in views if v.get("view_type") == "grid"), None)
    if default_view and spec.views and default_view.get("view_name") != spec.views[0].name:
        plan.steps.append(Step("rename_view", spec.key, view=spec.views[0].name,
                               label=f"默认视图改名为「{spec.views[0].name}」",
                               label_en=f"rename the default view to {spec.views[0].name}",
                               detail={"view_id": default_view["view_id"]}))
        b.view_ids.setdefault(spec.key, {})[spec.views[0].name] = default_view["view_id"]
    _plan_views(plan, spec, views)
    if plan.rows.get(spec.key):
        plan.steps.append(_seed_step(spec))


def _plan_fields(plan: ProvisionPlan, spec: TableSpec, actual: list[dict]) -> None:
    b = plan.binding
    ids = b.field_ids.setdefault(spec.key, {})
    by_id = {f["field_id"]: f for f in actual}
    bound = {fid for fid in ids.values()}
    by_name = {f.get("field_name"): f for f in actual}
    for f in spec.fields:
        fid = ids.get(f.attr)
        a = by_id.get(fid) if fid else None
        matched_by_id = a is not None
        if a is None:
            cand = next((by_name[n] for n in (f.name, *f.aliases) if n in by_name
                         and (by_name[n]["field_id"] not in bound or by_name[n]["field_id"] == fid)), None)
            if cand is not None and cand["field_id"] in bound and cand["field_id"] != fid:
                cand = None  # that name now belongs to a field bound to another attr
            if cand is not None:
                if fid:
                    plan.findings.append(F.field_rebound(spec, f, fid, cand["field_id"]))
                a = cand
                ids[f.attr] = cand["field_id"]
            elif fid:
                finding = F.field_missing(spec, f, fid)
                plan.findings.append(finding)
                if plan.repair:
                    plan.steps.append(_create_field_step(spec, f, finding))
                continue
            else:
                plan.steps.append(_create_field_step(spec, f))
                continue
        actual_name = a.get("field_name") or f.name
        if actual_name != f.name:
            if actual_name in f.aliases:  # a Base made before the template used the seed's wording
                plan.findings.append(F.field_old_name(spec, f, actual_name))
            elif matched_by_id:
                plan.findings.append(F.field_renamed(spec, f, actual_name))
        note_name(b, spec.key, f.attr, actual_name)
        if int(a.get("type") or 0) != int(f.type):
            finding = F.field_type_changed(spec, f, int(a.get("type") or 0), actual_name)
            plan.findings.append(finding)
            if plan.repair:
                # never overwrite the type (people's cells would be converted or lost): set the
                # field aside under a new name, keeping its data, and create the spec's field
                aside = F.aside_name(f, int(a.get("type") or 0), {x.get("field_name") for x in actual})
                plan.steps.append(Step("set_aside_field", spec.key, attr=f.attr,
                                       label=f"字段 {spec.name}.{actual_name} 改名为「{aside}」（保留数据）",
                                       label_en=f"rename {spec.en}.{actual_name} to {aside} (data kept)",
                                       detail={"field_id": a["field_id"], "field_name": aside,
                                               "type": int(a.get("type") or 0), "ui_type": a.get("ui_type"),
                                               "property": a.get("property")}))
                plan.steps.append(_create_field_step(spec, f, finding))
                ids.pop(f.attr, None)
                note_name(b, spec.key, f.attr, f.name)  # the new field has the layout's name
            continue
        if f.options:
            prop = a.get("property") or {}
            have = [o.get("name") for o in prop.get("options") or []]
            missing = [o for o in f.options if o.name not in have]
            if missing:
                extra = [n for n in have if n not in f.option_names]
                finding = F.options_changed(spec, f, [o.name for o in missing], extra)
                plan.findings.append(finding)
                if plan.repair:
                    plan.steps.append(Step(
                        "fix_options", spec.key, attr=f.attr,
                        label=f"补回选项 {spec.name}.{actual_name}：{'、'.join(o.name for o in missing)}",
                        label_en=f"add options back to {spec.en}.{f.en}: {', '.join(o.name for o in missing)}",
                        detail={"field_id": a["field_id"], "field_name": actual_name, "type": int(a["type"]),
                                "ui_type": a.get("ui_type"), "property": prop,
                                "missing": [{"name": o.name, "color": o.color} for o in missing],
                                "finding": finding}))


def _plan_views(plan: ProvisionPlan, spec: TableSpec, actual: list[dict]) -> None:
    b = plan.binding
    ids = b.view_ids.setdefault(spec.key, {})
    by_id = {v["view_id"]: v for v in actual}
    by_name = {v.get("view_name"): v for v in actual}
    for v in spec.views:
        vid = ids.get(v.name)
        a = by_id.get(vid) if vid else None
        if a is None:
            a = by_name.get(v.name)
        if a is not None:
            ids[v.name] = a["view_id"]
        elif vid:
            finding = F.view_missing(spec, v.name, v.en or v.name)
            plan.findings.append(finding)
            if plan.repair:
                plan.steps.append(_create_view_step(spec, v, finding))
        else:
            plan.steps.append(_create_view_step(spec, v))

"""`gtm init`: make a Feishu Base match the table specs, as a diff (plan) and an apply step.

`plan_provision` reads what the Base holds (tables, fields, views; a few records where needed)
and compares it with `PLAN_TABLES`: what to create, what drifted. It writes nothing, so a dry run
is just the plan. `apply_provision` carries the plan out. Running both twice changes nothing the
second time (every object is found by the id remembered in the binding, then by name).

Rules that protect the users' Base:
- a field whose type someone changed is reported, never overwritten;
- a renamed field is followed (the binding remembers the new name), not renamed back;
- repair (`repair=True`) recreates deleted fields/tables/views and adds missing select options
  while keeping the user's own ones; it never deletes a field, table or record;
- template rows go only into tables created by this provisioning (or found empty on the first
  run); in a brand-new Base only the platform's empty default rows and unused default fields
  of its default table are removed.
"""
from __future__ import annotations

import copy
import json
import uuid
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Callable, TypeVar
from zoneinfo import ZoneInfo

from gtm.schemas.fields import FieldSpec, Kind, TableRegistry, TableSpec, ViewSpec
from gtm.schemas.tables import PLAN_TABLES, tables_for
from gtm.schemas.templates import get_template, layout
from gtm.sync import provision_findings as F
from gtm.sync.binding import BaseBinding
from gtm.sync.feishu.errors import NotFound
from gtm.sync.feishu.bitable import App, Bitable
from gtm.sync.feishu.gateway import Gateway
from gtm.sync.provision_findings import Finding
from gtm.sync.provision_read import Reader, is_empty_record
from gtm.sync.records import decode_record, encode_fields
from gtm.sync.store.registry import ProjectRow

Progress = Callable[[str, int, int], None]
T = TypeVar("T")

# Field types the create-table call accepts in its `fields` (docs/feishu-api.md §2.2); others are
# added one by one afterwards.
CREATE_TABLE_TYPES = {1, 2, 5, 13, 15, 20, 22}
BATCH = 500  # records per batch_create (docs/feishu-api.md §2.2: 500 is safe everywhere)


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


@dataclass
class ProvisionResult:
    binding: BaseBinding
    findings: list[Finding]
    created: dict[str, int]  # what was created: tables, fields, views, records, options
    reads: int
    writes: int
    base_created: bool = False
    base_url: str = ""

    @property
    def problems(self) -> list[Finding]:
        """Findings somebody should act on (not fixed, not informational)."""
        return [f for f in self.findings if not f.fixed and f.severity != "info"]


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


# -- applying ------------------------------------------------------------------------------
class _Applier:
    def __init__(self, plan: ProvisionPlan, gateway: Gateway, progress: Progress | None) -> None:
        self.plan, self.gw, self.progress = plan, gateway, progress
        self.b = plan.binding
        self.writes = 0
        self.reads = 0
        self.created = {"tables": 0, "fields": 0, "views": 0, "records": 0, "options": 0}
        self.record_ids: dict[str, dict[str, str]] = {}  # table key -> code -> record id

    def write(self, fn: Callable[[], T]) -> T:
        """One write call (counted for the result)."""
        self.writes += 1
        return fn()

    @property
    def bt(self) -> Bitable:
        return self.gw.bitable

    def run(self, steps: list[Step], offset: int = 0, total: int | None = None) -> None:
        total = total or len(steps)
        for i, step in enumerate(steps, start=offset + 1):
            getattr(self, "do_" + step.op)(step)
            finding = step.detail.get("finding")
            if finding is not None:
                finding.fixed = True
            if self.progress:
                self.progress(step.label, i, total)

    # each op --------------------------------------------------------------------------
    def do_create_table(self, step: Step) -> None:
        spec = self.plan.specs[step.table]
        inline = [spec.field(a) for a in step.detail["inline"]]
        made = self.write(lambda: self.bt.create_table(
            self.b.app_token, spec.name, [f.create_body(self.b.table_ids) for f in inline],
            default_view_name=spec.views[0].name if spec.views else None, context=spec.name))
        tid = made.table_id
        self.b.table_ids[spec.key] = tid
        self.created["tables"] += 1
        self.created["fields"] += len(inline)
        reader = Reader(self.gw)
        fields = reader.fields(self.b.app_token, tid, context=spec.name)
        self.reads += reader.calls
        by_name = {f.get("field_name"): f["field_id"] for f in fields}
        ids = self.b.field_ids.setdefault(spec.key, {})
        self.b.field_names.pop(spec.key, None)
        for f in inline:
            if f.name in by_name:
                ids[f.attr] = by_name[f.name]
                note_name(self.b, spec.key, f.attr, f.name)
        views = self.b.view_ids.setdefault(spec.key, {})
        views.clear()
        if spec.views:
            default_id = made.default_view_id
            if not default_id:
                listed = Reader(self.gw)
                vs = listed.views(self.b.app_token, tid, context=spec.name)
                self.reads += listed.calls
                default_id = vs[0]["view_id"] if vs else None
            if default_id:
                views[spec.views[0].name] = default_id

    def do_adopt_table(self, step: Step) -> None:
        spec = self.plan.specs[step.table]
        if step.detail.get("rename"):
            self.write(lambda: self.bt.rename_table(self.b.app_token, step.detail["table_id"], spec.name,
                                                    context=spec.name))

    def do_rename_field(self, step: Step) -> None:
        spec = self.plan.specs[step.table]
        f = spec.field(step.attr)
        body = f.create_body(self.b.table_ids)
        self.write(lambda: self.bt.update_field(self.b.app_token, self.b.table_ids[spec.key], step.detail["field_id"],
                                                body, context=f"{spec.name}.{f.name}"))

    def do_set_aside_field(self, step: Step) -> None:
        spec = self.plan.specs[step.table]
        d = step.detail
        body: dict[str, Any] = {"field_name": d["field_name"], "type": d["type"]}
        if d.get("ui_type"):
            body["ui_type"] = d["ui_type"]
        if d.get("property"):
            body["property"] = d["property"]
        self.write(lambda: self.bt.update_field(self.b.app_token, self.b.table_ids[spec.key], d["field_id"], body,
                                                context=f"{spec.name}.{d['field_name']}"))

    def do_delete_field(self, step: Step) -> None:
        spec = self.plan.specs[step.table]
        tid = self.b.table_ids[spec.key]
        self.write(lambda: self.bt.delete_field(self.b.app_token, tid, step.detail["field_id"],
                                                context=f"{spec.name}.{step.detail['field_name']}"))

    def do_create_field(self, step: Step) -> None:
        spec = self.plan.specs[step.table]
        f = spec.field(step.attr)
        tid = self.b.table_ids[spec.key]
        made = self.write(lambda: self.bt.create_field(self.b.app_token, tid, f.create_body(self.b.table_ids),
                                                       client_token=str(uuid.uuid4()), context=f"{spec.name}.{f.name}"))
        self.b.field_ids.setdefault(spec.key, {})[f.attr] = made["field_id"]
        note_name(self.b, spec.key, f.attr, f.name)
        self.created["fields"] += 1

    def do_fix_options(self, step: Step) -> None:
        spec = self.plan.specs[step.table]
        d = step.detail
        prop = dict(d["property"])
        prop["options"] = [{k: o[k] for k in ("id", "name", "color") if k in o} for o in prop.get("options") or []]
        prop["options"] += d["missing"]
        body = {"field_name": d["field_name"], "type": d["type"], "property": prop}
        if d.get("ui_type"):
            body["ui_type"] = d["ui_type"]
        tid = self.b.table_ids[spec.key]
        self.write(lambda: self.bt.update_field(self.b.app_token, tid, d["field_id"], body,
                                                context=f"{spec.name}.{d['field_name']}"))
        self.created["options"] += len(d["missing"])

    def do_create_view(self, step: Step) -> None:
        spec = self.plan.specs[step.table]
        v = next(x for x in spec.views if x.name == step.view)
        tid = self.b.table_ids[spec.key]
        view = self.write(lambda: self.bt.create_view(self.b.app_token, tid, v.name, v.type.value,
                                                      context=f"{spec.name}/{v.name}"))
        vid = view["view_id"]
        self.b.view_ids.setdefault(spec.key, {})[v.name] = vid
        self.created["views"] += 1
        if v.filters:
            self._patch_filter(spec, v, vid)

    def _patch_filter(self, spec: TableSpec, v: ViewSpec, vid: str) -> None:
        tid = self.b.table_ids[spec.key]
        ids = self.b.field_ids.get(spec.key, {})
        conditions = [{"field_id": ids[c.attr], "operator": c.operator,
                       "value": json.dumps(list(c.value), ensure_ascii=False)}
                      for c in v.filters if c.attr in ids]
        body = {"property": {"filter_info": {"conjunction": v.conjunction, "conditions": conditions}}}
        self.write(lambda: self.bt.patch_view(self.b.app_token, tid, vid, body, context=f"{spec.name}/{v.name}"))

    def do_rename_view(self, step: Step) -> None:
        spec = self.plan.specs[step.table]
        tid = self.b.table_ids[spec.key]
        vid = step.detail["view_id"]
        self.write(lambda: self.bt.patch_view(self.b.app_token, tid, vid, {"view_name": step.view},
                                              context=f"{spec.name}/{step.view}"))
        self.b.view_ids.setdefault(spec.key, {})[step.view] = vid

    def do_delete_rows(self, step: Step) -> None:
        spec = self.plan.specs[step.table]
        tid = self.b.table_ids[spec.key]
        ids = list(step.detail["record_ids"])
        for i in range(0, len(ids), BATCH):
            chunk = ids[i:i + BATCH]
            self.write(lambda: self.bt.batch_delete(self.b.app_token, tid, chunk, context=spec.name))

    def do_seed_rows(self, step: Step) -> None:
        spec = self.plan.specs[step.table]
        rows = self.plan.rows.get(spec.key) or []
        if not rows:
            return
        tz = ZoneInfo(self.plan.tz)
        encoded = [encode_fields(spec, self._resolve_links(spec, row), tz, self.b) for row in rows]
        tid = self.b.table_ids[spec.key]
        made: list[dict] = []
        for i in range(0, len(encoded), BATCH):
            chunk = encoded[i:i + BATCH]
            made.extend(self.write(lambda: self.bt.batch_create(self.b.app_token, tid, chunk,
                                                                client_token=str(uuid.uuid4()), context=spec.name)))
        self.created["records"] += len(made)
        if spec.key == "milestone":
            self.record_ids["milestone"] = {row["code"]: rec["record_id"] for row, rec in zip(rows, made)}

    def _resolve_links(self, spec: TableSpec, row: dict[str, Any]) -> dict[str, Any]:
        out = dict(row)
        for f in spec.fields:
            if f.kind is Kind.LINK and f.attr in out:
                codes = self._milestone_ids() if f.link_table == "milestone" else {}
                ids = [codes[c] for c in out[f.attr] if c in codes]
                if ids:
                    out[f.attr] = ids
                else:
                    out.pop(f.attr)
        return out

    def _milestone_ids(self) -> dict[str, str]:
        """Milestone code → record id (from this run's seeding, else read from the Base)."""
        if "milestone" not in self.record_ids:
            spec = self.plan.specs["milestone"]
            reader = Reader(self.gw)
            recs = reader.records(self.b.app_token, self.b.table_ids["milestone"], context=spec.name)
            self.reads += reader.calls
            out: dict[str, str] = {}
            for r in recs:
                model, _ = decode_record(spec, r, ZoneInfo(self.plan.tz), self.b)
                if getattr(model, "code", ""):
                    out.setdefault(model.code, r["record_id"])
            self.record_ids["milestone"] = out
        return self.record_ids["milestone"]



def base_url(source: BaseBinding | App | str, domain: str = "") -> str:
    """The Base's web address: the `url` Feishu returned on create, else built from the domain.

    `source` is a BaseBinding, a created Base (`App`) or an app token.
    `domain` is the tenant's web domain (e.g. "example" or "example.feishu.cn").
    """
    if isinstance(source, BaseBinding):
        if source.base_url:
            return source.base_url
        token = source.app_token
    elif isinstance(source, str):
        token = source
    else:
        if source.url:
            return source.url
        token = source.app_token
    if not token:
        return ""
    host = domain or "feishu.cn"
    if "://" in host:
        host = host.split("://", 1)[1]
    if "." not in host:
        host = f"{host}.feishu.cn"
    return f"https://{host.rstrip('/')}/base/{token}"


def apply_provision(plan: ProvisionPlan, gateway: Gateway, progress: Progress | None = None, *,
                    domain: str = "") -> ProvisionResult:
    """Carry out the plan. For a new Base: create it, then plan against it and apply that."""
    ap = _Applier(plan, gateway, progress)
    findings = list(plan.findings)
    created_base = False
    if plan.create_base:
        app = ap.write(lambda: gateway.bitable.create_app(plan.name, plan.tz, context=plan.name))
        created_base = True
        binding = BaseBinding(slug=plan.slug, app_token=app.app_token, timezone=plan.tz,
                              base_url=base_url(app, domain))
        if progress:
            progress(f"已创建多维表格「{plan.name}」", 1, max(1, len(plan.steps)))
        inner = plan_provision(gateway, plan.specs, binding, plan.name, plan.template, plan.start, plan.tz,
                               slug=plan.slug, repair=plan.repair, example=plan.example,
                               _fresh_table=app.default_table_id)
        ap.reads += inner.reads
        ap.plan = inner
        ap.b = inner.binding
        ap.run(inner.steps, offset=1, total=len(inner.steps) + 1)
        findings = list(inner.findings)
    else:
        ap.run(plan.steps)
    b = ap.b
    if not b.base_url:
        b.base_url = base_url(b, domain)
    return ProvisionResult(binding=b, findings=findings, created=ap.created, reads=plan.reads + ap.reads,
                           writes=ap.writes, base_created=created_base, base_url=b.base_url)


def provision(gateway: Gateway, *, name: str, template: str = "gtm", start: date,
              tz: str = "Asia/Shanghai", binding: BaseBinding | None = None, slug: str = "",
              repair: bool = False, dry_run: bool = False, progress: Progress | None = None,
              domain: str = "", example: bool = False) -> ProvisionPlan | ProvisionResult:
    """Plan and (unless `dry_run`) apply: what `gtm init` runs."""
    plan = plan_provision(gateway, tables_for(template), binding, name, template, start, tz, slug=slug,
                          repair=repair, example=example)
    if dry_run:
        return plan
    return apply_provision(plan, gateway, progress, domain=domain)


def register_project(store_session, slug: str, name: str, template: str, binding: BaseBinding,
                     chat_ids: list[str] | None = None):
    """Insert or update the project's registry row with the binding (ids, renamed field names)."""
    row = store_session.get(ProjectRow, slug)
    if row is None:
        row = ProjectRow(slug=slug)
        store_session.add(row)
    row.name = name or row.name or slug
    row.template = template
    for k, v in binding.to_row_fields().items():
        setattr(row, k, v)
    if chat_ids is not None:
        merged = list(row.chat_ids or [])
        merged += [c for c in chat_ids if c not in merged]
        row.chat_ids = merged
    row.active = True
    store_session.flush()
    return row

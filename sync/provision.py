"""`gtm init`: make a Feishu Base match the table specs, as a diff (plan) and an apply step.

`plan_provision` (`gtm.sync.provision_plan`) reads what the Base holds (tables, fields, views; a few records where needed)
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

import json
import uuid
from dataclasses import dataclass
from datetime import date
from typing import Any, Callable, TypeVar
from zoneinfo import ZoneInfo

from gtm.schemas.fields import Kind, TableSpec, ViewSpec
from gtm.schemas.tables import tables_for
from gtm.sync.binding import BaseBinding
from gtm.sync.feishu.bitable import App, Bitable
from gtm.sync.feishu.gateway import Gateway
from gtm.sync.provision_findings import Finding
from gtm.sync.provision_plan import ProvisionPlan, Step, note_name, plan_provision
from gtm.sync.provision_read import Reader
from gtm.sync.records import decode_record, encode_fields
from gtm.sync.store.registry import ProjectRow

Progress = Callable[[str, int, int], None]
T = TypeVar("T")

BATCH = 500  # records per batch_create (docs/feishu-api.md §2.2: 500 is safe everywhere)


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

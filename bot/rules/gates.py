"""Milestone gate: a milestone marked 完成 must have all exit criteria met and deliverables done.

Exit criteria (退出标准) and deliverables (交付物) point at their milestone through a link field.
A violation sends a 'gate' notice to the milestone owner (PM when none) and gives the RAG rule a
yellow reason "完成但未满足退出标准". The key carries a short digest of the unmet record ids, so a
new gap re-notifies while the same gap is told once.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime

from gtm.bot.rules import RuleResult, make_notice, owner_route, ref, require_aware
from gtm.bot.rules.calendar import WorkCalendar
from gtm.schemas.decisions import RecordRef
from gtm.schemas.plan import MilestoneStatus, PlanSnapshot
from gtm.schemas.settings import Policy

_DONE = MilestoneStatus.DONE.value


@dataclass(frozen=True)
class GateViolation:
    milestone: RecordRef
    unmet_criteria: tuple[RecordRef, ...]
    open_deliverables: tuple[RecordRef, ...]


def check_gates(snapshot: PlanSnapshot, now: datetime, policy: Policy,
                calendar: WorkCalendar | None = None
                ) -> tuple[RuleResult, list[GateViolation]]:
    require_aware(now)
    out = RuleResult()
    done = {m.record_id: m for m in snapshot.milestones if m.status == _DONE}
    if not done:
        return out, []
    unmet: dict[str, list[RecordRef]] = {}
    for c in snapshot.exit_criteria:
        if not c.met:
            for mid in c.milestone:
                if mid in done:
                    unmet.setdefault(mid, []).append(ref("exit_criterion", c))
    open_d: dict[str, list[RecordRef]] = {}
    for d in snapshot.deliverables:
        if d.status != _DONE:
            for mid in d.milestone:
                if mid in done:
                    open_d.setdefault(mid, []).append(ref("deliverable", d))
    found: list[GateViolation] = []
    for mid, m in done.items():
        crit, dels = unmet.get(mid, []), open_d.get(mid, [])
        if not crit and not dels:
            continue
        mref = ref("milestone", m)
        found.append(GateViolation(mref, tuple(crit), tuple(dels)))
        recipients, no_owner = owner_route(snapshot, "milestone", m, out)
        if not recipients:
            continue
        ids = ",".join(sorted(r.record_id for r in crit + dels))
        digest = hashlib.sha1(ids.encode()).hexdigest()[:10]
        parts, parts_en = [], []
        if crit:
            parts.append("未满足的退出标准：" + "；".join(r.label for r in crit))
            parts_en.append("unmet exit criteria: " + "; ".join(r.label for r in crit))
        if dels:
            parts.append("未完成的交付物：" + "；".join(r.label for r in dels))
            parts_en.append("deliverables not done: " + "; ".join(r.label for r in dels))
        out.notices.append(make_notice(
            kind="gate", key=f"gate:milestone:{mid}:{digest}", recipients=recipients,
            record=mref, digest=False, title=f"里程碑完成但未满足退出标准：{mref.label}",
            text=(f"里程碑「{mref.label}」已标记为完成，但" + "，".join(parts)
                  + "。请补齐后再验收，或把状态改回进行中。"),
            text_en=(f"Milestone \"{mref.label}\" is marked done, but " + ", ".join(parts_en)
                     + ". Complete them or set the milestone back to in progress."),
            data={"unmet_criteria": [r.record_id for r in crit],
                  "open_deliverables": [r.record_id for r in dels], "no_owner": no_owner}))
    return out, found

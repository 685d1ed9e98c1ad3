"""Who may change a record from chat: the rule card buttons and typed updates share.

The item's owner, the project's PM or management may act on it (`may_act`); a milestone is
signed off by its 审批人 (A), or the PM when it has none (`may_sign`). Pure functions of the
snapshot.
"""
from __future__ import annotations

from gtm.schemas.plan import PlanSnapshot, Record


def find_row(snap: PlanSnapshot, table: str, record_id: str) -> Record | None:
    return next((r for r in snap.rows(table) if r.record_id == record_id), None)


def owners_of(row: Record) -> set[str]:
    people = set()
    owner = getattr(row, "owner", None)
    if owner is not None:
        people.add(owner.open_id)
    return people


def may_act(snap: PlanSnapshot, row: Record, open_id: str) -> bool:
    """The item's owner, the project's PM or a member of management."""
    if not open_id:
        return False
    allowed = owners_of(row)
    if snap.project.pm:
        allowed.add(snap.project.pm.open_id)
    allowed.update(p.open_id for p in snap.project.management)
    return open_id in allowed


def may_sign(snap: PlanSnapshot, row: Record, open_id: str) -> bool:
    """A milestone's 审批人 (A); the PM when it has none."""
    approvers = {p.open_id for p in getattr(row, "approver", []) if p.open_id}
    if not approvers and snap.project.pm:
        approvers = {snap.project.pm.open_id}
    return bool(open_id) and open_id in approvers

"""Helpers for rule tests: instants in a zone, people, a small plan builder. No wall clock."""
from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from gtm.schemas.plan import Person, PlanSnapshot, ProjectInfo

SH = ZoneInfo("Asia/Shanghai")
NY = ZoneInfo("America/New_York")

PM = Person(open_id="ou_pm", name="王经理")
BOSS1 = Person(open_id="ou_boss1", name="李总")
BOSS2 = Person(open_id="ou_boss2", name="赵总")
ALICE = Person(open_id="ou_alice", name="Alice")


def at(y: int, m: int, d: int, hh: int = 0, mm: int = 0, tz: ZoneInfo = SH) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=tz)


def project(**kw) -> ProjectInfo:
    base = dict(record_id="rec_proj", name="星火发布", pm=PM, management=[BOSS1, BOSS2])
    base.update(kw)
    return ProjectInfo(**base)


def plan(**kw) -> PlanSnapshot:
    kw.setdefault("project", project())
    return PlanSnapshot(project_slug="demo", **kw)

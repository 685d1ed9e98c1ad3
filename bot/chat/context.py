"""What an answer is computed from: the asker's context (`AskContext`) and each project in it.

`gtm.bot.chat.ask.build_context` fills an `AskContext` (the chat's project, its mirrored
snapshot and rules result, the asker, `now`; in p2p chats and for 全部项目 also every project of
the asker as `ProjectData`), and the command's handler turns it into a view-model. Pure data.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from gtm.bot.rules import queries as Q
from gtm.schemas.decisions import CheckResult
from gtm.schemas.plan import PlanSnapshot
from gtm.schemas.settings import Policy


@dataclass
class ProjectData:
    """One project the asker belongs to (for p2p answers and the portfolio)."""

    name: str
    snapshot: PlanSnapshot
    check: CheckResult | None = None
    slug: str = ""
    index: Q.ItemIndex | None = None  # open items of `snapshot`, when the caller has them cached
    policy: Policy | None = None  # the project's own (its template's words, money unit); else the context's

    def items(self) -> Q.ItemIndex:
        """The open-item index of the snapshot (built here when the caller did not bring one)."""
        if self.index is None:
            self.index = Q.ItemIndex(self.snapshot)
        return self.index


@dataclass
class AskContext:
    project_name: str = ""
    project_slug: str = ""
    snapshot: PlanSnapshot | None = None  # None: the chat is not linked to a project
    check: CheckResult | None = None
    now: datetime | None = None  # aware; required
    policy: Policy = field(default_factory=Policy)
    asker: str = ""  # open_id
    locale: str = "zh"
    chat_id: str = ""
    chat_type: str = "group"  # group | p2p
    projects: list[ProjectData] = field(default_factory=list)  # every project of the asker
    previous_report: dict | None = None  # last weekly summary, for "what changed"
    index: Q.ItemIndex | None = None  # open items of `snapshot` (see `ProjectData.index`)

    @property
    def tz(self) -> ZoneInfo:
        return self.policy.tz

    def current(self) -> ProjectData | None:
        if self.snapshot is None:
            return None
        if self.index is None:  # built once per context: `current()` is called several times
            self.index = Q.ItemIndex(self.snapshot)
        return ProjectData(self.project_name or self.snapshot.project.name or self.project_slug,
                           self.snapshot, self.check, self.project_slug or self.snapshot.project_slug,
                           self.index)

    def scope(self) -> list[ProjectData]:
        """The chat's project, or (p2p without one) all the asker's projects."""
        cur = self.current()
        return [cur] if cur else list(self.projects)


def now_of(ctx: AskContext) -> datetime:
    """The context's `now` (raises when it is missing or naive: answers count days in a zone)."""
    if ctx.now is None or ctx.now.tzinfo is None:
        raise ValueError("AskContext.now must be an aware datetime")
    return ctx.now


def as_of(ctx: AskContext) -> str:
    """`now` in the context's zone, as answers print it."""
    return now_of(ctx).astimezone(ctx.tz).strftime("%Y-%m-%d %H:%M")

"""The project registry: one row per project served by this deployment (issue: several projects)."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, String, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from gtm.sync.store.base import Base, UTCDateTime, utcnow


class ProjectRow(Base):
    __tablename__ = "projects"

    slug: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(255), default="")
    template: Mapped[str] = mapped_column(String(32), default="gtm")
    base_token: Mapped[str] = mapped_column(String(128), default="")
    base_url: Mapped[str] = mapped_column(String(512), default="")
    # {"task": "tbl…"}, {"task": {"status": "fld…"}}, {"task": {"逾期": "vew…"}} keyed by spec keys/attrs
    table_ids: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    field_ids: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    view_ids: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    chat_ids: Mapped[list[str]] = mapped_column(JSON, default=list)
    timezone: Mapped[str] = mapped_column(String(64), default="Asia/Shanghai")
    policy_overrides: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_check_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_report_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_error: Mapped[str] = mapped_column(String(2000), default="")


def get_project(s: Session, slug: str) -> ProjectRow | None:
    return s.get(ProjectRow, slug)


def list_projects(s: Session, *, active_only: bool = False) -> list[ProjectRow]:
    q = select(ProjectRow).order_by(ProjectRow.slug)
    if active_only:
        q = q.where(ProjectRow.active.is_(True))
    return list(s.scalars(q))


def project_for_chat(s: Session, chat_id: str) -> ProjectRow | None:
    """The active project bound to a group chat (a chat is bound to at most one project)."""
    for row in list_projects(s, active_only=True):
        if chat_id in (row.chat_ids or []):
            return row
    return None

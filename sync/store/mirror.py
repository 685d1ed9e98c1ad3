"""The local mirror of each project's Base: raw records plus per-table sync bookkeeping.

Raw read-format JSON is kept (not decoded models) so a codec fix or a new field needs no re-read,
and so write-back can compare a planned value with exactly what Feishu holds.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from gtm.sync.store.base import Base, UTCDateTime


class MirrorRecord(Base):
    """One Feishu record as last read: its fields in read format and its last_modified_time."""

    __tablename__ = "mirror_records"
    __table_args__ = (UniqueConstraint("project", "table_key", "record_id", name="uq_mirror_record"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    project: Mapped[str] = mapped_column(String(64), index=True)
    table_key: Mapped[str] = mapped_column(String(32))
    record_id: Mapped[str] = mapped_column(String(64))
    fields: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    modified_ms: Mapped[int] = mapped_column(BigInteger, default=0)


class MirrorTable(Base):
    """Sync state of one table of one project.

    `version` bumps whenever a record of the table changes, so decoded models can be cached by it.
    `watermark_ms` is the newest last_modified_time seen (incremental reads start there).
    """

    __tablename__ = "mirror_tables"

    project: Mapped[str] = mapped_column(String(64), primary_key=True)
    table_key: Mapped[str] = mapped_column(String(32), primary_key=True)
    table_id: Mapped[str] = mapped_column(String(64), default="")
    version: Mapped[int] = mapped_column(Integer, default=0)
    watermark_ms: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    record_count: Mapped[int] = mapped_column(Integer, default=0)
    last_refresh_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_full_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_calls: Mapped[int] = mapped_column(Integer, default=0)


class MirrorChange(Base):
    """Which records one change of a table touched, by the version it made: the mirrors of every
    replica read these to re-decode just those rows after another replica's change (`Mirror._decoded`).
    Written in the transaction that moves the version on; the last `CHANGE_LOG` per table are kept.
    `record_ids` is None when the change touched too many records to list (then a full decode)."""

    __tablename__ = "mirror_changes"

    project: Mapped[str] = mapped_column(String(64), primary_key=True)
    table_key: Mapped[str] = mapped_column(String(32), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    record_ids: Mapped[list[str] | None] = mapped_column(JSON, nullable=True)

"""The slots of the shared rate limiter (`gtm.sync.feishu.ratelimit_shared`): one row per request an app
may have in flight within one window, per API family; `sent_at` is when it was last used."""
from __future__ import annotations

from sqlalchemy import Float, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from gtm.sync.store.base import Base


class RateSlot(Base):
    """One of the `limit` most recent requests of (app, family), in seconds of the database clock."""

    __tablename__ = "rate_slots"

    app_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    family: Mapped[str] = mapped_column(String(32), primary_key=True)
    slot: Mapped[int] = mapped_column(Integer, primary_key=True)
    sent_at: Mapped[float] = mapped_column(Float, default=0.0)

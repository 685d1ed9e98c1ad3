"""Helpers shared by the store tests (a module with a unique name: test folders are not packages)."""
from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from gtm.schemas.decisions import Notice, RecordRef

SH = ZoneInfo("Asia/Shanghai")
BERLIN = ZoneInfo("Europe/Berlin")


def at(y: int, mo: int, d: int, h: int = 10, mi: int = 0, tz=SH) -> datetime:
    return datetime(y, mo, d, h, mi, tzinfo=tz)


def notice(kind: str, rec: str, recipients: list[str], *, digest: bool = False, level: int | None = None) -> Notice:
    return Notice(kind=kind, key=f"{kind}:task:{rec}:{level or 'd1'}", recipients=recipients,
                  record=RecordRef(table="task", record_id=rec, label=f"任务 {rec}"), level=level,
                  digest=digest, title=f"{kind} {rec}", text=f"记录 {rec} 需要处理")

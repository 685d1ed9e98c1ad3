"""The delivery-health watchdog: failures that would reach nobody become alerts that reach someone.

Before: a bot removed from the group (230002), an owner who left (230029), a 429 storm, a deleted
table each showed only in one `check` table and as a "未送达" line in the next weekly report — sent
to the same broken group. Now every cause is found from the store (so `gtm doctor`, `/metrics`,
`/readyz` and the check all see the same list) and becomes **one alert per cause per day**, a
direct message to the PM and the admins with the fix — to the admins only when the PM is the one
who cannot be reached. The alert is a `delivery_failed` notice: the ledger's key
(`health:<cause>:<local day>`) makes it once a day however often the cause recurs.

Causes: bot not in the chat, recipient left/unreachable, rate-limit storm, a send interrupted past
the one-hour uuid window (uncertain), token/credential failures, a deleted Base/table or lost access
(a failed job), schema drift, holiday data falling back.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from gtm.schemas.decisions import Notice
from gtm.sync.feishu.errors import AUTH_CODES, NOT_FOUND_CODES, PERMISSION_CODES, RATE_LIMIT_CODES
from gtm.sync.store.base import Store
from gtm.sync.store.ledger import NotificationRow, SystemProblemRow
from gtm.sync.store.registry import get_project

WINDOW = timedelta(hours=24)
RATE_STORM = 3  # messages held back by 429s, or runs one message was held back: a storm

# cause → (title zh, title en, fix zh, fix en)
CAUSES: dict[str, tuple[str, str, str, str]] = {
    "bot_not_in_chat": ("机器人已不在项目群中，群消息无法送达", "The bot is no longer in the project group",
                        "把机器人重新加入项目群（群设置 → 群机器人 → 添加机器人），或用 `gtm projects link` 关联新群",
                        "add the bot back to the group (group settings → bots → add), or link another group "
                        "with `gtm projects link`"),
    "recipient_left": ("接收人已离职或不在应用可用范围内，消息无法送达", "A recipient left or is outside the app's scope",
                       "在多维表格中更换负责人，或在开发者后台把此人加入应用可用范围",
                       "change the owner in the Base, or add the person to the app's availability scope"),
    "send_rejected": ("飞书拒收了消息", "Feishu refused messages",
                      "查看 `gtm check` 的原因列；修正后服务会在下次检查时发送新提醒",
                      "see the reason column of `gtm check`; new reminders go out after the fix"),
    "rate_limited": ("飞书持续限流（429），提醒被推迟", "Sustained Feishu rate limiting (429) is delaying reminders",
                     "检查是否有其他应用或脚本共用同一应用凭证；服务会自动退避重试",
                     "check whether other apps or scripts share these app credentials; the service backs off "
                     "and retries by itself"),
    "uncertain": ("有消息发送中断超过 1 小时，为免重复未重发，可能未送达", "A send was interrupted over an hour ago "
                  "and not re-sent (it may not have arrived)",
                  "在 `gtm check` 的结果中找到“不确定是否已送达”的行，必要时手动告知接收人",
                  "find the “uncertain” rows in `gtm check` and tell the recipients by hand if needed"),
    "token": ("应用凭证失效，无法调用飞书", "The app credentials are failing",
              "检查 GTM_FEISHU_APP_ID / GTM_FEISHU_APP_SECRET，运行 `gtm doctor`",
              "check GTM_FEISHU_APP_ID / GTM_FEISHU_APP_SECRET and run `gtm doctor`"),
    "base_missing": ("多维表格或数据表已被删除或无权访问，检查和提醒已中断", "The Base or a table was deleted or access "
                     "was lost; checks and reminders stopped",
                     "从飞书回收站恢复，或运行 `gtm init --repair`；确认应用仍有多维表格权限",
                     "restore it from the Feishu recycle bin or run `gtm init --repair`; check the app still "
                     "has access to the Base"),
    "job_failed": ("定时任务失败，提醒和周报可能中断", "A scheduled job failed; reminders and reports may stop",
                   "查看 `gtm projects` 与服务日志；修复后下次运行会自动恢复",
                   "see `gtm projects` and the service log; the next run recovers after the fix"),
    "drift": ("规则依赖的字段被删除或改了类型，部分事项无法判断", "Fields the rules need were deleted or retyped",
              "运行 `gtm init --repair`", "run `gtm init --repair`"),
    "holiday_fallback": ("节假日数据缺失，已退回到备用日历", "Holiday data is missing; a fallback calendar is used",
                         "升级 chinesecalendar / holidays，或在策略中设置 extra_holidays / extra_workdays",
                         "upgrade chinesecalendar / holidays, or set extra_holidays / extra_workdays in the policy"),
}
_LEFT_CODES = {230013, 230029, 230053, 230034, 230006, 230035}
_BOT_OUT_CODES = {230002, 232009}


@dataclass(frozen=True)
class HealthIssue:
    """One cause, with how often it was seen, an example and who could not be reached."""

    project: str
    cause: str
    count: int
    example: str = ""
    unreachable: tuple[str, ...] = ()

    @property
    def title(self) -> str:
        return CAUSES[self.cause][0]

    @property
    def title_en(self) -> str:
        return CAUSES[self.cause][1]

    @property
    def fix(self) -> str:
        return CAUSES[self.cause][2]

    @property
    def fix_en(self) -> str:
        return CAUSES[self.cause][3]

    def line(self, lang: str = "zh") -> str:
        if lang == "en":
            return f"{self.project}: {self.title_en} ({self.count}×) — fix: {self.fix_en}"
        return f"{self.project}：{self.title}（{self.count} 次）— 处理：{self.fix}"


def _cause_of_code(code: int | None, reason: str) -> str | None:
    if reason.startswith("不确定是否已送达"):
        return "uncertain"
    if code in _BOT_OUT_CODES:
        return "bot_not_in_chat"
    if code in _LEFT_CODES:
        return "recipient_left"
    if code in RATE_LIMIT_CODES or code == 429:
        return "rate_limited"
    if code in AUTH_CODES:
        return "token"
    if code in NOT_FOUND_CODES or code in PERMISSION_CODES:
        return "base_missing"
    return None


def _cause_of_problem(message: str) -> str:
    if any(w in message for w in ("NotFound", "PermissionDenied", "已被删除", "not found")):
        return "base_missing"
    if "AuthError" in message:
        return "token"
    return "job_failed"


def collect(session: Session, project: str, now: datetime, *, window: timedelta = WINDOW,
            extra: dict[str, str] | None = None) -> list[HealthIssue]:
    """Every delivery-health cause of `project` seen in the last `window` (business clock `now`,
    the instant the notices are stamped with). `extra`: causes known outside the store
    (cause → example), e.g. the holiday calendar falling back."""
    since = now - window
    found: dict[str, list[Any]] = {}
    limited_attempts: list[tuple[int, int]] = []
    rows = session.scalars(select(NotificationRow).where(
        NotificationRow.project == project, NotificationRow.updated_at >= since,
        NotificationRow.status.in_(("failed", "pending")), NotificationRow.attempts > 0))
    for r in rows:
        if r.kind == "delivery_failed" and r.status == "failed" and r.error_code in _LEFT_CODES:
            cause = "recipient_left"  # our own alert could not reach someone: the next goes elsewhere
        else:
            cause = _cause_of_code(r.error_code, r.error_reason or "")
        if cause is None:
            if r.status != "failed":
                continue
            cause = "send_rejected"
        found.setdefault(cause, []).append((r.recipient, f"{r.error_code or ''} {r.error_reason}".strip()))
        if cause == "rate_limited":
            limited_attempts.append((r.attempts, r.id))
    for p in session.scalars(select(SystemProblemRow).where(
            SystemProblemRow.project == project, SystemProblemRow.created_at >= since,
            SystemProblemRow.resolved.is_(False))):
        found.setdefault(_cause_of_problem(p.message), []).append(("", p.message[:200]))
    limited = found.get("rate_limited", [])
    if limited and len(limited) < RATE_STORM and max(a for a, _ in limited_attempts) < RATE_STORM:
        del found["rate_limited"]  # one message held back once is a blip, not a storm
    row = get_project(session, project)
    gaps = ((row.field_ids or {}).get("_drift") or []) if row is not None else []
    if gaps:
        found.setdefault("drift", []).extend(("", f"{g.get('table')}.{g.get('field')} {g.get('kind')}")
                                             for g in gaps)
    for cause, example in (extra or {}).items():
        found.setdefault(cause, []).append(("", example))
    out = []
    for cause, seen in found.items():
        unreachable = tuple(dict.fromkeys(r for r, _ in seen if r and cause in ("recipient_left",
                                                                                 "bot_not_in_chat")))
        out.append(HealthIssue(project, cause, len(seen), seen[0][1][:200], unreachable))
    return sorted(out, key=lambda i: list(CAUSES).index(i.cause))


def alert_recipients(pm: str, admins: list[str], issue: HealthIssue) -> list[str]:
    """PM and admins by direct message; the admins only when the PM is the one who is unreachable."""
    people = [a for a in admins if a and a not in issue.unreachable]
    if pm and pm not in issue.unreachable:
        people.insert(0, pm)
    return list(dict.fromkeys(people))


def health_notices(project_slug: str, project_name: str, pm: str, admins: list[str],
                   issues: list[HealthIssue], now: datetime, tz: tzinfo) -> list[Notice]:
    """One `delivery_failed` alert per cause per local day."""
    day = now.astimezone(tz).date().isoformat()
    out = []
    for i in issues:
        who = alert_recipients(pm, admins, i)
        if not who:
            continue
        out.append(Notice(
            kind="delivery_failed", key=f"health:{i.cause}:{day}", recipients=who, title="送达问题",
            text=f"项目「{project_name}」：{i.title}（今天 {i.count} 次）。", text_en=f"Project “{project_name}”: "
                 f"{i.title_en} ({i.count}× today).",
            data={"detail": i.example, "fix": f"{i.fix} / {i.fix_en}",
                  "recipient": ", ".join(i.unreachable)}))
    return out


def health_report(store: Store, projects: list[str], now: datetime) -> list[HealthIssue]:
    """The same list for `gtm doctor`, `/metrics` and `/readyz`: every project's causes now."""
    out: list[HealthIssue] = []
    with store.session() as s:
        for slug in projects:
            out += collect(s, slug, now)
    return out


def alerts_sent(store: Store) -> dict[tuple[str, str], int]:
    """Watchdog alerts delivered so far, by (project, cause) — a counter kept by the ledger."""
    counts: dict[tuple[str, str], int] = {}
    with store.session() as s:
        for project, key in s.execute(select(NotificationRow.project, NotificationRow.key).where(
                NotificationRow.kind == "delivery_failed", NotificationRow.status == "sent")):
            parts = key.split(":")
            cause = parts[1] if len(parts) > 2 and parts[0] == "health" else "other"
            counts[(project, cause)] = counts.get((project, cause), 0) + 1
    return counts

"""Every setting with its range and an example: the one table behind docs/SETTINGS.md, the
examples in settings error messages and `gtm doctor`'s check of the live configuration.

`python -m gtm.schemas.settings_table > docs/SETTINGS.md` regenerates the document (a test
compares them).
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import time
from typing import Any, Callable
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy.engine import make_url

from gtm.schemas.plan import FIRST_YEAR, LAST_YEAR, plausible_date


@dataclass(frozen=True)
class Setting:
    env: str  # GTM_… name
    attr: str  # path in Settings ("policy.check_interval_minutes")
    range: str  # what is allowed, for people
    example: str
    meaning: str
    check: Callable[[Any], str] | None = None  # "" when the value is allowed, else why not
    secret: bool = False

    def problem(self, value: Any) -> str:
        return self.check(value) if self.check is not None else ""


def _num(lo: float | None, hi: float | None, *, lo_open: bool = False) -> Callable[[Any], str]:
    def check(v: Any) -> str:
        if isinstance(v, bool) or not isinstance(v, (int, float)) or (isinstance(v, float) and not math.isfinite(v)):
            return "not a finite number"
        if lo is not None and (v <= lo if lo_open else v < lo):
            return f"must be {'>' if lo_open else '≥'} {lo}"
        if hi is not None and v > hi:
            return f"must be ≤ {hi}"
        return ""
    return check


def _choice(*options: str) -> Callable[[Any], str]:
    return lambda v: "" if str(v) in options else f"must be one of {', '.join(options)}"


def _tz(v: Any) -> str:
    try:
        ZoneInfo(str(v))
    except (ZoneInfoNotFoundError, ValueError):
        return "not an IANA timezone"
    return ""


def _pattern(rx: str, what: str, empty_ok: bool = True) -> Callable[[Any], str]:
    compiled = re.compile(rx)
    return lambda v: "" if (empty_ok and not v) or compiled.fullmatch(str(v)) else f"not {what}"


def _days(v: Any) -> str:
    if not isinstance(v, list) or not v or any(not isinstance(x, int) or x <= 0 or x > 365 for x in v):
        return "must be a list of days 1–365"
    return "" if all(b > a for a, b in zip(v, v[1:])) else "must be strictly ascending"


def _dates(v: Any) -> str:
    if not isinstance(v, list) or any(not plausible_date(x) for x in v):
        return f"must be a list of dates {FIRST_YEAR}–{LAST_YEAR}"
    return ""


def _time(v: Any) -> str:
    return "" if isinstance(v, time) else "not a time of day (HH:MM)"


def _bool(v: Any) -> str:
    return "" if isinstance(v, bool) else "not true/false"


def _db(v: Any) -> str:
    scheme = str(v).split(":", 1)[0].split("+", 1)[0].lower()
    return "" if scheme in ("sqlite", "postgresql") else "only sqlite:///… or postgresql://…"


S = Setting
SETTINGS: tuple[Setting, ...] = (
    S("GTM_FEISHU_APP_ID", "feishu_app_id", "cli_… (empty: embedded sandbox)", "cli_a1b2c3d4e5f6a7b8",
      "Feishu app id (开发者后台 › 凭证与基础信息)", _pattern(r"cli_[A-Za-z0-9]+", "an app id (cli_…)")),
    S("GTM_FEISHU_APP_SECRET", "feishu_app_secret", "text; set together with the app id", "(from the console)",
      "Feishu app secret", secret=True),
    S("GTM_FEISHU_DOMAIN", "feishu_domain", "https origin (http only on 127.0.0.1/::1/localhost)",
      "https://open.feishu.cn", "Open Platform origin; Lark: https://open.larksuite.com"),
    S("GTM_FEISHU_ENCRYPT_KEY", "feishu_encrypt_key", "text; required for GTM_TRANSPORT=webhook", "(from the console)",
      "Encrypt Key of 事件与回调 (webhook: AES + signature)", secret=True),
    S("GTM_FEISHU_VERIFICATION_TOKEN", "feishu_verification_token", "text", "(from the console)",
      "Verification Token of 事件与回调", secret=True),
    S("GTM_SANDBOX", "sandbox", "0 | 1 (only without app id/secret)", "0",
      "run on the embedded local sandbox on purpose (`gtm serve --sandbox`)", _bool),
    S("GTM_BASE_TOKEN", "base_token", "Base app_token or empty", "bascnAbCdEf123456",
      "one-project shortcut: adopt this Base", _pattern(r"[A-Za-z0-9]{8,64}", "an app_token")),
    S("GTM_CHAT_ID", "chat_id", "oc_… or empty", "oc_5ad11d72b830411d72b836c20",
      "one-project shortcut: the project group", _pattern(r"oc_[A-Za-z0-9_]{6,64}", "a chat id (oc_…)")),
    S("GTM_DATABASE_URL", "database_url", "sqlite:///PATH (folder must exist) or postgresql://…",
      "sqlite:///gtm.db", "the state store", _db),
    S("GTM_TIMEZONE", "timezone", "IANA timezone", "Asia/Shanghai", "process timezone", _tz),
    S("GTM_TRANSPORT", "transport", "ws | webhook | none", "ws", "how events arrive", _choice("ws", "webhook", "none")),
    S("GTM_WEBHOOK_INSECURE", "webhook_insecure", "0 | 1", "0",
      "webhook without Encrypt Key (token only, forgeable): trials only", _bool),
    S("GTM_HTTP_HOST", "http_host", "host or IP", "127.0.0.1", "HTTP listen address (health, metrics, webhook)"),
    S("GTM_HTTP_PORT", "http_port", "0–65535 (0: any free port)", "8080", "HTTP listen port", _num(0, 65535)),
    S("GTM_REQUEST_TIMEOUT_SECONDS", "request_timeout_seconds", "> 0 and ≤ 300", "10",
      "timeout of one Feishu call", _num(0, 300, lo_open=True)),
    S("GTM_BATCH_LIMIT", "batch_limit", "1–500", "500", "records per Feishu batch write", _num(1, 500)),
    S("GTM_BASE_PERMISSION", "base_permission", "view | edit", "edit", "what the project group gets on the Base",
      _choice("view", "edit")),
    S("GTM_LOG_LEVEL", "log_level", "DEBUG | INFO | WARNING | ERROR | CRITICAL", "INFO", "log verbosity",
      _choice("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")),
    S("GTM_LEADER_RETRY_SECONDS", "leader_retry_seconds", "> 0 and ≤ 300", "3",
      "standby replicas: seconds between leader-lock attempts", _num(0, 300, lo_open=True)),
    S("GTM_LEADER_TTL_SECONDS", "leader_ttl_seconds", "> 0 and ≤ 600", "10",
      "the leader's lease; a dead leader is replaced within ttl + retry seconds", _num(0, 600, lo_open=True)),
    S("GTM_EDIT_DEBOUNCE_SECONDS", "edit_debounce_seconds", "0–60", "1.5",
      "record-change events: wait this long for more edits before re-running the rules", _num(0, 60)),
    S("GTM_POLICY__TIMEZONE", "policy.timezone", "IANA timezone", "Asia/Shanghai", "the plan's timezone", _tz),
    S("GTM_POLICY__ESCALATION_DAYS", "policy.escalation_days", "ascending days 1–365, comma-separated or a JSON list", "3,7",
      "问题/阻塞 open this long → PM, then management (docs/seeds/002 §2.4)", _days),
    S("GTM_POLICY__ESCALATION_DAY_COUNT", "policy.escalation_day_count", "calendar | working", "calendar",
      "how escalation days are counted", _choice("calendar", "working")),
    S("GTM_POLICY__ESCALATION_REPEAT_AFTER_DAYS", "policy.escalation_repeat_after_days", "0–365 (0: never)", "1",
      "an unacknowledged level is repeated this often", _num(0, 365)),
    S("GTM_POLICY__ESCALATION_REPEAT_DAY_COUNT", "policy.escalation_repeat_day_count", "calendar | working",
      "working", "how repeat days are counted", _choice("calendar", "working")),
    S("GTM_POLICY__DUE_SOON_WORKING_DAYS", "policy.due_soon_working_days", "0–30", "2",
      "due within this many working days → reminder", _num(0, 30)),
    S("GTM_POLICY__OVERDUE_REMINDER", "policy.overdue_reminder", "daily_digest | never | every_check",
      "daily_digest", "reminders after the first overdue notice", _choice("daily_digest", "never", "every_check")),
    S("GTM_POLICY__BUDGET_OVERRUN_RATIO", "policy.budget_overrun_ratio", "0–10 (finite)", "0.10",
      "spend over budget by more than this → change request (docs/seeds/002 §2.4: 10%)", _num(0, 10)),
    S("GTM_POLICY__RED_RISK_SCORE", "policy.red_risk_score", "1–9, ≥ yellow", "6", "风险评分 from which a risk is red",
      _num(1, 9)),
    S("GTM_POLICY__YELLOW_RISK_SCORE", "policy.yellow_risk_score", "1–9, ≤ red", "4",
      "风险评分 from which a risk is yellow", _num(1, 9)),
    S("GTM_POLICY__DEPENDENCY_WARNING_DAYS", "policy.dependency_warning_days", "0–365", "7",
      "a pending dependency needed within this many days → yellow", _num(0, 365)),
    S("GTM_POLICY__QUIET_START", "policy.quiet_start", "HH:MM", "21:00", "nothing is sent from …", _time),
    S("GTM_POLICY__QUIET_END", "policy.quiet_end", "HH:MM", "08:30", "… until", _time),
    S("GTM_POLICY__QUIET_ON_NON_WORKING_DAYS", "policy.quiet_on_non_working_days", "true | false", "true",
      "nothing is sent on weekends and holidays", _bool),
    S("GTM_POLICY__EXTRA_HOLIDAYS", "policy.extra_holidays", "dates 2000–2100, comma-separated or a JSON list", "2026-12-31,2027-01-02",
      "company holidays on top of the China calendar", _dates),
    S("GTM_POLICY__EXTRA_WORKDAYS", "policy.extra_workdays", "dates 2000–2100, comma-separated or a JSON list", "2026-10-10",
      "company make-up working days", _dates),
    S("GTM_POLICY__CHECK_INTERVAL_MINUTES", "policy.check_interval_minutes", "1–1440", "30",
      "minutes between scheduled checks", _num(1, 1440)),
    S("GTM_POLICY__DIGEST_TIME", "policy.digest_time", "HH:MM", "09:00", "the morning digest", _time),
    S("GTM_POLICY__REPORT_WEEKDAY", "policy.report_weekday", "0–6 (0 = Monday)", "0", "weekly report day",
      _num(0, 6)),
    S("GTM_POLICY__REPORT_TIME", "policy.report_time", "HH:MM", "09:30", "weekly report time", _time),
    S("GTM_POLICY__RECONCILE_TIME", "policy.reconcile_time", "HH:MM", "02:00", "nightly full re-read", _time),
    S("GTM_POLICY__WORKING_HOURS_START", "policy.working_hours_start", "HH:MM", "08:30", "working day starts",
      _time),
    S("GTM_POLICY__WORKING_HOURS_END", "policy.working_hours_end", "HH:MM", "21:00", "working day ends", _time),
    S("GTM_POLICY__HOLIDAY_COUNTRY", "policy.holiday_country", "ISO 3166 code or none", "CN",
      "statutory holidays after chinesecalendar (none: Mon–Fri)",
      _pattern(r"[A-Z]{2}|none", "a country code (e.g. CN) or none", empty_ok=False)),
    S("GTM_POLICY__ADMINS", "policy.admins", "open_ids, comma-separated or a JSON list", "ou_…,ou_…",
      "hear of system problems with the PM", lambda v: "" if isinstance(v, list) and all(
          isinstance(x, str) and x.startswith("ou_") for x in v) else "must be a list of open_ids (ou_…)"),
    S("GTM_POLICY__LOCALE", "policy.locale", "zh | en", "zh", "language of cards and reports", _choice("zh", "en")),
    S("GTM_POLICY__TEMPLATE", "policy.template", "gtm | sales | campaign", "gtm",
      "the project's template (report title, key date, money unit); set by `gtm init --template`",
      _choice("gtm", "sales", "campaign")),
    S("GTM_POLICY__CURRENCY", "policy.currency", "ISO 4217 code (CNY, not RMB) or empty (the template's)", "CNY",
      "money unit of budgets and spend", _pattern(r"[A-Z]{3}", "an ISO 4217 code (e.g. CNY)")),
)
BY_ENV = {s.env: s for s in SETTINGS}


def example_for(env_name: str) -> str:
    s = BY_ENV.get(env_name)
    return s.example if s is not None and not s.example.startswith("(") else ""


def value_of(settings: Any, attr: str) -> Any:
    obj = settings
    for part in attr.split("."):
        obj = getattr(obj, part)
    return obj


def shown(setting: Setting, value: Any) -> str:
    """The value as `gtm doctor` prints it (secrets as set/empty only, long text clipped)."""
    if setting.secret:
        raw = value.get_secret_value() if hasattr(value, "get_secret_value") else str(value)
        return "(set)" if raw else "(empty)"
    if isinstance(value, time):
        return value.strftime("%H:%M")
    if isinstance(value, list):
        text = "[" + ", ".join(str(x) for x in value) + "]"
    else:
        text = str(value)
    if setting.env == "GTM_DATABASE_URL":
        try:
            text = make_url(text).render_as_string(hide_password=True)
        except Exception:  # noqa: BLE001 - shown as given (clipped)
            pass
    return text if len(text) <= 80 else text[:80] + "…"


def check_live(settings: Any) -> list[tuple[Setting, str, str]]:
    """(setting, shown value, problem or "") for every setting, in table order."""
    out = []
    for s in SETTINGS:
        value = value_of(settings, s.attr)
        out.append((s, shown(s, value), s.problem(value)))
    return out


def markdown() -> str:
    lines = ["# Settings", "",
             "Every setting of `gtm`, from the environment (`GTM_` prefix), `.env` or `gtm.toml` (nested",
             "policy values: `GTM_POLICY__NAME`, or a `[policy]` table in `gtm.toml`). A value outside its",
             "range stops every command with one line naming the setting, the value and an example;",
             "`gtm doctor` checks the live configuration against this table. A list in the environment or",
             "`.env` is its values separated by commas (`2026-12-31,2027-01-02`, one value alone is fine) or a",
             "JSON list (`[\"2026-12-31\"]`).",
             "Generated from `gtm.schemas.settings_table` (`python -m gtm.schemas.settings_table`).", "",
             "| setting | allowed | example | meaning |", "| --- | --- | --- | --- |"]
    for s in SETTINGS:
        lines.append(f"| `{s.env}` | {s.range} | `{s.example}` | {s.meaning} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":  # pragma: no cover - regenerates docs/SETTINGS.md
    print(markdown(), end="")

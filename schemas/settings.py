"""Settings from the environment (`GTM_` prefix), `.env` and an optional `gtm.toml`.

Policy values (thresholds, quiet hours, schedule) live here with defaults taken from the seeds;
a project in the registry may override any policy value.
"""
from __future__ import annotations

import json
import tomllib
from datetime import date, time
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)
from pydantic_settings import SettingsError as SourceError

from gtm.schemas.money import ISO_LOOKALIKES
from gtm.schemas.plan import FIRST_YEAR, LAST_YEAR, plausible_date
from gtm.schemas.settings_table import example_for
from gtm.schemas.templates import get_template

DayCount = Literal["calendar", "working"]
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")

SETUP_GUIDE = "deploy/feishu-app-setup.md"
# Hosts that may be reached over plain http (the local sandbox); compared exactly, never by prefix.
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "::1", "localhost"})


def check_feishu_domain(value: str) -> str:
    """The Open Platform origin: https, or the local sandbox on an exact loopback host.

    Parsed as a URL, so `http://127.0.0.1@evil:80` (user info) and `http://localhost.evil.example`
    (a look-alike host) are refused. Returns the origin without a trailing slash.
    """
    example = "e.g. https://open.feishu.cn (Lark: https://open.larksuite.com)"
    v = value.strip().rstrip("/")
    parts = urlsplit(v)
    try:
        parts.port  # noqa: B018 - raises on a malformed port
    except ValueError:
        raise ValueError(f"GTM_FEISHU_DOMAIN {value!r} has an invalid port; {example}") from None
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise ValueError(f"GTM_FEISHU_DOMAIN {value!r} is not an https origin; {example}")
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        raise ValueError(f"GTM_FEISHU_DOMAIN {value!r} must not contain user info ('@'); {example}")
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    if parts.netloc.lower() != host + (f":{parts.port}" if parts.port is not None else ""):
        raise ValueError(f"GTM_FEISHU_DOMAIN {value!r} has a malformed host; {example}")
    if parts.path or parts.query or parts.fragment:
        raise ValueError(f"GTM_FEISHU_DOMAIN {value!r} must be an origin without path or query; {example}")
    if parts.scheme != "https" and parts.hostname not in LOOPBACK_HOSTS:
        raise ValueError(f"GTM_FEISHU_DOMAIN {value!r} must use https (plain http only for the local "
                         f"sandbox on 127.0.0.1, ::1 or localhost); {example}")
    return v


class Policy(BaseModel):
    """Rule thresholds. Defaults follow the seeds (docs/seeds/000, 002, 003); every value is overridable per project."""

    timezone: str = "Asia/Shanghai"
    # escalation ladder for 问题 and 阻塞 tasks (docs/seeds/002 §2.4: >3 days → PM, >1 week → management)
    # list settings: the environment's text is split by `_list_text` (NoDecode: not JSON-only)
    escalation_days: Annotated[list[int], NoDecode] = Field(default_factory=lambda: [3, 7])
    escalation_day_count: DayCount = "calendar"
    # on-call semantics: an unacknowledged level is repeated every `escalation_repeat_after_days`
    # (0: never) counted in `escalation_repeat_day_count`; an ack silences the level until the next
    escalation_repeat_after_days: int = Field(default=1, ge=0, le=365)
    escalation_repeat_day_count: DayCount = "working"
    # overdue / due soon
    due_soon_working_days: int = Field(default=2, ge=0, le=30)
    overdue_reminder: Literal["daily_digest", "never", "every_check"] = "daily_digest"
    # budget (docs/seeds/002 §2.4: spending >10% over budget needs a change request)
    budget_overrun_ratio: float = Field(default=0.10, ge=0, le=10, allow_inf_nan=False)
    # RAG thresholds (docs/seeds/000 §9.1–§9.2 risk matrix: 风险评分 = 可能性 × 影响, 1–9)
    red_risk_score: int = Field(default=6, ge=1, le=9)
    yellow_risk_score: int = Field(default=4, ge=1, le=9)
    dependency_warning_days: int = Field(default=7, ge=0, le=365)
    # quiet hours: nothing is sent from 21:00 to 08:30, nor on non-working days
    quiet_start: time = time(21, 0)
    quiet_end: time = time(8, 30)
    quiet_on_non_working_days: bool = True
    # holiday calendar: whose public holidays count (ISO country code for the `holidays` package;
    # "CN" also uses chinesecalendar first for the 调休 make-up days; "none" = Mon–Fri), plus
    # overrides that win over every source (e.g. official 调休 days a library lacks)
    holiday_country: str = "CN"
    extra_holidays: Annotated[list[date], NoDecode] = Field(default_factory=list)
    extra_workdays: Annotated[list[date], NoDecode] = Field(default_factory=list)
    # schedule
    check_interval_minutes: int = Field(default=30, ge=1, le=1440)
    digest_time: time = time(9, 0)
    report_weekday: int = Field(default=0, ge=0, le=6)  # Monday (after the seed's Monday stand-up)
    report_time: time = time(9, 30)
    reconcile_time: time = time(2, 0)
    working_hours_start: time = time(8, 30)
    working_hours_end: time = time(21, 0)
    locale: Literal["zh", "en"] = "zh"
    # open_ids of the people who hear about system problems with the PM (schema drift, failed
    # deliveries, a lost Base); `gtm init --admin ou_…` adds them for that project
    admins: Annotated[list[str], NoDecode] = Field(default_factory=list)
    # the project's plan template (its report title, key date and money unit) and money unit:
    # an ISO 4217 code, "" = the template's (gtm: USD per the "$" of docs/seeds/000 §3.1; sales/campaign: CNY)
    template: Literal["gtm", "sales", "campaign"] = "gtm"
    currency: str = ""

    @field_validator("escalation_days", "extra_holidays", "extra_workdays", "admins", mode="before")
    @classmethod
    def _list_text(cls, v: Any) -> Any:
        """A list given as text (environment, .env): a JSON list, or the values separated by commas
        (one value alone is a list of one): `2026-12-31`, `2026-12-31,2027-01-02`, `["2026-12-31"]`."""
        if not isinstance(v, str):
            return v
        text = v.strip()
        if text.startswith("["):
            try:
                return json.loads(text)
            except ValueError:
                raise ValueError("not a JSON list; write the values separated by commas, or a JSON list "
                                 "with double quotes") from None
        return [x.strip() for x in text.split(",") if x.strip()]

    @field_validator("extra_holidays", "extra_workdays")
    @classmethod
    def _plausible_days(cls, v: list[date]) -> list[date]:
        bad = [d.isoformat() for d in v if not plausible_date(d)]
        if bad:
            raise ValueError(f"dates must be between {FIRST_YEAR} and {LAST_YEAR}, got {', '.join(bad[:3])}")
        return v

    @field_validator("currency")
    @classmethod
    def _currency_code(cls, v: str) -> str:
        v = (v or "").strip().upper()
        if v and not (len(v) == 3 and v.isalpha()):
            raise ValueError(f"currency must be an ISO 4217 code such as CNY or USD, got {v!r}")
        if v in ISO_LOOKALIKES:
            raise ValueError(f"{v} is not an ISO 4217 code; use {ISO_LOOKALIKES[v]}")
        return v

    @property
    def money_unit(self) -> str:
        """The currency money is shown in: the project's setting, else its template's."""
        return self.currency or get_template(self.template).currency

    @field_validator("timezone")
    @classmethod
    def _valid_tz(cls, v: str) -> str:
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown timezone {v!r} (use an IANA name such as Asia/Shanghai)") from exc
        return v

    @field_validator("escalation_days")
    @classmethod
    def _ascending(cls, v: list[int]) -> list[int]:
        if not v or any(b <= a for a, b in zip(v, v[1:])) or v[0] <= 0:
            raise ValueError("escalation_days must be positive and strictly ascending, e.g. [3, 7]")
        return v

    @field_validator("escalation_days")
    @classmethod
    def _bounded(cls, v: list[int]) -> list[int]:
        if v and v[-1] > 365:
            raise ValueError("escalation_days must be at most 365 days, e.g. [3, 7]")
        return v

    @model_validator(mode="after")
    def _risk_order(self) -> "Policy":
        if self.yellow_risk_score > self.red_risk_score:
            raise ValueError(f"yellow_risk_score ({self.yellow_risk_score}) must not exceed red_risk_score "
                             f"({self.red_risk_score}), e.g. 4 and 6")
        return self

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


class Settings(BaseSettings):
    """Process settings. Secrets are SecretStr: they never print in logs or reprs."""

    model_config = SettingsConfigDict(
        env_prefix="GTM_", env_file=".env", env_file_encoding="utf-8", extra="ignore",
        env_nested_delimiter="__", toml_file="gtm.toml",
    )

    feishu_app_id: str = ""
    feishu_app_secret: SecretStr = SecretStr("")
    feishu_domain: str = "https://open.feishu.cn"  # Lark: https://open.larksuite.com
    feishu_encrypt_key: SecretStr = SecretStr("")
    feishu_verification_token: SecretStr = SecretStr("")
    # run on the embedded local sandbox on purpose (`gtm serve` refuses to start without
    # credentials unless this or `--sandbox` asks for the sandbox)
    sandbox: bool = False
    base_token: str = ""  # one-project shortcut: adopt this Base
    chat_id: str = ""  # one-project shortcut: the project group
    database_url: str = "sqlite:///gtm.db"
    timezone: str = "Asia/Shanghai"
    transport: Literal["ws", "webhook", "none"] = "ws"
    # webhook transport without an Encrypt Key (token-only): refused unless this is set (trials only)
    webhook_insecure: bool = False
    http_host: str = "127.0.0.1"
    http_port: int = Field(default=8080, ge=0, le=65535)
    request_timeout_seconds: float = Field(default=10.0, gt=0, le=300, allow_inf_nan=False)
    batch_limit: int = Field(default=500, ge=1, le=500)  # Feishu takes at most 500 records a batch
    base_permission: Literal["view", "edit"] = "edit"
    log_level: str = "INFO"
    # `gtm serve`: leadership is a lease of `leader_ttl_seconds` renewed every ttl/3 seconds; a
    # standby tries to take it every `leader_retry_seconds`, so a dead or frozen leader is replaced
    # within ttl + retry seconds (13 s by default)
    leader_retry_seconds: float = Field(default=3.0, gt=0, le=300, allow_inf_nan=False)
    leader_ttl_seconds: float = Field(default=10.0, gt=0, le=600, allow_inf_nan=False)
    # record-change events: wait this long for more edits (per project) before re-running the
    # rules for the edited records; each new edit restarts the wait (at most 4× in total)
    edit_debounce_seconds: float = Field(default=1.5, ge=0, le=60, allow_inf_nan=False)
    policy: Policy = Field(default_factory=Policy)

    @classmethod
    def settings_customise_sources(
        cls, settings_cls: type[BaseSettings], init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource, dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, dotenv_settings,
                TomlConfigSettingsSource(settings_cls), file_secret_settings)

    @field_validator("feishu_domain")
    @classmethod
    def _origin(cls, v: str) -> str:
        return check_feishu_domain(v)

    @model_validator(mode="after")
    def _credentials_pair(self) -> "Settings":
        has_id = bool(self.feishu_app_id.strip())
        has_secret = bool(self.feishu_app_secret.get_secret_value().strip())
        if has_id != has_secret:
            given, missing = (("GTM_FEISHU_APP_ID", "GTM_FEISHU_APP_SECRET") if has_id
                              else ("GTM_FEISHU_APP_SECRET", "GTM_FEISHU_APP_ID"))
            raise ValueError(f"{given} is set but {missing} is empty: set both (see {SETUP_GUIDE}) "
                             f"or neither to use the embedded sandbox")
        if self.sandbox and has_id:
            raise ValueError("GTM_SANDBOX=1 asks for the embedded sandbox but GTM_FEISHU_APP_ID/"
                             "GTM_FEISHU_APP_SECRET are set: unset one or the other")
        return self

    @field_validator("timezone")
    @classmethod
    def _valid_tz(cls, v: str) -> str:
        return Policy._valid_tz(v)

    @field_validator("log_level")
    @classmethod
    def _level(cls, v: str) -> str:
        if str(v).upper() not in LOG_LEVELS:
            raise ValueError(f"log level must be one of {', '.join(LOG_LEVELS)}, e.g. INFO")
        return str(v).upper()

    @field_validator("database_url")
    @classmethod
    def _db_scheme(cls, v: str) -> str:
        scheme = v.split(":", 1)[0].split("+", 1)[0].lower() if ":" in v else ""
        if scheme not in ("sqlite", "postgresql"):
            raise ValueError("only sqlite:///… and postgresql://… are supported, e.g. sqlite:///gtm.db or "
                             "postgresql://gtm@db.internal:5432/gtm")
        return v

    @property
    def has_credentials(self) -> bool:
        return bool(self.feishu_app_id and self.feishu_app_secret.get_secret_value())

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def effective_policy(self) -> Policy:
        """The policy with the process timezone applied when the policy keeps the default."""
        if self.policy.timezone == Policy().timezone and self.timezone != self.policy.timezone:
            return self.policy.model_copy(update={"timezone": self.timezone})
        return self.policy


def load_settings(env_file: str | Path | None = ".env", **overrides) -> Settings:
    """Build settings, turning validation errors into one message naming each bad setting."""
    try:
        return Settings(_env_file=env_file, **overrides)  # type: ignore[call-arg]
    except ValidationError as exc:
        raise SettingsError("invalid settings:\n  " + "\n  ".join(_error_lines(exc))) from None
    except SourceError as exc:  # a JSON value (GTM_POLICY='{…}') that does not parse
        field = str(exc).split('"')[1] if '"' in str(exc) else ""
        name = f"GTM_{field.upper()}" if field else "a GTM_ setting"
        raise SettingsError(f"{name} is not valid JSON ({exc.__cause__ or exc}); set its parts one by one "
                            f"instead, e.g. GTM_POLICY__EXTRA_HOLIDAYS=2026-12-31,2027-01-02") from None
    except tomllib.TOMLDecodeError as exc:
        raise SettingsError(f"gtm.toml is not valid TOML ({exc}); fix it or remove it, e.g. a line "
                            f"`timezone = \"Asia/Shanghai\"`") from None
    except UnicodeDecodeError as exc:
        raise SettingsError(f"a settings file ({env_file or '.env'} or gtm.toml) is not UTF-8 text "
                            f"({exc.reason} at byte {exc.start}); save it as UTF-8, e.g. "
                            f"`iconv -f GBK -t UTF-8 .env > .env.new`") from None
    except OSError as exc:
        raise SettingsError(f"cannot read a settings file: {exc.strerror or exc} ({exc.filename})") from None


def _error_lines(exc) -> list[str]:
    """One line per bad setting: its name, the bad value and an example of a good one."""
    lines = []
    for err in exc.errors():
        msg = str(err["msg"]).removeprefix("Value error, ")
        if not err["loc"]:  # a rule across settings: the message names them
            lines.append(msg)
            continue
        name = "GTM_" + "__".join(str(p) for p in err["loc"] if not isinstance(p, int)).upper()  # no list index
        value = err.get("input")
        shown = "" if isinstance(value, (dict, SecretStr)) else f"={str(value)[:60]!r}"
        example = example_for(name)
        lines.append(f"{name}{shown}: {msg}" + (f" (e.g. {name}={example})" if example and
                                                 "e.g." not in msg else ""))
    return lines


class SettingsError(ValueError):
    """A missing or malformed setting; the message names it."""

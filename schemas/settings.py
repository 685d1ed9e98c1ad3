"""Settings from the environment (`GTM_` prefix), `.env` and an optional `gtm.toml`.

Policy values (thresholds, quiet hours, schedule) live here with defaults taken from the seeds;
a project in the registry may override any policy value.
"""
from __future__ import annotations

from datetime import date, time
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, Field, SecretStr, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

DayCount = Literal["calendar", "working"]


class Policy(BaseModel):
    """Rule thresholds. Defaults follow seeds 000/002/003; every value is overridable per project."""

    timezone: str = "Asia/Shanghai"
    # escalation ladder for 问题 and 阻塞 tasks (seed 002: >3 days → PM, >1 week → management)
    escalation_days: list[int] = Field(default_factory=lambda: [3, 7])
    escalation_day_count: DayCount = "calendar"
    ack_pause_hours: int = 24  # an acknowledgement pauses the ladder this long, then it re-arms
    # overdue / due soon
    due_soon_working_days: int = 2
    overdue_reminder: Literal["daily_digest", "never", "every_check"] = "daily_digest"
    # budget (seed 002: spending >10% over budget needs a change request)
    budget_overrun_ratio: float = 0.10
    # RAG thresholds (seed 000 risk matrix: 风险评分 = 可能性 × 影响, 1–9)
    red_risk_score: int = 6
    yellow_risk_score: int = 4
    dependency_warning_days: int = 7
    # quiet hours: nothing is sent from 21:00 to 08:30, nor on non-working days
    quiet_start: time = time(21, 0)
    quiet_end: time = time(8, 30)
    quiet_on_non_working_days: bool = True
    # holiday calendar overrides (on top of the China holiday calendar with 调休 make-up days)
    extra_holidays: list[date] = Field(default_factory=list)
    extra_workdays: list[date] = Field(default_factory=list)
    # schedule
    check_interval_minutes: int = 30
    digest_time: time = time(9, 0)
    report_weekday: int = 0  # Monday (after the seed's Monday stand-up)
    report_time: time = time(9, 30)
    reconcile_time: time = time(2, 0)
    working_hours_start: time = time(8, 30)
    working_hours_end: time = time(21, 0)
    locale: Literal["zh", "en"] = "zh"

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
    base_token: str = ""  # one-project shortcut: adopt this Base
    chat_id: str = ""  # one-project shortcut: the project group
    database_url: str = "sqlite:///gtm.db"
    timezone: str = "Asia/Shanghai"
    transport: Literal["ws", "webhook", "none"] = "ws"
    # webhook transport without an Encrypt Key (token-only): refused unless this is set (trials only)
    webhook_insecure: bool = False
    http_host: str = "127.0.0.1"
    http_port: int = 8080
    request_timeout_seconds: float = 10.0
    batch_limit: int = 500
    base_permission: Literal["view", "edit"] = "edit"
    log_level: str = "INFO"
    # `gtm serve`: how often a standby replica tries to take the scheduler lock (and the leader
    # checks it still holds it); a dead leader is replaced within about this many seconds
    leader_retry_seconds: float = Field(default=5.0, gt=0)
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
        v = v.rstrip("/")
        if not v.startswith(("https://", "http://127.0.0.1", "http://localhost", "http://[::1]")):
            raise ValueError("GTM_FEISHU_DOMAIN must be an https origin such as https://open.feishu.cn")
        return v

    @field_validator("timezone")
    @classmethod
    def _valid_tz(cls, v: str) -> str:
        return Policy._valid_tz(v)

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
    from pydantic import ValidationError

    try:
        return Settings(_env_file=env_file, **overrides)  # type: ignore[call-arg]
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            name = "GTM_" + "__".join(str(p) for p in err["loc"]).upper()
            lines.append(f"{name}: {err['msg']}")
        raise SettingsError("invalid settings:\n  " + "\n  ".join(lines)) from None


class SettingsError(ValueError):
    """A missing or malformed setting; the message names it."""

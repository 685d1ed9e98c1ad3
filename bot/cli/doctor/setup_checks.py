"""`gtm doctor`, the deployment's own checks: settings and credentials, the settings table and
every project's policy overrides, the database and its migrations, time zone and holiday
calendars, and the delivery-health watchdog."""
from __future__ import annotations

from pydantic import TypeAdapter, ValidationError
from sqlalchemy import text
from sqlalchemy.engine import make_url

from gtm.bot.checks.watchdog import health_report
from gtm.bot.cli.doctor.findings import MISSING, OK, SKIPPED, WARN, Checks
from gtm.bot.cli.scopes import CONSOLE_CREDENTIALS, CONSOLE_EVENTS
from gtm.bot.rules.calendar import WorkCalendar, sources_text
from gtm.schemas.settings import Policy, Settings
from gtm.schemas.settings_table import BY_ENV, check_live
from gtm.sync.store.base import Store
from gtm.sync.store.open import current_revision, head_revision
from gtm.sync.store.registry import list_projects

LOCAL_HOSTS = ("http://127.0.0.1", "http://localhost", "http://[::1]")
KNOWN_DOMAINS = ("https://open.feishu.cn", "https://open.larksuite.com")


class SetupChecks(Checks):
    def check_settings(self) -> None:
        s = self.settings
        self.add("配置 / settings", OK, f"transport={s.transport}, http={s.http_host}:{s.http_port}, "
                 f"database={_safe_url(s.database_url)}")
        if self.app.embedded:
            self.add("飞书凭证 / credentials", WARN,
                     f"未配置，正在使用内置沙箱 {s.feishu_domain} / not configured: running on the embedded sandbox",
                     f"设置 GTM_FEISHU_APP_ID / GTM_FEISHU_APP_SECRET（{CONSOLE_CREDENTIALS}）")
        elif not s.has_credentials:
            self.add("飞书凭证 / credentials", MISSING, "GTM_FEISHU_APP_ID / GTM_FEISHU_APP_SECRET 为空 / empty",
                     CONSOLE_CREDENTIALS)
        else:
            self.add("飞书凭证 / credentials", OK, f"app {s.feishu_app_id}")
        d = s.feishu_domain
        if d in KNOWN_DOMAINS:
            self.add("域名 / domain", OK, d + (" (Lark)" if "larksuite" in d else " (飞书 Feishu)"))
        elif d.startswith(LOCAL_HOSTS):
            self.add("域名 / domain", OK, f"{d}（本地沙箱 / local sandbox）")
        else:
            self.add("域名 / domain", WARN, f"{d} 不是飞书或 Lark 的开放平台地址 / not a Feishu or Lark origin",
                     "飞书：https://open.feishu.cn；Lark：https://open.larksuite.com（GTM_FEISHU_DOMAIN）")
        if s.transport == "webhook":
            has_key = bool(s.feishu_encrypt_key.get_secret_value())
            if has_key:
                self.add("Webhook 校验 / webhook keys", OK, "Encrypt Key 已配置（加密 + 签名）/ set (AES + signature)")
            elif s.webhook_insecure:
                self.add("Webhook 校验 / webhook keys", WARN,
                         "GTM_WEBHOOK_INSECURE=1：仅校验 Token，可被伪造 / token only: forgeable",
                         f"{CONSOLE_EVENTS} → Encrypt Key → GTM_FEISHU_ENCRYPT_KEY")
            else:
                self.add("Webhook 校验 / webhook keys", MISSING, "Encrypt Key 为空 / empty: gtm serve 拒绝启动 / "
                         "gtm serve refuses to start", f"{CONSOLE_EVENTS} → Encrypt Key → GTM_FEISHU_ENCRYPT_KEY")
        self.check_configuration()

    def check_configuration(self) -> None:
        """The live settings and every project's policy overrides against docs/SETTINGS.md."""
        rows = check_live(self.settings)
        bad = [(st, shown, why) for st, shown, why in rows if why]
        for st, shown, why in bad:
            self.add(f"设置 / setting {st.env}", MISSING, f"{shown}: {why}",
                     f"允许 / allowed: {st.range}; 例如 / e.g. {st.env}={st.example}")
        if not bad:
            self.add("设置 / settings", OK, f"{len(rows)} 项均在允许范围内 / all {len(rows)} within their ranges "
                     "(docs/SETTINGS.md)")
        for slug, key, why, fix in policy_override_problems(self.app.store, self.settings):
            self.add(f"项目 {slug} 策略 / project policy {key}", MISSING, why, fix)

    def check_database(self) -> None:
        try:
            with self.app.store.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            cur, head = current_revision(self.app.store.engine), head_revision()
        except Exception as exc:  # noqa: BLE001 - any driver error is the finding itself
            self.add("数据库 / database", MISSING, f"{_safe_url(self.settings.database_url)}: {exc.__class__.__name__}: {exc}"[:300],
                     "检查 GTM_DATABASE_URL 与数据库是否运行 / check GTM_DATABASE_URL and that the database runs")
            return
        if cur != head:
            self.add("数据库 / database", MISSING, f"迁移版本 {cur}，最新 {head} / migrated to {cur}, head is {head}",
                     "重启 gtm（启动时自动迁移）/ restart gtm (it migrates on start)")
        else:
            self.add("数据库 / database", OK, f"{_safe_url(self.settings.database_url)}，迁移到最新 / at head ({head})")

    def check_time(self) -> None:
        policy = self.settings.effective_policy()
        self.add("时区 / timezone", OK, f"{self.settings.timezone}（策略 policy {policy.timezone}），"
                 f"现在 now {self.now.astimezone(policy.tz):%Y-%m-%d %H:%M}")
        policies = {"": policy}
        try:
            for p in self.app.projects():
                if p.policy.holiday_country != policy.holiday_country:
                    policies[p.slug] = p.policy
        except Exception:  # noqa: BLE001 - no database yet: the process policy only
            pass
        for slug, pol in policies.items():
            self._check_calendar(WorkCalendar(pol), pol, slug)

    def _check_calendar(self, cal: WorkCalendar, policy: Policy, slug: str) -> None:
        """The source of each year (chinesecalendar → holidays → Mon–Fri) for one holiday country."""
        year = self.now.astimezone(policy.tz).year
        label = "节假日日历 / holiday calendar" + (f" ({slug})" if slug else "") + f" [{cal.country}]"
        src = f"来源 / source — {sources_text(cal, [year, year + 1])}"
        warning = cal.coverage_warning(self.now)
        fix = ("pip install -U chinesecalendar holidays，或配置 GTM_POLICY__EXTRA_HOLIDAYS / EXTRA_WORKDAYS / "
               "upgrade them or set the extra days")
        if not cal.has_data(year):
            self.add(label, MISSING, f"{src}; {warning}", fix)
        elif warning:
            # still correct today; from 1 January working days fall back to Mon–Fri
            self.add(label, WARN, f"{src}; {warning}", fix)
        elif cal.source(year + 1) == "holidays" and cal.country == "CN":
            self.add(label, OK, f"{src}（holidays 包只有法定假日：调休上班日请用 EXTRA_WORKDAYS 补充 / the holidays "
                                "package lacks most 调休 make-up working days: add them as EXTRA_WORKDAYS)")
        else:
            self.add(label, OK, src)

    def check_delivery_health(self) -> None:
        """The delivery-health watchdog's list (the same one alerts, /metrics and /readyz use)."""
        try:
            slugs = [p.slug for p in self.app.projects()]
            issues = health_report(self.app.store, slugs, self.now)
        except Exception as exc:  # noqa: BLE001 - the database check above says why
            self.add("送达健康 / delivery health", SKIPPED, f"{exc.__class__.__name__}: {exc}")
            return
        if not issues:
            self.add("送达健康 / delivery health", OK, "最近 24 小时没有送达问题 / no delivery problems in 24 h")
        for i in issues:
            self.add(f"送达健康 / delivery health: {i.project}", WARN,
                     f"{i.title}（{i.count} 次）/ {i.title_en} ({i.count}×)" + (f" — {i.example}" if i.example else ""),
                     f"{i.fix} / {i.fix_en}")


def policy_override_problems(store: Store, settings: Settings) -> list[tuple[str, str, str, str]]:
    """(slug, key, why, fix) for each stored per-project policy override outside the settings
    table's range (they are applied at run time, so a bad one would fail every job)."""
    out: list[tuple[str, str, str, str]] = []
    with store.session() as s:
        rows = [(r.slug, dict(r.policy_overrides or {})) for r in list_projects(s)]
    for slug, overrides in rows:
        for key, value in overrides.items():
            st = BY_ENV.get(f"GTM_POLICY__{str(key).upper()}")
            if st is None or key not in Policy.model_fields:
                out.append((slug, str(key), f"未知的策略项 / unknown policy setting {key!r}",
                            "删除这个覆盖项 / remove this override (see docs/SETTINGS.md)"))
                continue
            fix = f"允许 / allowed: {st.range}; 例如 / e.g. {st.example}"
            try:
                parsed = TypeAdapter(Policy.model_fields[key].annotation).validate_python(value)
            except ValidationError as exc:
                out.append((slug, str(key), f"{str(value)[:60]!r}: {exc.errors()[0]['msg']}", fix))
                continue
            why = st.problem(parsed)
            if why:
                out.append((slug, str(key), f"{str(value)[:60]!r}: {why}", fix))
        if overrides and not any(o[0] == slug for o in out):
            try:
                Policy.model_validate({**settings.effective_policy().model_dump(), **overrides})
            except ValidationError as exc:
                out.append((slug, "policy", str(exc.errors()[0]["msg"])[:200], "docs/SETTINGS.md"))
    return out


def _safe_url(url: str) -> str:
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - a URL sqlalchemy cannot parse: still never print a password
        return url.split("@")[-1]

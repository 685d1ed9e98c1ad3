"""`gtm doctor`: is this deployment able to do its job? Configuration first, then every Feishu
permission the service needs, each proved by a read-only call (nothing is created or sent).

Every line says ok / missing (or warn / skipped), what was found, and what to do where in the
developer console. A scope error (99991672) names the scope from `gtm.bot.cli.scopes`. Exit code 0
when nothing is missing, 1 otherwise.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any, Callable

from gtm.bot.cli.scopes import (
    CONSOLE_BOT,
    CONSOLE_CALLBACKS,
    CONSOLE_CREDENTIALS,
    CONSOLE_EVENTS,
    CONSOLE_RELEASE,
    EVENTS,
    ScopeNeed,
    describe_missing,
    need,
)
from gtm.sync.feishu.bitable import Page
from gtm.sync.feishu.errors import AuthError, FeishuError, NotFound, ScopeError, TransientError

OK, MISSING, WARN, SKIPPED = "ok", "missing", "warn", "skipped"
PROBE_MESSAGE_ID = "om_gtm_doctor_probe_0000000000"  # made up: only the scope check matters
LOCAL_HOSTS = ("http://127.0.0.1", "http://localhost", "http://[::1]")
KNOWN_DOMAINS = ("https://open.feishu.cn", "https://open.larksuite.com")


@dataclass
class Finding:
    check: str
    status: str
    detail: str = ""
    fix: str = ""
    project: str = ""  # the project block this finding belongs to ("" = the deployment)

    @property
    def failed(self) -> bool:
        return self.status == MISSING


@dataclass
class Target:
    """What to probe for one project (or the one-project shortcut from the settings)."""

    slug: str
    base_token: str
    chat_ids: list[str] = field(default_factory=list)
    pm_open_id: str | None = None
    table_ids: dict[str, str] = field(default_factory=dict)


class Doctor:
    def __init__(self, app: Any, *, now: datetime | None = None, ws_timeout: float = 10.0) -> None:
        self.app = app
        self.settings = app.settings
        self.gateway = app.gateway
        self.now = now or datetime.now(self.settings.tz)  # the outermost edge: wall clock
        self.ws_timeout = ws_timeout
        self.findings: list[Finding] = []
        self.token_ok = False
        self.section = ""  # the project being checked (labels its block in the output)

    def add(self, check: str, status: str, detail: str = "", fix: str = "") -> Finding:
        f = Finding(check, status, detail, fix, self.section)
        self.findings.append(f)
        return f

    # -- running -------------------------------------------------------------------------------
    def run(self) -> list[Finding]:
        self.check_settings()
        self.check_database()
        self.check_time()
        self.check_delivery_health()
        self.check_token()
        if not self.token_ok:
            self.add("其余飞书检查 / remaining Feishu checks", SKIPPED, "没有租户令牌，无法继续 / no tenant token")
            return self.findings
        self.check_im_send_scope()
        self.check_app_subscriptions()
        targets = self.targets()
        if not targets:
            self.add("多维表格 / Base", SKIPPED, "还没有项目 / no project yet",
                     "运行 `gtm init --project SLUG` / run `gtm init --project SLUG`")
        seen_chats: set[str] = set()
        for t in targets:
            self.section = t.slug
            try:
                self.check_target(t, seen_chats)
            finally:
                self.section = ""
        if self.settings.chat_id and self.settings.chat_id not in seen_chats:
            self.check_chat(self.settings.chat_id, "GTM_CHAT_ID")
        self.check_longconn()
        return self.findings

    # -- configuration -------------------------------------------------------------------------
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
        from gtm.schemas.settings_table import check_live

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
        from sqlalchemy import text

        from gtm.sync.store.open import current_revision, head_revision

        try:
            with self.app.store.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            cur, head = current_revision(self.app.store.engine), head_revision()
        except Exception as exc:  # noqa: BLE001
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
        try:
            from gtm.bot.rules.calendar import WorkCalendar
        except ImportError:
            self.add("节假日日历 / holiday calendar", SKIPPED, "gtm.bot.rules.calendar 不可用 / not available")
            return
        policies = {"": policy}
        try:
            for p in self.app.projects():
                if p.policy.holiday_country != policy.holiday_country:
                    policies[p.slug] = p.policy
        except Exception:  # noqa: BLE001 - no database yet: the process policy only
            pass
        for slug, pol in policies.items():
            self._check_calendar(WorkCalendar(pol), pol, slug)

    def _check_calendar(self, cal, policy, slug: str) -> None:
        """The source of each year (chinesecalendar → holidays → Mon–Fri) for one holiday country."""
        from gtm.bot.rules.calendar import sources_text

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
        from gtm.bot.checks.watchdog import health_report

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

    # -- Feishu --------------------------------------------------------------------------------
    def probe(self, check: str, scope: ScopeNeed | None, fn: Callable[[], Any], *,
              ok_detail: Callable[[Any], str] = lambda d: "",
              on_error: Callable[[FeishuError], Finding | None] | None = None) -> Any:
        """Run one read-only call; record ok or what is missing (scope errors name the scope)."""
        try:
            data = fn()
        except ScopeError as exc:
            self.add(check, MISSING, f"{exc.code}: {exc.msg[:160]}", describe_missing(exc.msg, scope))
            return None
        except AuthError as exc:
            self.add(check, MISSING, f"{exc.code}: {exc.msg[:160]}",
                     f"检查 App ID / App Secret（{CONSOLE_CREDENTIALS}），并确认应用已发布（{CONSOLE_RELEASE}）")
            return None
        except FeishuError as exc:
            if on_error is not None and on_error(exc) is not None:
                return None
            fix = "稍后重试；检查网络与 GTM_FEISHU_DOMAIN / retry; check the network and GTM_FEISHU_DOMAIN" \
                if isinstance(exc, TransientError) else ""
            self.add(check, MISSING, f"{exc.code}: {exc.msg[:200]}", fix)
            return None
        self.add(check, OK, ok_detail(data))
        return data

    def check_token(self) -> None:
        from gtm.bot.service.health import feishu_probe

        s = self.settings
        fn = feishu_probe(self.gateway, s.feishu_app_id, s.feishu_app_secret.get_secret_value())
        self.probe("租户令牌 / tenant token", None, fn,
                   ok_detail=lambda d: f"{s.feishu_domain} 发放了令牌 / issued a token")
        self.token_ok = self.findings[-1].status == OK

    def check_im_send_scope(self) -> None:
        gw = self.gateway

        def answered(exc: FeishuError) -> Finding | None:
            if isinstance(exc, (TransientError,)):
                return None  # cannot tell: reported as missing below
            # any business answer ("no such message") means the scope check passed
            return self.add("发消息权限 / send messages (im:message)", OK,
                            f"已开通（探测消息不存在：{exc.code}）/ granted (probe id unknown: {exc.code})")

        self.probe("发消息权限 / send messages (im:message)", need("im_send"),
                   lambda: gw.im.message_content(PROBE_MESSAGE_ID, context="doctor"),
                   ok_detail=lambda d: "已开通 / granted", on_error=answered)

    def check_app_subscriptions(self) -> None:
        """Events and the card callback subscribed in the developer console, read back through the
        app's own information (application.get, needs application:application:self_manage). Without
        that scope, or when the API does not report them, doctor says it cannot tell."""
        gw = self.gateway
        check = "事件与回调订阅 / events & callbacks subscribed"
        manual = (f"请在开发者后台手动确认：{CONSOLE_EVENTS}（{', '.join(e for e, _, w in EVENTS if w == CONSOLE_EVENTS)}）"
                  f"与 {CONSOLE_CALLBACKS}（card.action.trigger）/ check them by hand in the developer console")
        try:
            subscribed = gw.application.subscriptions(self.settings.feishu_app_id, context="doctor")
        except ScopeError as exc:
            self.add(check, WARN, f"无法读取应用配置，不能核对 / cannot read the app's configuration ({exc.code})",
                     f"{describe_missing(exc.msg, need('self_manage'))}；或 / or: {manual}")
            return
        except FeishuError as exc:
            self.add(check, WARN, f"无法读取应用配置，不能核对 / cannot tell ({exc.code}: {exc.msg[:120]})", manual)
            return
        events, callbacks = subscribed.events, subscribed.callbacks
        if events is None or callbacks is None:
            self.add(check, WARN, "接口没有返回已订阅的事件或回调，不能核对 / the API did not report the "
                     "subscribed events or callbacks: cannot tell", manual)
            return
        have = set(events) | set(callbacks)
        for name, why, where in EVENTS:
            label = f"订阅 / subscribed: {name}"
            if name in have:
                self.add(label, OK, why)
            elif name == "drive.file.bitable_record_changed_v1":  # polling still works, only slower
                self.add(label, WARN, f"未订阅：改动只能靠定时同步发现 / not subscribed: edits are picked up by "
                         f"polling only — {why}", f"{where} → 添加事件 / add the event {name}")
            else:
                self.add(label, MISSING, f"未订阅 / not subscribed — {why}", f"{where} → 添加 / add {name}")

    def check_record_events(self, t: "Target", label: str) -> None:
        """Is the Base subscribed for record-change events, and may the app subscribe it (owner or
        可管理)? Otherwise events silently fall back to polling: say so."""
        from gtm.sync.subscribe import FALLBACK, SUBSCRIBE_FIX, can_manage, is_subscribed

        check = label + "记录变更事件 / record-change events"
        try:
            if is_subscribed(self.gateway, t.base_token):
                self.add(check, OK, "已订阅 / subscribed")
                return
            manages = can_manage(self.gateway, t.base_token)
        except ScopeError as exc:
            self.add(check, WARN, f"{exc.code}: {exc.msg[:160]} — {FALLBACK}",
                     describe_missing(exc.msg, need("event_subscribe")))
            return
        except FeishuError as exc:
            self.add(check, WARN, f"{exc.code}: {exc.msg[:160]} — {FALLBACK}", SUBSCRIBE_FIX)
            return
        if manages:
            self.add(check, OK, "尚未订阅；应用可管理该表格，gtm serve 启动时会订阅 / not subscribed yet; the app "
                     "manages the Base and gtm serve subscribes on start")
        else:
            self.add(check, WARN, f"应用不是该表格的所有者或可管理协作者，无法订阅 / the app neither owns nor manages "
                     f"(可管理) this Base, so it cannot subscribe — {FALLBACK}", SUBSCRIBE_FIX)

    def targets(self) -> list[Target]:
        out: list[Target] = []
        try:
            projects = self.app.projects()
        except Exception as exc:  # noqa: BLE001 - the database check already says why
            self.add("项目列表 / projects", MISSING, f"{exc.__class__.__name__}: {exc}"[:200])
            projects = []
        for p in projects:
            out.append(Target(p.slug, p.binding.app_token, list(p.chat_ids), self._pm_of(p),
                              dict(p.binding.table_ids)))
        if not out and self.settings.base_token:
            out.append(Target("(GTM_BASE_TOKEN)", self.settings.base_token,
                              [self.settings.chat_id] if self.settings.chat_id else []))
        return out

    def _pm_of(self, project: Any) -> str | None:
        """The PM from the local mirror (no Feishu call); None before the first sync."""
        try:
            snap = self.app.mirror(project).snapshot()
            pm = snap.project.pm if snap.project else None
            return pm.open_id if pm else None
        except Exception:  # noqa: BLE001 - not synced yet
            return None

    def check_target(self, t: Target, seen_chats: set[str]) -> None:
        from gtm.sync.access import check_access, list_members

        gw = self.gateway
        label = f"[{t.slug}] "
        if not t.base_token:
            self.add(label + "多维表格 / Base", MISSING, "项目没有绑定多维表格 / no Base bound",
                     f"gtm init --project {t.slug}")
            return
        def tables_detail(page: Page) -> str:
            have = {x.get("table_id") for x in page.items}
            lost = [k for k, tid in t.table_ids.items() if tid not in have]
            if lost:
                self.findings.append(Finding(label + "计划表结构 / plan tables", MISSING,
                                             f"找不到 / missing: {', '.join(lost)}",
                                             f"gtm init --project {t.slug} --repair", self.section))
            return f"{t.base_token}: {len(have)} 张表 / tables"

        def base_error(exc: FeishuError) -> Finding | None:
            if isinstance(exc, NotFound):
                return self.add(label + "多维表格 / Base (bitable:app)", MISSING,
                                f"{t.base_token} 不存在或应用无权访问 / does not exist or the app cannot open it",
                                f"gtm init --project {t.slug}")
            return None

        self.probe(label + "多维表格 / Base (bitable:app)", need("bitable"),
                   lambda: gw.bitable.list_tables(t.base_token, context=t.base_token),
                   ok_detail=tables_detail, on_error=base_error)
        members = self.probe(label + "协作者 / Base members (drive)", need("drive"),
                             lambda: list_members(gw, t.base_token),
                             ok_detail=lambda m: f"{len(m)} 个协作者 / members")
        self.check_record_events(t, label)
        first_member: str | None = None
        for chat in t.chat_ids:
            seen_chats.add(chat)
            first_member = self.check_chat(chat, label) or first_member
        pm = t.pm_open_id or first_member
        if pm:
            self.check_user(pm, label, "项目负责人 / PM" if t.pm_open_id else "群成员 / chat member")
        else:
            self.add(label + "通讯录 / contact", SKIPPED, "还不知道项目负责人（先同步）/ PM unknown (sync first)")
        if members is not None:
            problems = check_access(gw, t.base_token, t.pm_open_id, t.chat_ids)
            if problems:
                self.add(label + "谁能看到表格 / Base visible to", MISSING, "；".join(problems)[:400],
                         f"gtm init --project {t.slug}（只补缺少的授权 / adds only what is missing）")
            else:
                who = (["项目负责人 PM"] if t.pm_open_id else []) + [f"群 {c}" for c in t.chat_ids]
                self.add(label + "谁能看到表格 / Base visible to", OK, "、".join(who) or "-")

    def check_chat(self, chat_id: str, label: str) -> str | None:
        """Bot in the group (get chat) and members readable; returns one member's open_id."""
        gw = self.gateway
        prefix = label if label.startswith("[") else f"[{label}] "

        def chat_error(exc: FeishuError) -> Finding | None:
            if exc.code in (232011, 232009, 232010, 230002):
                return self.add(prefix + f"项目群 {chat_id} / group", MISSING,
                                f"{exc.code}: 机器人不在群里或群已解散 / the bot is not in the chat or it was dissolved",
                                f"群设置 → 群机器人 → 添加机器人（先启用机器人：{CONSOLE_BOT}）")
            return None

        chat = self.probe(prefix + f"项目群 {chat_id} / group (im:chat)", need("im_chat"),
                          lambda: gw.im.get_chat(chat_id),
                          ok_detail=lambda d: f"{d.name}：机器人在群里，可以发消息 / the bot is in the group",
                          on_error=chat_error)
        if chat is None:
            return None
        members = self.probe(prefix + "群成员 / group members (im:chat:readonly)", need("im_chat"),
                             lambda: gw.im.chat_members(chat_id),
                             ok_detail=lambda d: f"{d.total} 人 / people")
        return members.open_ids[0] if members is not None and members.open_ids else None

    def check_user(self, open_id: str, label: str, who: str) -> None:
        gw = self.gateway
        self.probe(label + f"通讯录 / contact ({who})", need("contact"),
                   lambda: gw.contact.get_user(open_id),
                   ok_detail=lambda d: d.name or open_id)

    def check_longconn(self) -> None:
        if self.settings.transport != "ws":
            self.add("长连接 / long connection", SKIPPED, f"transport={self.settings.transport}")
            return
        # the long-connection transport loads the SDK's websocket client: only when asked for
        from gtm.bot.chat.transports.longconn import longconn_endpoint

        ok, detail = longconn_endpoint(self.settings, timeout=self.ws_timeout)
        self.add("长连接 / long connection", OK if ok else MISSING, detail,
                 "" if ok else f"{CONSOLE_EVENTS}：选择「使用长连接接收事件」，订阅 im.message.receive_v1 / "
                               "choose long connection and subscribe im.message.receive_v1")


def policy_override_problems(store: Any, settings: Any) -> list[tuple[str, str, str, str]]:
    """(slug, key, why, fix) for each stored per-project policy override outside the settings
    table's range (they are applied at run time, so a bad one would fail every job)."""
    from pydantic import TypeAdapter, ValidationError

    from gtm.schemas.settings import Policy
    from gtm.schemas.settings_table import BY_ENV
    from gtm.sync.store.registry import list_projects

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
        from sqlalchemy.engine import make_url

        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001
        return url.split("@")[-1]


STATUS_STYLE = {OK: ("✔ ok", "green"), MISSING: ("✘ missing", "red"), WARN: ("! warn", "yellow"),
                SKIPPED: ("– skipped", "dim")}


def print_findings(findings: list[Finding], console: Any = None) -> None:
    """The findings as one table: the deployment's checks first, then one labelled block per
    project; the last line counts what is missing, else the warnings, else says all passed."""
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    console = console or Console()
    table = Table(title="gtm doctor", show_lines=False, expand=False)
    table.add_column("检查 / Check", overflow="fold")
    table.add_column("结果 / Status", no_wrap=True)
    table.add_column("说明 / Detail", overflow="fold")
    table.add_column("怎么办 / What to do", overflow="fold")
    blocks: dict[str, list[Finding]] = {}
    for f in findings:
        blocks.setdefault(f.project, []).append(f)
    for project, rows in sorted(blocks.items(), key=lambda kv: kv[0] != ""):
        if table.rows:
            table.add_section()
        table.add_row(f"[bold]{'部署 / deployment' if not project else '项目 / project: ' + escape(project)}[/]",
                      "", "", "")
        for f in rows:
            label, style = STATUS_STYLE.get(f.status, (f.status, ""))
            table.add_row("  " + escape(f.check), f"[{style}]{label}[/]", escape(f.detail), escape(f.fix))
    console.print(table)
    console.print(ending(findings))


def ending(findings: list[Finding]) -> str:
    """The last line: missing first (with the warnings), then warnings; "all passed" only when
    there is neither."""
    missing = [f for f in findings if f.failed]
    warnings = [f for f in findings if f.status == WARN]
    if missing:
        more = f"，{len(warnings)} 个警告 / {len(warnings)} warnings" if warnings else ""
        return (f"[red]{len(missing)} 项缺失 / missing{more}[/] — 按「怎么办」一栏处理后重新运行 `gtm doctor` / "
                "fix them as the last column says, then run `gtm doctor` again")
    if warnings:
        return (f"[yellow]{len(warnings)} 个警告 / {len(warnings)} warnings[/] — 能运行，但请按「怎么办」一栏处理 / "
                "it runs, but see the last column")
    return "[green]全部通过 / all checks passed[/]"


def findings_json(findings: list[Finding]) -> dict[str, Any]:
    """`gtm doctor --json`: every finding, and the counts the exit code is based on."""
    return {"findings": [asdict(f) for f in findings],
            "missing": sum(1 for f in findings if f.failed),
            "warnings": sum(1 for f in findings if f.status == WARN)}


def run_doctor(app: Any, *, now: datetime | None = None, console: Any = None, as_json: bool = False) -> int:
    """Check everything, print the table (or JSON); 0 when nothing is missing, else 1."""
    findings = Doctor(app, now=now).run()
    if as_json:
        print(json.dumps(findings_json(findings), ensure_ascii=False, indent=1))
    else:
        print_findings(findings, console)
    return 1 if any(f.failed for f in findings) else 0

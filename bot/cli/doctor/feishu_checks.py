"""`gtm doctor`, the Feishu checks: the tenant token, then every permission the service needs,
each proved by a read-only call (nothing is created or sent): sending messages, the app's event
and callback subscriptions, each project's Base, tables, members, record-change events, group
chats and people, and the long-connection endpoint."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from gtm.bot.chat.transports.longconn import longconn_endpoint
from gtm.bot.cli.doctor.findings import MISSING, OK, SKIPPED, WARN, Checks, Finding
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
from gtm.bot.runtime import ProjectRuntime
from gtm.bot.service.health import feishu_probe
from gtm.sync.access import check_access, list_members
from gtm.sync.feishu.bitable import Page
from gtm.sync.feishu.errors import AuthError, FeishuError, NotFound, ScopeError, TransientError
from gtm.sync.subscribe import FALLBACK, SUBSCRIBE_FIX, can_manage, is_subscribed

PROBE_MESSAGE_ID = "om_gtm_doctor_probe_0000000000"  # made up: only the scope check matters


@dataclass
class Target:
    """What to probe for one project (or the one-project shortcut from the settings)."""

    slug: str
    base_token: str
    chat_ids: list[str] = field(default_factory=list)
    pm_open_id: str | None = None
    table_ids: dict[str, str] = field(default_factory=dict)


class FeishuChecks(Checks):
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

    def _pm_of(self, project: ProjectRuntime) -> str | None:
        """The PM from the local mirror (no Feishu call); None before the first sync."""
        try:
            snap = self.app.mirror(project).snapshot()
            pm = snap.project.pm if snap.project else None
            return pm.open_id if pm else None
        except Exception:  # noqa: BLE001 - not synced yet
            return None

    def check_target(self, t: Target, seen_chats: set[str]) -> None:
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
        if not t.chat_ids:
            self.add(label + "项目群 / group chat", WARN,
                     "没有关联群聊：周报不会发出，群里也无法 @机器人 / no group chat: the weekly report is not "
                     "posted and nobody can @mention the bot",
                     f"gtm projects link {t.slug} --chat oc_…")
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
                if who:
                    self.add(label + "谁能看到表格 / Base visible to", OK, "、".join(who))
                else:
                    self.add(label + "谁能看到表格 / Base visible to", WARN,
                             "只有应用本身 / the app only", f"gtm init --project {t.slug} --pm … --chat oc_…")

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
        ok, detail = longconn_endpoint(self.settings, timeout=self.ws_timeout)
        self.add("长连接 / long connection", OK if ok else MISSING, detail,
                 "" if ok else f"{CONSOLE_EVENTS}：选择「使用长连接接收事件」，订阅 im.message.receive_v1 / "
                               "choose long connection and subscribe im.message.receive_v1")

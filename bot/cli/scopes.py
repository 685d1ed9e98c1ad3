"""What the service needs from the Feishu app: each API scope with why, where to grant it, and the
read-only call `gtm doctor` uses to prove it is there. Plus the events and callbacks to subscribe.

A 99991672 answer ("Access denied. One of the following scopes is required: [a, b]") is mapped
back to the catalogue entry (`needs_for_error`), so every error message can say exactly what to
open in the developer console. Mirrors deploy/feishu-app-setup.md §3–4.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

CONSOLE_SCOPES = "开发者后台 → 权限管理 → API 权限（应用身份） / Developer Console → Permissions & Scopes → API scopes (tenant)"
CONSOLE_EVENTS = "开发者后台 → 事件与回调 → 事件配置 / Developer Console → Events & Callbacks → Event configuration"
CONSOLE_CALLBACKS = "开发者后台 → 事件与回调 → 回调配置 / Developer Console → Events & Callbacks → Callback configuration"
CONSOLE_CREDENTIALS = "开发者后台 → 凭证与基础信息 / Developer Console → Credentials & Basic Info"
CONSOLE_BOT = "开发者后台 → 添加应用能力 → 机器人 / Developer Console → Add Features → Bot"
CONSOLE_RELEASE = "开发者后台 → 版本管理与发布 / Developer Console → Version Management & Release"


@dataclass(frozen=True)
class ScopeNeed:
    """One API scope the service needs (any of `alternatives` also satisfies it)."""

    key: str
    scope: str
    why_zh: str
    why_en: str
    probe: str  # the read-only call doctor makes
    alternatives: tuple[str, ...] = ()

    @property
    def names(self) -> tuple[str, ...]:
        return (self.scope, *self.alternatives)

    def fix(self) -> str:
        """What to do and where, Chinese then English."""
        alt = f"（或 {' / '.join(self.alternatives)}）" if self.alternatives else ""
        alt_en = f" (or {' / '.join(self.alternatives)})" if self.alternatives else ""
        return (f"权限管理 → API 权限 → 开通 {self.scope}{alt}，然后发布新版本 / "
                f"Permissions & Scopes → API scopes → enable {self.scope}{alt_en}, then release a new version")


SCOPES: tuple[ScopeNeed, ...] = (
    ScopeNeed("bitable", "bitable:app", "建表、读写计划记录（gtm init、同步、写回）",
              "create tables, read and write plan records (init, sync, write-back)",
              "GET /open-apis/bitable/v1/apps/:app_token/tables"),
    ScopeNeed("drive", "drive:drive", "把多维表格共享给项目群和项目经理，读取协作者",
              "share the Base with the project group and the PM; list its members",
              "GET /open-apis/drive/v1/permissions/:token/members?type=bitable",
              ("docs:permission.member:readonly", "docs:permission.member:create", "docs:permission.member")),
    ScopeNeed("im_send", "im:message", "发送周报、提醒、升级通知，更新卡片",
              "send reports, reminders and escalations; update cards",
              "GET /open-apis/im/v1/messages/:message_id (a made-up id: answers 'not found' when allowed)",
              ("im:message:send_as_bot",)),
    ScopeNeed("im_chat", "im:chat:readonly", "读取项目群信息和成员", "read the project group and its members",
              "GET /open-apis/im/v1/chats/:chat_id and …/members", ("im:chat",)),
    ScopeNeed("contact", "contact:user.base:readonly", "人员字段显示姓名", "show names for person fields",
              "GET /open-apis/contact/v3/users/:open_id", ("contact:contact:readonly",)),
    ScopeNeed("contact_id", "contact:user.id:readonly", "用邮箱解析成员（gtm init --admin 邮箱）",
              "resolve people by email (gtm init --admin EMAIL)",
              "POST /open-apis/contact/v3/users/batch_get_id"),
    ScopeNeed("event_subscribe", "docs:event:subscribe", "订阅多维表格的记录变更事件（drive:drive 也可以；应用还须是表格的所有者或可管理协作者）",
              "subscribe to the Base's record-change events (drive:drive also does; the app must also own or "
              "manage the Base)", "GET /open-apis/drive/v1/files/:token/get_subscribe?file_type=bitable"),
    ScopeNeed("self_manage", "application:application:self_manage", "可选：让 gtm doctor 核对已订阅的事件与回调",
              "optional: lets gtm doctor read which events and callbacks the app subscribed",
              "GET /open-apis/application/v6/applications/:app_id", ("admin:app.info:readonly",)),
    ScopeNeed("group_at", "im:message.group_at_msg:readonly", "接收群里 @机器人 的提问",
              "receive group messages that @mention the bot", "(event permission: not probeable by API)"),
    ScopeNeed("p2p", "im:message.p2p_msg:readonly", "接收私聊提问（我的任务）",
              "receive private questions (my tasks)", "(event permission: not probeable by API)"),
)

EVENTS: tuple[tuple[str, str, str], ...] = (  # (event/callback, why, where)
    ("im.message.receive_v1", "群里 @机器人 与私聊提问 / questions in the group and in private", CONSOLE_EVENTS),
    ("drive.file.bitable_record_changed_v1", "表格改动后立即刷新 / refresh right after an edit", CONSOLE_EVENTS),
    ("card.action.trigger", "卡片按钮写回表格 / card buttons write back", CONSOLE_CALLBACKS),
)

_BY_NAME = {name: need for need in SCOPES for name in need.names}
_BRACKETS = re.compile(r"\[([^\]]+)\]")


def need(key: str) -> ScopeNeed:
    return next(n for n in SCOPES if n.key == key)


def scopes_in_message(msg: str) -> list[str]:
    """The scope names a 99991672 message lists ("… required: [a, b]")."""
    m = _BRACKETS.search(msg or "")
    return [s.strip() for s in m.group(1).split(",") if s.strip()] if m else []


def needs_for_error(msg: str, default: ScopeNeed | None = None) -> list[ScopeNeed]:
    """The catalogue entries a scope error asks for (the default entry when the message names none)."""
    found: list[ScopeNeed] = []
    for name in scopes_in_message(msg):
        n = _BY_NAME.get(name)
        if n is not None and n not in found:
            found.append(n)
    if not found and default is not None:
        found.append(default)
    return found


def describe_missing(msg: str, default: ScopeNeed | None = None) -> str:
    """One line naming the missing scope(s), for error messages anywhere in the product."""
    needs = needs_for_error(msg, default)
    if not needs:
        names = scopes_in_message(msg)
        return (f"缺少权限 {' / '.join(names) or '?'}：{CONSOLE_SCOPES} / missing scope {' / '.join(names) or '?'}")
    return "; ".join(f"缺少权限 missing scope {n.scope}（{n.why_zh} / {n.why_en}）→ {n.fix()}" for n in needs)

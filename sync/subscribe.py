"""Subscribing the app to a Base's record-change events (drive.file.bitable_record_changed_v1).

Feishu sends record-change events only for files the app subscribed to, and only the file's owner
or a manager (可管理, full_access) may subscribe; the call also needs one of docs:event:subscribe /
drive:drive. The events make the mirror fresh within a second of a person's edit; polling stays
as the safety net (formula fields fire no events, and events can be lost). Without the
subscription nothing breaks, it is only slower: every caller says so instead of staying silent.
"""
from __future__ import annotations

from gtm.sync.feishu.errors import FeishuError, NotFound
from gtm.sync.feishu.gateway import Gateway

# what to do when the subscription is refused (zh / en), shared by `gtm init`, serve and doctor
SUBSCRIBE_FIX = ("在多维表格「分享」中把应用（机器人）设为「可管理」协作者（或由应用创建该表格），并开通 docs:event:subscribe"
                 "（或 drive:drive）权限 / in the Base's Share settings make the app (its bot) a manager (可管理, "
                 "full access) or let the app create the Base, and grant docs:event:subscribe (or drive:drive)")
FALLBACK = ("记录变更事件不会推送，改动只能靠定时同步发现（最长一个检查周期）/ no record-change events: "
            "edits are picked up by polling only (up to one check interval)")


def is_subscribed(gateway: Gateway, app_token: str) -> bool:
    return gateway.drive.is_subscribed(app_token)


def can_manage(gateway: Gateway, app_token: str) -> bool:
    """Whether the app may manage the Base (owner or 可管理): the right Feishu asks for to subscribe.
    Asked as "may change the sharing settings" (action manage_public), a read-only call."""
    return gateway.drive.may(app_token, "manage_public")


def ensure_subscribed(gateway: Gateway, app_token: str) -> tuple[bool, str]:
    """Subscribe if not yet subscribed. Returns (subscribed now, message); never raises on refusal:
    without the subscription the service still works by polling, and the message says why and
    what to do."""
    try:
        if is_subscribed(gateway, app_token):
            return True, ""
        gateway.drive.subscribe(app_token)
        return True, ""
    except NotFound as exc:  # a deleted Base is not a missing scope
        return False, (f"多维表格 {app_token} 已不存在或已被删除（{exc.code}），无法订阅记录变更；请从回收站恢复，或用 "
                       f"`gtm projects archive SLUG` 归档该项目 / the Base {app_token} no longer exists ({exc.code}): "
                       f"restore it from the trash or archive the project")
    except FeishuError as exc:
        return False, (f"无法订阅多维表格 {app_token} 的记录变更事件（{exc.code}）/ could not subscribe to "
                       f"the record-change events of Base {app_token} ({exc.code}): {FALLBACK}. {SUBSCRIBE_FIX}")

"""Subscribing the app to a Base's record-change events (drive.file.bitable_record_changed_v1).

Feishu sends record-change events only for files the app subscribed to. The events make the
mirror fresh within a second of a person's edit; polling stays as the safety net (formula fields
fire no events, and events can be lost).
"""
from __future__ import annotations

from lark_oapi.api.drive.v1 import GetSubscribeFileRequest, SubscribeFileRequest

from gtm.sync.errors import FeishuError, NotFound, PermissionDenied, ScopeError
from gtm.sync.gateway import Gateway


def is_subscribed(gateway: Gateway, app_token: str) -> bool:
    req = GetSubscribeFileRequest.builder().file_token(app_token).file_type("bitable").build()
    data = gateway.call("drive.file.get_subscribe", lambda: gateway.client.drive.v1.file.get_subscribe(req),
                        family="drive.permission", context=app_token)
    return bool(getattr(data, "is_subscribe", False))


def ensure_subscribed(gateway: Gateway, app_token: str) -> tuple[bool, str]:
    """Subscribe if not yet subscribed. Returns (subscribed now, message); never raises on refusal:
    without the scope the service still works by polling, and the message says what to grant."""
    try:
        if is_subscribed(gateway, app_token):
            return True, ""
        req = SubscribeFileRequest.builder().file_token(app_token).file_type("bitable").build()
        gateway.call("drive.file.subscribe", lambda: gateway.client.drive.v1.file.subscribe(req),
                     family="drive.permission", retry_safe=True, context=app_token)
        return True, ""
    except NotFound as exc:
        return False, (f"多维表格 {app_token} 已不存在或已被删除（{exc.code}），无法订阅记录变更；请从回收站恢复，或用 "
                       f"`gtm projects archive SLUG` 归档该项目 / the Base {app_token} no longer exists ({exc.code}): "
                       f"restore it from the trash or archive the project")
    except (ScopeError, PermissionDenied) as exc:
        return False, (f"无法订阅多维表格的记录变更事件（{exc.code}），将仅靠定时同步；请开通 drive:drive 权限 / "
                       f"could not subscribe to record-change events ({exc.code}); polling only — grant drive:drive")
    except FeishuError as exc:
        return False, (f"无法订阅多维表格的记录变更事件（{exc.code}），将仅靠定时同步 / could not subscribe to "
                       f"record-change events ({exc.code}); polling only")

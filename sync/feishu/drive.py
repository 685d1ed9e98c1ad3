"""Drive calls on a Base: its permission members (who may open it) and the app's subscription to
its record-change events."""
from __future__ import annotations

from typing import Any

from lark_oapi.api.drive.v1 import (
    AuthPermissionMemberRequest,
    BaseMember,
    CreatePermissionMemberRequest,
    GetSubscribeFileRequest,
    ListPermissionMemberRequest,
    SubscribeFileRequest,
)

from gtm.sync.feishu.caller import Caller
from gtm.sync.feishu.sdk import as_dict, with_data


FAMILY = "drive.permission"


class Drive:
    """Drive calls through one gateway; `token` is a Base's app token (file type "bitable")."""

    def __init__(self, gateway: Caller) -> None:
        self.gw = gateway

    def list_members(self, token: str, file_type: str = "bitable") -> list[dict[str, Any]]:
        """The file's collaborators: `{"member_type", "member_id", "perm", …}` each."""
        req = ListPermissionMemberRequest.builder().token(token).type(file_type).build()
        data = self.gw.call("drive.permission.member.list",
                            lambda: self.gw.client.drive.v1.permission_member.list(req),
                            family=FAMILY, context=token)
        return as_dict(getattr(data, "items", None)) or []

    def add_member(self, token: str, member_type: str, member_id: str, perm: str, *,
                   file_type: str = "bitable", context: str = "") -> None:
        """Grant `perm` (view | edit | full_access) to a person or a group (member_type openchat)."""
        body = BaseMember({"member_type": member_type, "member_id": member_id, "perm": perm,
                           "type": "chat" if member_type == "openchat" else "user"})
        req = CreatePermissionMemberRequest.builder().token(token).type(file_type).request_body(body).build()
        self.gw.call("drive.permission.member.create",
                     lambda: with_data(self.gw.client.drive.v1.permission_member.create(req)),
                     family=FAMILY, retry_safe=True, context=context)

    def may(self, token: str, action: str, file_type: str = "bitable") -> bool:
        """Whether the app may do `action` on the file (e.g. manage_public), a read-only call."""
        req = AuthPermissionMemberRequest.builder().token(token).type(file_type).action(action).build()
        data = self.gw.call("drive.permission.member.auth",
                            lambda: self.gw.client.drive.v1.permission_member.auth(req),
                            family=FAMILY, context=token)
        return bool(getattr(data, "auth_result", False))

    def is_subscribed(self, token: str, file_type: str = "bitable") -> bool:
        req = GetSubscribeFileRequest.builder().file_token(token).file_type(file_type).build()
        data = self.gw.call("drive.file.get_subscribe", lambda: self.gw.client.drive.v1.file.get_subscribe(req),
                            family=FAMILY, context=token)
        return bool(getattr(data, "is_subscribe", False))

    def subscribe(self, token: str, file_type: str = "bitable") -> None:
        """Subscribe the app to the file's events (for a Base: record changes)."""
        req = SubscribeFileRequest.builder().file_token(token).file_type(file_type).build()
        self.gw.call("drive.file.subscribe", lambda: self.gw.client.drive.v1.file.subscribe(req),
                     family=FAMILY, retry_safe=True, context=token)

"""Contact (通讯录) calls: people by email, one person by open id."""
from __future__ import annotations

from dataclasses import dataclass

from lark_oapi.api.contact.v3 import BatchGetIdUserRequest, BatchGetIdUserRequestBody, GetUserRequest

from gtm.sync.feishu.caller import Caller
from gtm.sync.feishu.sdk import as_dict


BATCH_EMAILS = 50  # emails per batch_get_id call


@dataclass(frozen=True)
class User:
    open_id: str
    name: str = ""


class Contact:
    """Contact calls through one gateway."""

    def __init__(self, gateway: Caller) -> None:
        self.gw = gateway

    def open_ids_by_email(self, emails: list[str]) -> dict[str, str]:
        """email (lower case) → open_id for the ≤50 given that the directory knows (one call)."""
        req = (BatchGetIdUserRequest.builder().user_id_type("open_id")
               .request_body(BatchGetIdUserRequestBody({"emails": emails[:BATCH_EMAILS]})).build())
        data = self.gw.call("contact.user.batch_get_id",
                            lambda: self.gw.client.contact.v3.user.batch_get_id(req), family="contact")
        out: dict[str, str] = {}
        for item in as_dict(getattr(data, "user_list", None)) or []:
            if item.get("user_id") and item.get("email"):
                out[item["email"].lower()] = item["user_id"]
        return out

    def get_user(self, open_id: str, *, context: str = "") -> User:
        """One person (NotFound and the like when the directory has no such person)."""
        req = GetUserRequest.builder().user_id(open_id).user_id_type("open_id").build()
        data = self.gw.call("contact.user.get", lambda: self.gw.client.contact.v3.user.get(req), family="contact",
                            retry_safe=True, context=context or open_id)
        user = getattr(data, "user", None)
        return User(open_id=getattr(user, "open_id", None) or open_id, name=getattr(user, "name", None) or "")

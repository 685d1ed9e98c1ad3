"""The app's own information: a fresh tenant token (is Feishu answering, are the credentials
right?) and the events and callbacks subscribed in the developer console."""
from __future__ import annotations

from dataclasses import dataclass

from lark_oapi.api.application.v6 import GetApplicationRequest
from lark_oapi.api.auth.v3 import InternalTenantAccessTokenRequest, InternalTenantAccessTokenRequestBody

from gtm.sync.feishu.caller import Caller


@dataclass(frozen=True)
class Subscriptions:
    """What the console subscribed; None when the API did not report it."""

    events: list[str] | None
    callbacks: list[str] | None


class Application:
    """Application and auth calls through one gateway."""

    def __init__(self, gateway: Caller) -> None:
        self.gw = gateway

    def tenant_token(self, app_id: str, app_secret: str, *, context: str = "") -> None:
        """Ask for a fresh tenant token (one attempt); raises the typed error when refused."""
        req = (InternalTenantAccessTokenRequest.builder()
               .request_body(InternalTenantAccessTokenRequestBody.builder()
                             .app_id(app_id).app_secret(app_secret).build())
               .build())
        self.gw.call("auth.tenant_access_token", lambda: self.gw.client.auth.v3.tenant_access_token.internal(req),
                     family="auth", retry_safe=False, context=context)

    def subscriptions(self, app_id: str, *, lang: str = "zh_cn", context: str = "") -> Subscriptions:
        """The app's subscribed events and callbacks (needs application:application:self_manage)."""
        req = GetApplicationRequest.builder().app_id(app_id).lang(lang).build()
        data = self.gw.call("application.get", lambda: self.gw.client.application.v6.application.get(req),
                            context=context)
        app = getattr(data, "app", None)
        events = getattr(getattr(app, "event", None), "subscribed_events", None)
        callbacks = getattr(getattr(app, "callback_info", None), "subscribed_callbacks", None)
        return Subscriptions(list(events) if events is not None else None,
                             list(callbacks) if callbacks is not None else None)

"""What a service wrapper (`bitable`, `im`, `drive`, `contact`, `application`) needs from the gateway
that owns it: the SDK client to build requests with, the one rate limiter, and the two ways to run a
call. `Gateway` is the only implementation; the wrappers depend on this protocol, so the gateway
can build them without an import cycle."""
from __future__ import annotations

from typing import Any, Callable, Protocol

import lark_oapi as lark

from gtm.sync.feishu.ratelimit import Limiter


class Caller(Protocol):
    client: lark.Client
    limiter: Limiter

    def call(self, api: str, fn: Callable[[], Any], *, family: str = "other", retry_safe: bool = True,
             write_table: str | None = None, context: str = "", max_wait: float | None = None) -> Any: ...

    def call_json(self, api: str, request: lark.BaseRequest, *, family: str = "other", retry_safe: bool = True,
                  write_table: str | None = None, context: str = "") -> dict[str, Any]: ...

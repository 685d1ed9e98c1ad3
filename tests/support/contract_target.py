"""What a contract test talks to: the sandbox or real Feishu, behind one `Target` object.

The same test function runs against both. Everything goes through a real `lark_oapi.Client`
wrapped in the product `Gateway` (its own LocalCache token cache, typed errors, retries on rate
limits and write conflicts, call counting), so the tests also prove the gateway copes with the
real service. Whatever a test creates is registered with `Target.defer` and removed at teardown.
"""
from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import lark_oapi as lark
import pytest
from lark_oapi.api.bitable.v1 import CreateAppTableRequest, CreateAppTableRequestBody, DeleteAppTableRequest, ReqTable

from gtm.sync.feishu.gateway import Gateway
from tests.support.bitable_raw import FieldSpec, table_headers

LIVE_ENV = ("GTM_LIVE_APP_ID", "GTM_LIVE_APP_SECRET", "GTM_LIVE_BASE_TOKEN", "GTM_LIVE_CHAT_ID")
LIVE_SKIP_REASON = ("set GTM_LIVE_APP_ID, GTM_LIVE_APP_SECRET, GTM_LIVE_BASE_TOKEN, GTM_LIVE_CHAT_ID "
                    "(optional GTM_LIVE_USER_OPEN_ID, GTM_LIVE_DOMAIN)")
MESSAGE_PREFIX = "[gtm contract test]"  # messages cannot be deleted: make ours recognisable
TABLE_PREFIX = "gtm-contract"
# batch_create/batch_update maximum on real Feishu: the current docs say 1,000 (docs/feishu-api.md §2.2,
# §5.2; older English pages say 500). Sending limit+1 must fail either way.
LIVE_BATCH_LIMIT = 1000


@dataclass(frozen=True)
class LiveConfig:
    """The live settings from the environment; `None` from `live_config` when incomplete."""

    app_id: str
    app_secret: str
    base_token: str
    chat_id: str
    user_open_id: str | None
    domain: str


def live_config(env: Mapping[str, str]) -> LiveConfig | None:
    """Read GTM_LIVE_*; all four required ones must be non-empty."""
    values = {k: (env.get(k) or "").strip() for k in LIVE_ENV}
    if not all(values.values()):
        return None
    return LiveConfig(values["GTM_LIVE_APP_ID"], values["GTM_LIVE_APP_SECRET"], values["GTM_LIVE_BASE_TOKEN"],
                      values["GTM_LIVE_CHAT_ID"], (env.get("GTM_LIVE_USER_OPEN_ID") or "").strip() or None,
                      (env.get("GTM_LIVE_DOMAIN") or "").strip().rstrip("/") or lark.FEISHU_DOMAIN)


@dataclass
class Table:
    """A temporary table of the target's Base; untyped record helpers return Feishu's JSON `data`."""

    target: "Target"
    table_id: str
    name: str
    field_ids: list[str]
    default_view_id: str = ""

    def uri(self, tail: str = "") -> str:
        return f"/open-apis/bitable/v1/apps/{self.target.app_token}/tables/{self.table_id}{tail}"

    def call(self, method: str, tail: str, body: Any = None, query: dict[str, Any] | None = None, *,
             api: str, family: str, retry_safe: bool = True) -> Any:
        write = family in ("bitable.write", "bitable.schema_write")
        return self.target.raw(method, self.uri(tail), body, query, api=api, family=family,
                               retry_safe=retry_safe, write_table=self.table_id if write else None)

    def create(self, fields: dict[str, Any], **query: Any) -> dict[str, Any]:
        return self.call("POST", "/records", {"fields": fields}, query or None, api="bitable.record.create",
                         family="bitable.write", retry_safe="client_token" in query)["record"]

    def batch_get(self, record_ids: list[str], **body: Any) -> dict[str, Any]:
        return self.call("POST", "/records/batch_get", {"record_ids": record_ids, **body},
                         api="bitable.record.batch_get", family="bitable.read")

    def search(self, body: dict[str, Any] | None = None, **query: Any) -> dict[str, Any]:
        return self.call("POST", "/records/search", body or {}, query or None, api="bitable.record.search",
                         family="bitable.read")

    def fields(self) -> list[dict[str, Any]]:
        return self.call("GET", "/fields", query={"page_size": 100}, api="bitable.field.list",
                         family="bitable.schema_read")["items"]

    def field(self, name: str) -> dict[str, Any]:
        return next(f for f in self.fields() if f["field_name"] == name)


@dataclass
class Target:
    """One Feishu to test against: `kind` is "sandbox" or "live"."""

    kind: str
    gateway: Gateway
    domain: str
    app_id: str
    app_secret: str
    app_token: str
    chat_id: str
    user_open_id: str | None
    batch_limit: int
    sandbox: Any = None  # the gtm.sandbox.Sandbox for kind == "sandbox"
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex[:8])
    _cleanups: list[tuple[str, Callable[[], Any]]] = field(default_factory=list)
    _journal_mark: int = 0

    @property
    def client(self) -> lark.Client:
        return self.gateway.client

    @property
    def is_live(self) -> bool:
        return self.kind == "live"

    # -- sandbox-only and optional parts ---------------------------------------------------------
    def sandbox_only(self, why: str) -> None:
        """Skip the live run of a test whose behaviour only the sandbox can produce."""
        if self.is_live:
            pytest.skip(f"sandbox only: {why}")

    def journal(self) -> list[dict[str, Any]]:
        """The sandbox's request journal since this target was made (count with `gateway.stats` live)."""
        if self.sandbox is None:
            raise RuntimeError("journal() exists only for the sandbox; count calls with target.gateway.stats")
        return self.sandbox.journal.since(self._journal_mark)

    def need_user(self) -> str:
        if not self.user_open_id:
            pytest.skip("set GTM_LIVE_USER_OPEN_ID to test user fields, mentions and contact")
        return self.user_open_id

    # -- naming and cleanup -------------------------------------------------------------------
    def unique(self, label: str) -> str:
        return f"{TABLE_PREFIX}-{self.run_id}-{label}-{uuid.uuid4().hex[:4]}"

    def text(self, body: str) -> str:
        return f"{MESSAGE_PREFIX} {body}"

    def defer(self, what: str, fn: Callable[[], Any]) -> None:
        self._cleanups.append((what, fn))

    def cleanup(self) -> list[str]:
        """Run the deferred removals newest first; return what could not be removed."""
        failed = []
        while self._cleanups:
            what, fn = self._cleanups.pop()
            try:
                fn()
            except Exception as exc:  # keep cleaning; report every leftover at the end
                failed.append(f"{what}: {exc}")
        return failed

    # -- calls --------------------------------------------------------------------------------
    def call(self, api: str, fn: Callable[[], Any], **kw: Any) -> Any:
        return self.gateway.call(api, fn, **kw)

    def raw(self, method: str, uri: str, body: Any = None, query: dict[str, Any] | None = None, *,
            api: str, family: str, retry_safe: bool = True, write_table: str | None = None,
            token: bool = True) -> Any:
        """An untyped call through the SDK and the gateway; returns `data` or raises a FeishuError."""
        def fn() -> lark.BaseResponse:
            b = lark.BaseRequest.builder().http_method(getattr(lark.HttpMethod, method)).uri(uri)
            b = b.token_types({lark.AccessTokenType.TENANT} if token else set())
            if query:
                b = b.queries([(k, _q(v)) for k, v in query.items()])
            if body is not None:
                b = b.body(body)
            resp = self.client.request(b.build())
            payload = _json(resp)
            resp.data = payload.get("data", payload)  # token calls answer at the top level
            return resp
        return self.gateway.call(api, fn, family=family, retry_safe=retry_safe, write_table=write_table)

    # -- Bitable ------------------------------------------------------------------------------
    def new_table(self, label: str, fields: list[FieldSpec], default_view: str = "全部") -> Table:
        """A uniquely named table with these fields; deleted at teardown."""
        name = self.unique(label)
        headers = table_headers(fields)
        req = CreateAppTableRequest.builder().app_token(self.app_token).request_body(
            CreateAppTableRequestBody.builder().table(
                ReqTable.builder().name(name).default_view_name(default_view).fields(headers).build()).build()).build()
        # not retry-safe: a repeated create would make a second table (or fail on the name)
        data = self.call("bitable.table.create", lambda: self.client.bitable.v1.app_table.create(req),
                         family="bitable.schema_write", retry_safe=False)
        self.defer(f"table {name} ({data.table_id})", lambda: self.delete_table(data.table_id))
        return Table(self, data.table_id, name, list(data.field_id_list or []), data.default_view_id or "")

    def delete_table(self, table_id: str) -> None:
        req = DeleteAppTableRequest.builder().app_token(self.app_token).table_id(table_id).build()
        self.call("bitable.table.delete", lambda: self.client.bitable.v1.app_table.delete(req),
                  family="bitable.schema_write", write_table=table_id)

    def tables(self) -> list[dict[str, Any]]:
        """Every table of the Base (paged)."""
        items, token = [], None
        while True:
            q: dict[str, Any] = {"page_size": 100}
            if token:
                q["page_token"] = token
            data = self.raw("GET", f"/open-apis/bitable/v1/apps/{self.app_token}/tables", query=q,
                            api="bitable.table.list", family="bitable.schema_read")
            items += data.get("items") or []
            if not data.get("has_more"):
                return items
            token = data["page_token"]

    def leftover_tables(self) -> list[str]:
        """Tables this run created that still exist (should be none after cleanup)."""
        mine = f"{TABLE_PREFIX}-{self.run_id}-"
        return [t["name"] for t in self.tables() if t["name"].startswith(mine)]


def _q(v: Any) -> str:
    return ("true" if v else "false") if isinstance(v, bool) else str(v)


def _json(resp: lark.BaseResponse) -> dict[str, Any]:
    raw = getattr(resp, "raw", None)
    if raw is None or not raw.content:
        return {}
    try:
        return json.loads(raw.content)
    except ValueError:
        return {}


def live_target(env: Mapping[str, str]) -> Target:
    """The real-Feishu target from GTM_LIVE_*, or a pytest skip naming what to set."""
    cfg = live_config(env)
    if cfg is None:
        pytest.skip(LIVE_SKIP_REASON)
    # documented per-family rates and real back-off sleeps (the gateway's defaults)
    gw = Gateway(cfg.app_id, cfg.app_secret, cfg.domain, timeout=30, sleep=time.sleep)
    return Target("live", gw, cfg.domain, cfg.app_id, cfg.app_secret, cfg.base_token, cfg.chat_id,
                  cfg.user_open_id, LIVE_BATCH_LIMIT)


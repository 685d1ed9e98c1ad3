"""Contract: tenant tokens and auth errors (docs/feishu-api.md §1), against the sandbox and real Feishu."""
from __future__ import annotations

import uuid

import lark_oapi as lark
import pytest
from lark_oapi.api.bitable.v1 import ListAppTableRequest
from lark_oapi.core.cache import LocalCache

from gtm.sync.feishu.errors import AuthError, FeishuError
from gtm.sync.feishu.gateway import Gateway

TOKEN_URI = "/open-apis/auth/v3/tenant_access_token/internal"


def _tables_uri(target) -> str:
    return f"/open-apis/bitable/v1/apps/{target.app_token}/tables"


def test_tenant_token_shape_and_reuse(target):
    body = {"app_id": target.app_id, "app_secret": target.app_secret}
    first = target.raw("POST", TOKEN_URI, body, api="auth.tenant_access_token", family="auth", token=False)
    second = target.raw("POST", TOKEN_URI, body, api="auth.tenant_access_token", family="auth", token=False)
    # top-level fields, no `data` wrapper; a t- token that lives 2 h at most
    assert first["code"] == 0 and first["tenant_access_token"].startswith("t-")
    assert 600 < first["expire"] <= 7200
    # asked again while ≥30 min remain: the same token with the remaining lifetime
    assert second["tenant_access_token"] == first["tenant_access_token"]
    assert second["expire"] <= first["expire"]


def test_missing_and_unknown_tokens_are_refused_with_auth_codes(target):
    # no Authorization header at all → 99991661
    with pytest.raises(AuthError) as missing:
        target.raw("GET", _tables_uri(target), api="bitable.table.list", family="bitable.schema_read", token=False)
    assert missing.value.code == 99991661
    # a well-formed but unknown tenant token → 99991663
    bogus = (lark.Client.builder().app_id(target.app_id).app_secret(target.app_secret).domain(target.domain)
             .enable_set_token(True).log_level(lark.LogLevel.ERROR).cache(LocalCache()).build())
    req = (lark.BaseRequest.builder().http_method(lark.HttpMethod.GET).uri(_tables_uri(target))
           .token_types({lark.AccessTokenType.TENANT}).build())
    opt = lark.RequestOption.builder().tenant_access_token("t-" + uuid.uuid4().hex * 2).build()
    resp = bogus.request(req, opt)
    assert resp.code == 99991663 and resp.msg
    with pytest.raises(AuthError) as unknown:
        Gateway.unwrap(resp, api="bitable.table.list")
    assert unknown.value.code == 99991663 and "99991663" in str(unknown.value)


def test_gateway_drops_a_refused_cached_token_and_recovers(target):
    # A new gateway owns the SDK's token cache (the SDK keeps one cache globally: the last built).
    gw = Gateway(target.app_id, target.app_secret, target.domain, timeout=30, rates={},
                 sleep=lambda s: None)
    gw.token_cache.set(f"self_tenant_token:{target.app_id}", "t-" + uuid.uuid4().hex * 2, 2**31 - 1)
    req = ListAppTableRequest.builder().app_token(target.app_token).page_size(100).build()
    data = gw.call("bitable.table.list", lambda: gw.client.bitable.v1.app_table.list(req),
                   family="bitable.schema_read")
    assert isinstance(data.items, list) and data.items  # a Base always has at least one table
    assert gw.stats.calls["bitable.table.list"] == 1 and not gw.stats.failures
    assert gw.token_cache.get(f"self_tenant_token:{target.app_id}").startswith("t-")


def test_wrong_app_secret_is_an_auth_error_naming_the_settings(target):
    gw = Gateway(target.app_id, "wrong-" + uuid.uuid4().hex, target.domain, timeout=30, rates={},
                 sleep=lambda s: None)
    req = (lark.BaseRequest.builder().http_method(lark.HttpMethod.GET).uri(_tables_uri(target))
           .token_types({lark.AccessTokenType.TENANT}).build())
    with pytest.raises(AuthError) as exc:
        gw.call("bitable.table.list", lambda: gw.client.request(req), family="bitable.schema_read")
    assert exc.value.code != 0 and "GTM_FEISHU_APP_SECRET" in str(exc.value)
    assert isinstance(exc.value, FeishuError) and gw.stats.calls["bitable.table.list"] == 1  # not retried


"""Scope enforcement in the sandbox (99991672 naming the scopes) and the catalogue that reads it."""
from __future__ import annotations

import pytest
import requests
from lark_oapi.api.bitable.v1 import (
    CreateAppRequest,
    CreateAppTableRequest,
    CreateAppTableRequestBody,
    ListAppTableRequest,
    ReqApp,
    ReqTable,
)

from gtm.bot.cli.scopes import SCOPES, describe_missing, need, needs_for_error
from gtm.bot.service.serve import Service
from gtm.sync.feishu.errors import ScopeError


def test_a_readonly_scope_reads_but_cannot_write_and_the_error_names_the_scope(gateway, sandbox, seed):
    gw = gateway
    base = gw.call("bitable.app.create", lambda: gw.client.bitable.v1.app.create(
        CreateAppRequest.builder().request_body(ReqApp.builder().name("s").build()).build()))
    token = base.app.app_token
    sandbox.world.apps[seed.app_id].scopes = ["bitable:app:readonly"]
    listed = gw.call("bitable.table.list", lambda: gw.client.bitable.v1.app_table.list(
        ListAppTableRequest.builder().app_token(token).build()))
    assert listed.items
    req = (CreateAppTableRequest.builder().app_token(token)
           .request_body(CreateAppTableRequestBody.builder().table(ReqTable.builder().name("x").build()).build())
           .build())
    with pytest.raises(ScopeError) as err:
        gw.call("bitable.table.create", lambda: gw.client.bitable.v1.app_table.create(req),
                family="bitable.schema_write", retry_safe=False)
    assert err.value.code == 99991672 and "[bitable:app]" in err.value.msg
    assert needs_for_error(err.value.msg) == [need("bitable")]
    assert "权限管理 → API 权限 → 开通 bitable:app" in describe_missing(err.value.msg)


def test_the_catalogue_covers_the_setup_guide():
    from pathlib import Path

    guide = (Path(__file__).resolve().parents[3] / "deploy" / "feishu-app-setup.md").read_text(encoding="utf-8")
    for n in SCOPES:
        assert f"`{n.scope}`" in guide, f"{n.scope} is not in deploy/feishu-app-setup.md"
    assert needs_for_error("Access denied. One of the following scopes is required: [im:chat, im:chat:readonly].") \
        == [need("im_chat")]


def test_webhook_transport_is_mounted_on_the_service_http_server(make_app):
    svc = Service(make_app(transport="webhook", feishu_encrypt_key="k" * 16)).start()
    try:
        r = requests.post(svc.url + "/webhook/event", json={"type": "event"}, timeout=5)
        assert r.status_code == 401  # the guard refuses an unencrypted request
        assert requests.get(svc.url + "/healthz", timeout=5).status_code == 200
        assert "longconn" not in requests.get(svc.url + "/readyz", timeout=5).json()["checks"]
    finally:
        svc.stop()

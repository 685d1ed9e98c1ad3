"""The Bitable routes' shared preamble (gtm.sandbox.bitable.routes): token, lookups, access,
idempotency and the table's write flag answer the same way on every resource, in the same order.

Every call is real HTTP: the lark-oapi SDK for a valid token, `requests` where the SDK would not
send what we need (no token, a wrong one).
"""
from __future__ import annotations

import uuid

import lark_oapi as lark
import pytest
import requests
from lark_oapi.core.cache import LocalCache

from tests.support.bitable_raw import Tbl, create_base, create_table, raw

# Two resources per check: the same preamble must answer them identically.
READS = [("GET", "/views"), ("GET", "/fields")]
WRITES = [("POST", "/views", {"view_name": "新视图"}), ("POST", "/fields", {"field_name": "新字段", "type": 1})]


@pytest.fixture
def tbl(lark_client) -> Tbl:
    app_token, _ = create_base(lark_client)
    table_id, field_ids = create_table(lark_client, app_token)
    return Tbl(lark_client, app_token, table_id, field_ids)


def client_for(sandbox, app_id: str, app_secret: str) -> lark.Client:
    return (lark.Client.builder().app_id(app_id).app_secret(app_secret).domain(sandbox.url).timeout(5)
            .log_level(lark.LogLevel.ERROR).cache(LocalCache()).build())


def answer(resp: tuple[int, dict, object]) -> tuple[int, int, str]:
    status, body, _ = resp
    return status, body["code"], body["msg"]


@pytest.mark.parametrize("method,tail", [("GET", "/records/recNope"), ("PUT", "/fields/fldNope")])
def test_the_token_is_checked_before_anything_else(sandbox, seed, method, tail):
    """Before the body is read and before any lookup: a broken body on a missing base still gets
    the token's answer."""
    url = f"{sandbox.url}/open-apis/bitable/v1/apps/basNope/tables/tblNope{tail}"

    def call(headers: dict[str, str]) -> tuple[int, int]:
        r = requests.request(method, url, data=b"{oops", headers=headers, timeout=5)
        return r.status_code, r.json()["code"]

    assert call({}) == (400, 99991661)
    assert call({"Authorization": "Bearer t-nope"}) == (400, 99991663)
    token = requests.post(f"{sandbox.url}/open-apis/auth/v3/tenant_access_token/internal", timeout=5,
                          json={"app_id": seed.app_id, "app_secret": seed.app_secret}).json()["tenant_access_token"]
    valid = call({"Authorization": f"Bearer {token}"})
    assert valid == ((400, 1254000) if method == "PUT" else (400, 1254040))  # past the token: body, then lookup
    sandbox.expire_tokens()
    assert call({"Authorization": f"Bearer {token}"}) == (400, 99991663)


def test_a_missing_base_or_table_answers_alike_on_every_resource(tbl: Tbl):
    c = tbl.client
    no_base = {answer(raw(c, m, f"/open-apis/bitable/v1/apps/basNope/tables/{tbl.table_id}{t}")) for m, t in READS}
    assert no_base == {(400, 1254040, "BaseTokenNotFound: basNope")}
    no_table = {answer(raw(c, m, f"/open-apis/bitable/v1/apps/{tbl.app_token}/tables/tblNope{t}", b))
                for m, t, b in WRITES}
    assert no_table == {(400, 1254041, "TableIdNotFound: tblNope")}


def test_another_tenant_and_a_non_member_app_are_refused_alike(tbl: Tbl, sandbox, seed):
    sandbox.world.add_tenant("别家公司", "tk_elsewhere")
    stranger = sandbox.world.add_app("tk_elsewhere", "cli_elsewhere00001", "secret-elsewhere")
    peer = sandbox.world.add_app(sandbox.world.apps[seed.app_id].tenant_key, "cli_samecompany001", "secret-peer")
    outsider = client_for(sandbox, stranger.app_id, stranger.app_secret)
    colleague = client_for(sandbox, peer.app_id, peer.app_secret)

    for method, tail, body in WRITES + [(m, t, None) for m, t in READS]:
        assert answer(raw(outsider, method, tbl.uri(tail), body)) == \
            (403, 1254302, "Permission denied: the base belongs to another tenant")
        status, code, _ = answer(raw(colleague, method, tbl.uri(tail), body))
        assert (status, code) == (403, 1254302)
    # the order: a record is looked up before the access check (rows carry permissions) …
    assert answer(raw(outsider, "GET", tbl.uri("/records/recNope")))[1] == 1254043
    # … a field or view after it (they carry none), so a stranger learns nothing about them
    assert answer(raw(outsider, "DELETE", tbl.uri("/fields/fldNope")))[1] == 1254302
    assert answer(raw(outsider, "GET", tbl.uri("/views/vewNope")))[1] == 1254302
    assert answer(raw(tbl.client, "DELETE", tbl.uri("/fields/fldNope")))[:2] == (400, 1254044)
    assert answer(raw(tbl.client, "GET", tbl.uri("/views/vewNope")))[:2] == (400, 1254042)


@pytest.mark.parametrize("tail,body,other,count", [
    ("/records", {"fields": {"标题": "只建一次"}}, {"fields": {"标题": "另一个"}},
     lambda t: t.search()["data"]["total"]),
    ("/fields", {"field_name": "只建一次", "type": 1}, {"field_name": "另一个", "type": 1},
     lambda t: len(t.call("GET", "/fields", query={"page_size": 100})[1]["data"]["items"])),
])
def test_a_client_token_replays_the_first_answer(tbl: Tbl, tail, body, other, count):
    before = count(tbl)
    token = str(uuid.uuid4())
    first = tbl.call("POST", tail, body, {"client_token": token})
    again = tbl.call("POST", tail, body, {"client_token": token})
    assert first[1]["code"] == 0 and again[1] == first[1]  # the same id, nothing created twice
    assert count(tbl) == before + 1
    assert answer(tbl.call("POST", tail, other, {"client_token": token})) == \
        (400, 1255006, "client_token was already used with a different request")
    assert answer(tbl.call("POST", tail, body, {"client_token": "not-a-uuid"})) == \
        (400, 1254037, "client_token 'not-a-uuid' is not a UUID")
    assert count(tbl) == before + 1


def test_request_checks_come_before_lookups(tbl: Tbl):
    """A bad body or page_size is named even when the base does not exist (no lookup is wasted)."""
    c, nope = tbl.client, "/open-apis/bitable/v1/apps/basNope"
    assert answer(raw(c, "POST", f"{nope}/tables/tblNope/records/batch_create", {"records": []}))[:2] == (400, 1254001)
    assert answer(raw(c, "POST", f"{nope}/tables/batch_delete", {"table_ids": []}))[:2] == (400, 1254001)
    assert answer(raw(c, "POST", f"{nope}/tables/tblNope/records/search", {}, {"page_size": 501}))[:2] == (400, 1254011)
    assert answer(raw(c, "POST", f"{nope}/tables/tblNope/records/batch_create", {"records": [{}]}))[:2] == (400, 1254040)


def test_a_busy_table_refuses_writes_on_every_resource_and_serves_reads(tbl: Tbl, sandbox):
    _, table = sandbox.bitable.table(tbl.app_token, tbl.table_id)
    rec = tbl.create({"标题": "已有"})["data"]["record"]["record_id"]
    with sandbox.world.lock:
        table.busy = True  # another write holds the table
    try:
        busy = [answer(tbl.call(m, t, b))[:2] for m, t, b in WRITES + [("PUT", f"/records/{rec}", {"fields": {}})]]
        assert busy == [(400, 1254291)] * 3
        assert [answer(tbl.call(m, t))[1] for m, t in READS] == [0, 0]
    finally:
        table.busy = False
    assert answer(tbl.call(*WRITES[0]))[1] == 0

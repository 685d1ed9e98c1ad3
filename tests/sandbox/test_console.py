"""The console page and its static files are served, and the routes it uses answer."""
from __future__ import annotations

import requests


def test_console_page_and_assets(sandbox):
    page = requests.get(sandbox.url + "/console", timeout=5)
    assert page.status_code == 200 and "text/html" in page.headers["Content-Type"]
    for testid in ("chat-list", "messages", "post-user", "post-mention", "post-send", "tab-bases"):
        assert f'data-testid="{testid}"' in page.text
    js = requests.get(sandbox.url + "/console/static/app.js", timeout=5)
    css = requests.get(sandbox.url + "/console/static/app.css", timeout=5)
    assert js.status_code == 200 and "javascript" in js.headers["Content-Type"] and "renderCard" in js.text
    assert css.status_code == 200 and "text/css" in css.headers["Content-Type"]
    assert "http" not in "".join(l for l in page.text.splitlines() if "<script" in l)  # no CDN
    assert requests.get(sandbox.url + "/console/static/..%2Fcontrol.py", timeout=5).status_code == 404
    assert requests.get(sandbox.url + "/console/static/nope.js", timeout=5).status_code == 404


def test_click_route_used_by_console_reports_delivery_failure(sandbox, seed):
    import json
    from gtm.sandbox import im
    card = {"schema": "2.0", "body": {"elements": [{"tag": "button", "text": {"tag": "plain_text", "content": "确认"},
                                                      "behaviors": [{"type": "callback", "value": {"a": 1}}]}]}}
    rec = im.add_message(sandbox, seed.chat_id, "interactive", json.dumps(card), [],
                         app=sandbox.world.apps[seed.app_id])
    r = requests.post(f"{sandbox.url}/_sandbox/messages/{rec['message_id']}/click",
                      json={"open_id": seed.users["pm"], "value": {"a": 1}}, timeout=5)
    assert r.status_code == 502 and "no long connection" in r.json()["error"]  # no ws client online


def test_every_read_route_the_console_calls_answers(sandbox, seed, lark_client):
    """app.js must not ask for a route that is not there (a swallowed 404 left the Bases tab empty):
    each GET path in it, with a real Base and table filled in, answers 200 with data."""
    import re

    from lark_oapi.api.bitable.v1 import CreateAppRequest, CreateAppTableRequest, CreateAppTableRequestBody, ReqApp, ReqTable

    app = lark_client.bitable.v1.app.create(CreateAppRequest.builder().request_body(
        ReqApp.builder().name("控制台表格").build()).build()).data.app
    table = lark_client.bitable.v1.app_table.create(CreateAppTableRequest.builder().app_token(app.app_token)
        .request_body(CreateAppTableRequestBody.builder().table(ReqTable.builder().name("任务").build()).build())
        .build()).data
    js = requests.get(sandbox.url + "/console/static/app.js", timeout=5).text
    paths = set(re.findall(r'api\(\s*[`"](/_sandbox/[^`"]+)[`"]\s*\)', js))
    paths |= {p for p in re.findall(r'api\(\s*base \+ "([^"]+)"', js)}  # per-table routes
    assert any("bases" in p for p in paths), paths
    for p in sorted(paths):
        if p.startswith("/fields") or p.startswith("/records"):
            p = f"/_sandbox/bitable/bases/{app.app_token}/tables/{table.table_id}" + p
        p = (p.replace("${token}", app.app_token).replace("${tid}", table.table_id)
             .replace("${state.chat.chat_id}", seed.chat_id))
        r = requests.get(sandbox.url + p, timeout=5)
        assert r.status_code == 200, (p, r.status_code)
    bases = requests.get(sandbox.url + "/_sandbox/bitable/bases", timeout=5).json()["data"]["items"]
    assert any(b["name"] == "控制台表格" for b in bases)

"""Helpers for the Bitable sandbox tests: every call goes through the real lark-oapi client."""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import lark_oapi as lark
from lark_oapi.api.bitable.v1 import (
    AppTableCreateHeader, AppTableFieldProperty, CreateAppRequest,
    CreateAppTableRequest, CreateAppTableRequestBody, ReqApp, ReqTable)

FieldSpec = tuple[str, int, str | None, dict[str, Any] | None]  # (name, type, ui_type, property)
FIELDS: list[FieldSpec] = [
    ("标题", 1, None, None),
    ("数量", 2, None, {"formatter": "0"}),
    ("进度", 2, "Progress", {"formatter": "0%"}),
    ("预算", 2, "Currency", {"formatter": "0.00", "currency_code": "CNY"}),
    ("状态", 3, None, {"options": [{"name": "未开始"}, {"name": "进行中", "color": 5}, {"name": "已完成"}]}),
    ("标签", 4, None, {"options": [{"name": "A"}, {"name": "B"}]}),
    ("截止日期", 5, None, {"date_formatter": "yyyy/MM/dd"}),
    ("完成", 7, None, None),
    ("负责人", 11, None, {"multiple": True}),
    ("链接", 15, None, None),
    ("电话", 13, None, None),
    ("群", 23, None, {"multiple": True}),
    ("公式", 20, None, {"formula_expression": "1"}),
    ("创建时间", 1001, None, None),
    ("修改时间", 1002, None, None),
    ("创建人", 1003, None, None),
    ("修改人", 1004, None, None),
    ("编号", 1005, None, None),
]


def raw(client: lark.Client, method: str, uri: str, body: Any = None, query: dict[str, Any] | None = None,
        paths: dict[str, str] | None = None) -> tuple[int, dict[str, Any], Any]:
    """An untyped call through the SDK (for shapes the typed builders cannot express)."""
    b = (lark.BaseRequest.builder().http_method(getattr(lark.HttpMethod, method)).uri(uri)
         .token_types({lark.AccessTokenType.TENANT}))
    if paths:
        b = b.paths(paths)
    if query:
        b = b.queries(list(query.items()))
    if body is not None:
        b = b.body(body)
    resp = client.request(b.build())
    return resp.raw.status_code, json.loads(resp.raw.content), resp.raw.headers


def table_headers(fields: list[FieldSpec]) -> list[AppTableCreateHeader]:
    """The `fields` of a table-create request, one header per (name, type, ui_type, property)."""
    headers = []
    for fname, ftype, ui, prop in fields:
        h = AppTableCreateHeader.builder().field_name(fname).type(ftype)
        if ui:
            h = h.ui_type(ui)
        if prop:
            h = h.property(AppTableFieldProperty(prop))
        headers.append(h.build())
    return headers


def create_base(client: lark.Client, name: str = "GTM 测试") -> tuple[str, str]:
    r = client.bitable.v1.app.create(CreateAppRequest.builder().request_body(ReqApp.builder().name(name).build()).build())
    assert r.code == 0, r.msg
    return r.data.app.app_token, r.data.app.default_table_id


def create_table(client: lark.Client, app_token: str, name: str = "任务",
                 fields: list[FieldSpec] = FIELDS) -> tuple[str, list[str]]:
    headers = table_headers(fields)
    r = client.bitable.v1.app_table.create(
        CreateAppTableRequest.builder().app_token(app_token).request_body(
            CreateAppTableRequestBody.builder().table(
                ReqTable.builder().name(name).default_view_name("全部任务").fields(headers).build()).build()).build())
    assert r.code == 0, r.msg
    return r.data.table_id, r.data.field_id_list


@dataclass
class Tbl:
    client: lark.Client
    app_token: str
    table_id: str
    field_ids: list[str]

    def uri(self, tail: str = "") -> str:
        return f"/open-apis/bitable/v1/apps/{self.app_token}/tables/{self.table_id}{tail}"

    def call(self, method: str, tail: str, body: Any = None, query: dict[str, Any] | None = None):
        return raw(self.client, method, self.uri(tail), body, query)

    def search(self, body: dict[str, Any] | None = None, **query: Any) -> dict[str, Any]:
        status, data, _ = self.call("POST", "/records/search", body or {}, query or None)
        return data

    def create(self, fields: dict[str, Any], **query: Any) -> dict[str, Any]:
        return self.call("POST", "/records", {"fields": fields}, query or None)[1]

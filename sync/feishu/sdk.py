"""Small helpers over lark-oapi's objects, for the wrappers of this package."""
from __future__ import annotations

import json
from typing import Any

import lark_oapi as lark


def as_dict(obj: Any) -> Any:
    """An SDK model (or list of them) as plain JSON data (None stays None)."""
    if obj is None:
        return None
    return json.loads(lark.JSON.marshal(obj))


def with_data(resp: Any) -> Any:
    """Some SDK responses (role member create, table delete) have no `data` attribute at all;
    give them `data = None` so `Gateway.unwrap` can return it."""
    if not hasattr(resp, "data"):
        resp.data = None
    return resp


def generic_request(typed: lark.BaseRequest) -> lark.BaseRequest:
    """A plain `lark.BaseRequest` with exactly the method, uri, token types, paths, query and body
    the typed builder put on `typed` (for `Gateway.call_json`)."""
    return (lark.BaseRequest.builder().http_method(typed.http_method).uri(typed.uri)
            .token_types(set(typed.token_types)).paths(dict(typed.paths)).queries(list(typed.queries))
            .headers(dict(typed.headers)).body(typed.body).build())

"""Record-change events for a base (`/open-apis/drive/v1/files/:file_token/…subscribe`).

Only the owner or a manager (full_access member) may subscribe (403 1061004); subscribers get
`drive.file.bitable_record_changed_v1` for the edits people make (`BitableService.act_*`).
"""
from __future__ import annotations

from gtm.sandbox.bitable import access
from gtm.sandbox.bitable.routes import Call, Data, Routes, require_access
from gtm.sandbox.bitable.store import Base
from gtm.sandbox.errors import ApiError

routes = Routes()
FILE = "/open-apis/drive/v1/files/{file_token}"


def _base(c: Call) -> Base:
    """The subscribed file: a base the caller may view (drive codes, not Bitable ones)."""
    if c.query.get("file_type") != "bitable":
        raise ApiError(1061002, "params error: file_type must be bitable in the sandbox", 400)
    b = c.svc.store.bases.get(c.request.match_info["file_token"])
    if b is None:
        raise ApiError(1061003, f"not found: {c.request.match_info['file_token']}", 404)
    require_access(c.sb, c.caller, b, "view")
    return b


@routes.route("POST", FILE + "/subscribe")
def subscribe(c: Call) -> Data:
    b = _base(c)
    if not access.can_manage(c.sb, b, c.caller):  # only the owner or a 可管理 member may subscribe
        raise ApiError(1061004, "forbidden: only the owner or a manager (full_access) of the file "
                                "may subscribe to its events", 403)
    if c.caller.app_id not in b.subscribers:
        b.subscribers.append(c.caller.app_id)
    return {}


@routes.route("GET", FILE + "/get_subscribe")
def get_subscribe(c: Call) -> Data:
    return {"is_subscribe": c.caller.app_id in _base(c).subscribers}


@routes.route("DELETE", FILE + "/delete_subscribe")
def delete_subscribe(c: Call) -> Data:
    b = _base(c)
    if c.caller.app_id in b.subscribers:
        b.subscribers.remove(c.caller.app_id)
    return {}

"""Who may see or edit a Base: drive permission members and Bitable advanced roles (docs/feishu-api.md §10).

The rules (`can`, `require`), used by every Bitable route and by `gtm.sandbox.permissions`, the
routes that manage members and roles:
- the app that created the base has full access; so does anyone with a `full_access` member entry;
- a person (or another app, member_type `appid`) needs a member entry: directly (openid, userid,
  unionid, email) or through a group chat they are in (openchat); `view` < `edit` < `full_access`;
- with advanced permissions on, a person in one or more custom roles gets what the roles allow
  per table (`table_perm` 0 none / 1 read / 2 edit / 4 admin) and per record (`rec_rule`: records
  matching the conditions are editable, the rest get `other_perm` 0 hidden / 1 read-only); a person
  in no custom role falls back to the built-in read/edit role of their member entry.
  "Rows where the member is the owner" is a v2 rule: `contains` on a person field with no values.
  A literal value (such as a "CurrentUser" keyword) is just text and matches no person.
  `allow_add_record`/`allow_delete_record` default to true.
Codes: denied → 403 1254302; a member body naming an unknown member or a bad parameter → 400
1063001 (UNCONFIRMED, chosen from the drive error family).
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from gtm.sandbox.bitable.filters import compile_filter
from gtm.sandbox.bitable.store import Base, Record
from gtm.sandbox.bitable.values import ValueContext
from gtm.sandbox.errors import ApiError
from gtm.sandbox.state import App

if TYPE_CHECKING:
    from gtm.sandbox.server import Sandbox

LEVEL = {"view": 1, "edit": 2, "full_access": 3}
MEMBER_TYPES = {"openid", "unionid", "userid", "email", "openchat", "opendepartmentid", "groupid", "appid"}


def denied(what: str = "") -> ApiError:
    return ApiError(1254302, "Permission denied" + (f": {what}" if what else ""), 403)


# -- member resolution ------------------------------------------------------------------------
def _member_matches(sb: "Sandbox", m: dict[str, Any], open_id: str) -> bool:
    w = sb.world
    mt, mid = m.get("member_type"), m.get("member_id")
    if mt == "openid":
        return mid == open_id
    if mt == "appid":
        app = w.apps.get(mid or "")
        return app is not None and open_id in (app.bot_open_id, app.app_id)
    if mt == "openchat":
        chat = w.chats.get(mid or "")
        return chat is not None and not chat.dissolved and open_id in chat.members
    u = w.users.get(open_id)
    if u is None:
        return False
    return (mt == "userid" and u.user_id == mid) or (mt == "unionid" and u.union_id == mid) or \
        (mt == "email" and bool(u.email) and u.email.lower() == str(mid).lower())


def member_level(sb: "Sandbox", base: Base, open_id: str) -> int:
    return max((LEVEL.get(m.get("perm", ""), 0) for m in base.members if _member_matches(sb, m, open_id)),
               default=0)


def can_manage(sb: "Sandbox", base: Base, app: App) -> bool:
    """Owner or 可管理 (full_access) member: what Feishu requires to subscribe to a file's events
    or to manage its collaborators."""
    return app.app_id == base.owner_app_id or member_level(sb, base, app.bot_open_id) >= 3


def validate_member(sb: "Sandbox", body: dict[str, Any]) -> dict[str, Any]:
    """Check a permission member body and return its stored form; unknown ids → 1063001."""
    w = sb.world
    mt, mid, perm = body.get("member_type"), body.get("member_id"), body.get("perm")
    if mt not in MEMBER_TYPES or not isinstance(mid, str) or not mid:
        raise ApiError(1063001, f"Invalid parameter: member_type {mt!r} / member_id {mid!r}", 400)
    if perm not in LEVEL:
        raise ApiError(1063001, f"Invalid parameter: perm must be view, edit or full_access, got {perm!r}", 400)
    known = {
        "openid": lambda: mid in w.users,
        "userid": lambda: any(u.user_id == mid for u in w.users.values()),
        "unionid": lambda: any(u.union_id == mid for u in w.users.values()),
        "email": lambda: any(u.email and u.email.lower() == mid.lower() for u in w.users.values()),
        "openchat": lambda: mid in w.chats,
        "appid": lambda: mid in w.apps,
    }.get(mt, lambda: True)()
    if not known:
        raise ApiError(1063001, f"Invalid parameter: member {mt}:{mid} does not exist", 400)
    kind = {"openchat": "chat", "opendepartmentid": "department", "groupid": "group"}.get(mt, "user")
    return {"member_type": mt, "member_id": mid, "perm": perm, "type": body.get("type") or kind}


# -- roles ------------------------------------------------------------------------------------
def roles_of(sb: "Sandbox", base: Base, open_id: str) -> list[dict[str, Any]]:
    u = sb.world.users.get(open_id)
    out = []
    for r in base.roles.values():
        for m in r["members"]:
            if m.get("open_id") == open_id or (u and m.get("user_id") and m.get("user_id") == u.user_id) or \
                    (m.get("chat_id") and open_id in getattr(sb.world.chats.get(m["chat_id"]), "members", [])):
                out.append(r["role"])
                break
    return out


def _table_role(role: dict[str, Any], base: Base, table_id: str) -> dict[str, Any] | None:
    name = base.tables[table_id].name if table_id in base.tables else None
    for tr in role.get("table_roles") or []:
        if tr.get("table_id") == table_id or (name and tr.get("table_name") == name):
            return tr
    return None


PERSON_TYPES = (11, 1003)  # 人员, 创建人: the fields a "rows where the member is …" rule reads


def _is_current_member(c: dict[str, Any]) -> bool:
    """A person-field condition `contains` with no values: "the member acting now" (§10, v2)."""
    return c.get("field_type") in PERSON_TYPES and c.get("operator") == "contains" and not c.get("value")


def _rec_rule_matches(sb: "Sandbox", base: Base, table_id: str, rule: dict[str, Any], record: Record,
                      open_id: str) -> bool:
    """Whether `record` satisfies the rule for `open_id`. A literal value (such as the old
    "CurrentUser" keyword) is just a value: it matches a cell holding that text, never a person."""
    table = base.tables[table_id]
    results = []
    for c in rule.get("conditions") or []:
        if _is_current_member(c):
            f = table.field_by_name(c.get("field_name", ""))
            if f is None:
                results.append(False)
            elif f.type == 1003:
                results.append(record.created_by == open_id)
            else:
                results.append(open_id in (record.values.get(f.field_id) or []))
            continue
        pred = compile_filter({"conjunction": "and", "conditions": [c]}, table, ValueContext(sb.world, base),
                              sb.bitable.clock())
        results.append(True if pred is None else pred(record))
    if not results:
        return True
    return any(results) if (rule.get("conjunction") or "and") == "or" else all(results)


def _role_allows(sb: "Sandbox", role: dict[str, Any], base: Base, open_id: str, action: str,
                 table_id: str | None, record: Record | None) -> bool:
    if table_id is None:
        perms = [tr.get("table_perm", 0) for tr in role.get("table_roles") or []]
        return any(p >= (2 if action in ("edit", "add", "delete") else 1) for p in perms)
    tr = _table_role(role, base, table_id)
    if tr is None:
        return False
    perm = int(tr.get("table_perm") or 0)
    if perm >= 4:
        return True
    need = 1 if action == "view" else 2
    if perm < need:
        return False
    if action == "add":
        return tr.get("allow_add_record", True) is not False
    if record is None:
        return True
    rule = tr.get("rec_rule")
    if rule and rule.get("conditions"):
        if not _rec_rule_matches(sb, base, table_id, rule, record, open_id):
            return action == "view" and int(rule.get("other_perm") or 0) >= 1
    if action == "delete":
        return tr.get("allow_delete_record", True) is not False
    return True


def can(sb: "Sandbox", app_token: str, open_id: str, action: str, table_id: str | None = None,
        record: Record | None = None) -> bool:
    """Whether `open_id` (a person, or an app's bot open_id/app_id) may `action` ("view"|"edit"|
    "add"|"delete") the base, a table of it, or one record of that table."""
    base = sb.bitable.store.bases.get(app_token)
    if base is None:
        return False
    owner = sb.world.apps.get(base.owner_app_id)
    if owner is not None and open_id in (owner.bot_open_id, owner.app_id):
        return True
    if not sb.config.enforce_permissions:
        return True
    level = member_level(sb, base, open_id)
    if level >= 3:
        return True
    need = 1 if action == "view" else 2
    if not base.is_advanced:
        return level >= need
    roles = roles_of(sb, base, open_id)
    if not roles:
        return level >= need
    return any(_role_allows(sb, r, base, open_id, action, table_id, record) for r in roles)


def require(sb: "Sandbox", app_token: str, open_id: str, action: str, table_id: str | None = None,
            record: Record | None = None) -> None:
    if not can(sb, app_token, open_id, action, table_id, record):
        where = f" table {table_id}" if table_id else ""
        rec = f" record {record.record_id}" if record is not None else ""
        raise denied(f"{open_id} may not {action}{where}{rec}")

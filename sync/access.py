"""Who can open the plan's Base: drive permission members and (strict mode) Bitable roles.

A Base created with the app's tenant token belongs to the app; nobody sees it until granted
(docs/feishu-api.md §10). `grant_access` lists the members first and adds only what is missing, so a
second run makes no permission writes; it never revokes or downgrades anything. A person who
cannot be found is reported by what was given (the email, the id), never a crash.

Strict mode (docs/seeds/003 §2.4: "负责人可编辑，成员仅查看") turns on advanced permissions and creates two
roles: members may edit only rows whose 负责人 is themselves (and read the rest); managers (PM and
management) edit everything. "Rows whose 负责人 is the member" is an advanced-permissions v2 rule
(docs/feishu-api.md §10): `contains` on the person field with no values, created through the v2 roles
API (`gtm.sync.feishu.bitable`: `create_role`); role members are added with the v1 role-member API. When Feishu
refuses advanced permissions (the tenant's plan, or the app may not manage them) the refusal is
reported and the default grants stay in place.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from gtm.schemas.fields import TableRegistry
from gtm.schemas.tables import PLAN_TABLES, table
from gtm.sync.binding import BaseBinding
from gtm.sync.feishu.errors import FeishuError, NotFound, PermissionDenied
from gtm.sync.feishu.gateway import Gateway

LEVEL = {"view": 1, "edit": 2, "full_access": 3}
PLAN_LIMIT_CODES = {1254304, 1254306}
MEMBER_ROLE = "计划成员（仅编辑自己负责的行）"
MANAGER_ROLE = "计划管理（可编辑全部）"
PERSON_FIELD_TYPE = 11


@dataclass
class Grant:
    """One wanted permission: who (as given), how Feishu names them, and the level."""

    given: str
    member_type: str  # openid | userid | email | openchat
    member_id: str
    perm: str
    label: str = ""  # the project group / the PM / an admin (labels from the table specs)


@dataclass
class AccessReport:
    granted: list[Grant] = field(default_factory=list)
    already: list[Grant] = field(default_factory=list)
    not_found: list[str] = field(default_factory=list)  # messages naming what was given
    errors: list[str] = field(default_factory=list)
    writes: int = 0  # permission write calls made
    strict: bool = False  # advanced permissions (roles) are in force
    roles_created: list[str] = field(default_factory=list)
    role_members_added: int = 0
    fallback: str = ""  # why strict mode fell back to the default grants (zh / en)
    members: int = 0  # collaborators of the Base after the grants (those given and any others)

    @property
    def ok(self) -> bool:
        return not self.not_found and not self.errors

    def lines(self, lang: str = "zh") -> list[str]:
        out = []
        for g in self.granted:
            out.append(f"已授权 {g.label} {g.given}：{g.perm}" if lang != "en"
                       else f"granted {g.perm} to {g.label} {g.given}")
        for g in self.already:
            out.append(f"已有权限 {g.label} {g.given}：{g.perm}" if lang != "en"
                       else f"{g.label} {g.given} already has {g.perm}")
        out += self.not_found + self.errors
        if self.fallback:
            out.append(self.fallback)
        for r in self.roles_created:
            out.append(f"已创建角色「{r}」" if lang != "en" else f"created role “{r}”")
        return out


# -- drive permission members --------------------------------------------------------------
def list_members(gateway: Gateway, app_token: str) -> list[dict[str, Any]]:
    return gateway.drive.list_members(app_token)


def _resolve_emails(gateway: Gateway, emails: list[str]) -> dict[str, str]:
    """email → open_id for the people Feishu knows (contact batch_get_id, ≤50 per call)."""
    out: dict[str, str] = {}
    for i in range(0, len(emails), 50):
        out.update(gateway.contact.open_ids_by_email(emails[i:i + 50]))
    return out


def _wanted(gateway: Gateway, chat_ids: list[str], pm_open_id: str | None, admins: list[str],
            group_perm: str, report: AccessReport) -> list[Grant]:
    group_label, pm_label = table("project").field("chat").name, table("project").field("pm").name
    wanted = [Grant(c, "openchat", c, group_perm, group_label) for c in chat_ids if c]
    if pm_open_id:
        wanted.append(Grant(pm_open_id, "openid", pm_open_id, "full_access", pm_label))
    emails = [a for a in admins if "@" in a]
    resolved: dict[str, str] = {}
    if emails:
        try:
            resolved = _resolve_emails(gateway, emails)
        except FeishuError as exc:  # no contact scope: fall back to granting by email
            report.errors.append(f"无法按邮箱查找用户（{exc.code}），改为按邮箱授权 / email lookup failed "
                                 f"({exc.code}); granting by email instead")
            resolved = {e.lower(): "" for e in emails}
    for a in admins:
        a = a.strip()
        if not a:
            continue
        if a.startswith("ou_"):
            wanted.append(Grant(a, "openid", a, "full_access", "管理员"))
        elif "@" in a:
            oid = resolved.get(a.lower())
            if oid:
                wanted.append(Grant(a, "openid", oid, "full_access", "管理员"))
            elif a.lower() in resolved:  # lookup unavailable: let Feishu resolve the email
                wanted.append(Grant(a, "email", a, "full_access", "管理员"))
            else:
                report.not_found.append(f"找不到管理员 {a}（该邮箱在企业通讯录中不存在），已跳过 / "
                                        f"admin {a} not found (no such email in the directory); skipped")
        else:
            wanted.append(Grant(a, "userid", a, "full_access", "管理员"))
    # one grant per member, the highest level wins
    best: dict[tuple[str, str], Grant] = {}
    for g in wanted:
        k = (g.member_type, g.member_id)
        if k not in best or LEVEL[g.perm] > LEVEL[best[k].perm]:
            best[k] = g
    return list(best.values())


def grant_access(gateway: Gateway, app_token: str, *, chat_ids: list[str] | None = None,
                 pm_open_id: str | None = None, admins: list[str] | None = None,
                 group_perm: str = "edit") -> AccessReport:
    """Make the project group, the PM and the admins members of the Base; add only what is missing."""
    if group_perm not in ("view", "edit"):
        raise ValueError(f"group_perm must be 'view' or 'edit', got {group_perm!r}")
    report = AccessReport()
    wanted = _wanted(gateway, list(chat_ids or []), pm_open_id, list(admins or []), group_perm, report)
    existing = {(m.get("member_type"), m.get("member_id")): m.get("perm") for m in list_members(gateway, app_token)}
    for g in wanted:
        have = existing.get((g.member_type, g.member_id))
        if have and LEVEL.get(have, 0) >= LEVEL[g.perm]:
            report.already.append(Grant(g.given, g.member_type, g.member_id, have, g.label))
            continue
        report.writes += 1
        try:
            gateway.drive.add_member(app_token, g.member_type, g.member_id, g.perm, context=f"{g.label} {g.given}")
        except FeishuError as exc:
            if exc.code == 1063001 or isinstance(exc, NotFound):
                report.not_found.append(f"找不到{g.label} {g.given}（飞书返回 {exc.code}），已跳过 / "
                                        f"{g.label} {g.given} not found (Feishu code {exc.code}); skipped")
            else:
                report.errors.append(f"无法给{g.label} {g.given} 授权：{exc} / could not grant {g.given}: {exc}")
            continue
        report.granted.append(g)
    report.members = len(existing.keys() | {(g.member_type, g.member_id) for g in report.granted})
    return report


# -- strict mode: advanced permissions and roles --------------------------------------------
def _role_member_ids(gateway: Gateway, app_token: str, role_id: str) -> set[str]:
    out: set[str] = set()
    for m in gateway.bitable.list_role_members(app_token, role_id):
        out.update(v for k in ("member_id", "open_id", "chat_id", "user_id") if (v := m.get(k)))
    return out


def role_bodies(binding: BaseBinding, specs: TableRegistry = PLAN_TABLES) -> dict[str, dict[str, Any]]:
    """The two strict-mode roles (v2 bodies). Tables with an owner (负责人) field: members edit the
    rows whose owner is themselves (`contains` with no values: the current member) and read the
    rest; tables without one are read-only for members."""
    member_tables, manager_tables = [], []
    for spec in specs:
        tid = binding.table_ids.get(spec.key)
        if not tid:
            continue
        manager_tables.append({"table_id": tid, "table_perm": 2, "allow_add_record": True,
                               "allow_delete_record": True})
        try:
            owner = spec.field("owner")
        except KeyError:
            owner = None
        if owner is None:
            member_tables.append({"table_id": tid, "table_perm": 1})
            continue
        member_tables.append({
            "table_id": tid, "table_perm": 2, "allow_add_record": True, "allow_delete_record": False,
            "rec_rule": {"conjunction": "and", "perm": 2, "other_perm": 1,
                         "conditions": [{"field_name": binding.field_name(spec.key, "owner"),
                                         "operator": "contains", "field_type": PERSON_FIELD_TYPE}]}})
    return {MEMBER_ROLE: {"role_name": MEMBER_ROLE, "table_roles": member_tables},
            MANAGER_ROLE: {"role_name": MANAGER_ROLE, "table_roles": manager_tables}}


def apply_strict_permissions(gateway: Gateway, binding: BaseBinding, *, chat_ids: list[str] | None = None,
                             pm_open_id: str | None = None, admins: list[str] | None = None,
                             members: list[str] | None = None, group_perm: str = "edit") -> AccessReport:
    """Default grants, then advanced permissions with a member role and a manager role.

    `members`: extra open_ids for the member role (the group chat is added as a whole).
    Falls back to the default grants (reported in `fallback`) when the plan does not allow roles.
    """
    report = grant_access(gateway, binding.app_token, chat_ids=chat_ids, pm_open_id=pm_open_id,
                          admins=admins, group_perm=group_perm)
    app_token = binding.app_token
    try:
        if not gateway.bitable.get_app(app_token).is_advanced:  # a re-run writes nothing
            report.writes += 1
            gateway.bitable.set_advanced(app_token)
        existing = {r.get("role_name"): r for r in gateway.bitable.list_roles(app_token)}
        managers = [m for m in [pm_open_id, *[a for a in (admins or []) if a.startswith("ou_")]] if m]
        wanted_members = {
            MEMBER_ROLE: [("chat_id", c) for c in (chat_ids or [])] + [("open_id", m) for m in (members or [])],
            MANAGER_ROLE: [("open_id", m) for m in managers],
        }
        for name, body in role_bodies(binding).items():
            role = existing.get(name)
            if role is None:
                report.writes += 1
                role = gateway.bitable.create_role(app_token, body, context=name)
                report.roles_created.append(name)
            have = _role_member_ids(gateway, app_token, role["role_id"])
            for id_type, mid in wanted_members[name]:
                if mid in have:
                    continue
                report.writes += 1
                gateway.bitable.add_role_member(app_token, role["role_id"], id_type, mid, context=f"{name} {mid}")
                report.role_members_added += 1
        report.strict = True
    except PermissionDenied as exc:
        if exc.code in PLAN_LIMIT_CODES:
            why, why_en = "当前飞书版本不支持高级权限", "the tenant's Feishu plan does not allow advanced permissions"
        else:
            why, why_en = ("飞书拒绝了应用开启高级权限（需给应用开通多维表格高级权限并作为管理者）",
                           "Feishu refused to let the app turn on advanced permissions (the app needs the "
                           "Bitable advanced-permission scope and manager access)")
        report.fallback = (f"{why}（{exc.code}），已改用默认授权：项目群可{_perm_zh(group_perm)}，项目负责人和管理员可"
                           f"管理；成员仍可编辑所有行 / {why_en} ({exc.code}); kept the default grants (group: "
                           f"{group_perm}, PM and admins: full access), so members can still edit every row")
    return report


def _perm_zh(perm: str) -> str:
    return {"view": "查看", "edit": "编辑", "full_access": "管理"}.get(perm, perm)


# -- doctor ---------------------------------------------------------------------------------
def check_access(gateway: Gateway, app_token: str, pm_open_id: str | None, chat_ids: list[str]) -> list[str]:
    """Problems with who can see the Base (empty list: the PM and every project group can)."""
    try:
        members = list_members(gateway, app_token)
    except NotFound:
        return [f"多维表格 {app_token} 不存在或已被删除 / the Base {app_token} does not exist"]
    except FeishuError as exc:
        return [f"无法读取多维表格的协作者（{exc.code} {exc.msg}）/ cannot list the Base's members ({exc.code})"]
    have = {(m.get("member_type"), m.get("member_id")): m.get("perm") for m in members}
    out = []
    if pm_open_id and not have.get(("openid", pm_open_id)):
        out.append(f"项目负责人 {pm_open_id} 不是多维表格的协作者：运行 `gtm init` 授权 / the PM {pm_open_id} "
                   f"is not a member of the Base: run `gtm init` to grant access")
    for c in chat_ids:
        if not have.get(("openchat", c)):
            out.append(f"项目群 {c} 看不到多维表格：运行 `gtm init` 授权 / the project group {c} cannot see "
                       f"the Base: run `gtm init` to grant access")
    return out

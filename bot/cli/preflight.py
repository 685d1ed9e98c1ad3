"""Check before you create: `gtm init` (and `gtm projects link`) resolve everything they were given
— the group chats, the PM, the admins, the template — before anything is made in Feishu.

A chat that does not exist (or does not have the bot), a person not in the directory or an
unknown template is refused with one line each, and nothing is created. A chat that another
active project already uses is refused unless `--move` (then it leaves that project).
Read-only calls only; a missing contact scope is not a refusal (the Base can still be shared by
id; `gtm doctor` names the scope).
"""
from __future__ import annotations

from dataclasses import dataclass, field

from gtm.bot.runtime import Runtime
from gtm.bot.validate import BadArgument, check_chat_id
from gtm.schemas import tables as T
from gtm.schemas.templates import get_template
from gtm.sync.feishu.errors import FeishuError, NotFound, ScopeError
from gtm.sync.feishu.gateway import Gateway
from gtm.sync.store.base import Store
from gtm.sync.store.registry import get_project, list_projects

CHAT_GONE_CODES = {232011, 232009, 232010, 230002}
USER_GONE_CODES = {41050, 40001, 1220001}


@dataclass
class Preflight:
    """What init may go ahead with, and why not when `refusals` is not empty."""

    chats: list[str] = field(default_factory=list)
    chat_names: dict[str, str] = field(default_factory=dict)
    pm_open_id: str | None = None
    pm_as_admin: list[str] = field(default_factory=list)
    admins: list[str] = field(default_factory=list)
    refusals: list[str] = field(default_factory=list)  # one line each (zh / en)
    warnings: list[str] = field(default_factory=list)
    moves: dict[str, str] = field(default_factory=dict)  # chat id → the project it leaves

    @property
    def ok(self) -> bool:
        return not self.refusals


def resolve_chat(gw: Gateway, chat_id: str) -> tuple[str | None, str]:
    """(name, "") when the bot is in the chat; (None, why) when it is not or it does not exist."""
    try:
        chat = gw.im.get_chat(chat_id)
    except (NotFound, FeishuError) as exc:
        if isinstance(exc, NotFound) or exc.code in CHAT_GONE_CODES:
            return None, (f"群 {chat_id} 不存在、已解散或机器人不在群里（{exc.code}）：先在群设置 → 群机器人里添加"
                          f"机器人 / chat {chat_id} does not exist, was dissolved or does not have the bot "
                          f"({exc.code}): add the bot in the group's settings first")
        if isinstance(exc, ScopeError):
            return "", ""  # cannot check without im:chat; granting will tell
        raise
    return chat.name, ""


def resolve_person(gw: Gateway, who: str, role: str) -> tuple[str | None, str]:
    """An open_id for `who` (open_id or email); (None, why) when the directory has no such person.

    A user_id (neither ou_… nor an email) is passed through unchecked as ("", "")."""
    if "@" in who:
        try:
            oid = gw.contact.open_ids_by_email([who]).get(who.lower())
        except ScopeError:
            return "", ""
        if oid:
            return oid, ""
        return None, (f"找不到{role} {who}（企业通讯录中没有这个邮箱）/ {role_en(role)} {who} not found (no such "
                      f"email in the directory); e.g. --pm zhang.wei@example.com or --pm ou_…")
    if not who.startswith("ou_"):
        return "", ""
    try:
        gw.contact.get_user(who)
    except FeishuError as exc:
        if isinstance(exc, NotFound) or exc.code in USER_GONE_CODES:
            return None, (f"找不到{role} {who}（{exc.code}）/ {role_en(role)} {who} not found ({exc.code}); "
                          f"e.g. --pm zhang.wei@example.com")
        if isinstance(exc, ScopeError):
            return who, ""
        raise
    return who, ""


ADMIN_ZH = "管理员"


def pm_zh() -> str:
    return T.table("project").field("pm").name


def role_en(role: str) -> str:
    return "PM" if role == pm_zh() else ("admin" if role == ADMIN_ZH else role)


def bound_elsewhere(store: Store, slug: str, chats: list[str]) -> dict[str, str]:
    """chat id → slug of another active project that already has it."""
    found: dict[str, str] = {}
    with store.session() as s:
        for other in list_projects(s, active_only=True):
            if other.slug == slug:
                continue
            for c in other.chat_ids or []:
                if c in chats:
                    found.setdefault(c, other.slug)
    return found


def preflight(app: Runtime, slug: str, *, chats: list[str], pm: str | None, admins: list[str], template: str,
              move: bool) -> Preflight:
    """Resolve every argument of `gtm init` before the Base is made (read-only calls only)."""
    out = Preflight()
    try:
        get_template(template)
    except (KeyError, ValueError) as exc:
        out.refusals.append(f"--template {template!r}: {exc}")
    for c in chats:
        try:
            check_chat_id(c)
        except BadArgument as exc:
            out.refusals.append(str(exc))
            continue
        name, why = resolve_chat(app.gateway, c)
        if name is None:
            out.refusals.append(why)
        else:
            out.chats.append(c)
            out.chat_names[c] = name
    clash = bound_elsewhere(app.store, slug, out.chats)
    for c, other in clash.items():
        if move:
            out.moves[c] = other
            out.warnings.append(f"群 {c} 将从项目 {other} 移到 {slug} / chat {c} moves from project {other} to {slug}")
        else:
            out.refusals.append(f"群 {c} 已关联项目 {other}：在那个群里 @机器人 会回答 {other} 的问题。加 --move 把它移到 "
                                f"{slug} / chat {c} is already linked to project {other}; pass --move to move it to {slug}")
    if pm:
        oid, why = resolve_person(app.gateway, pm, pm_zh())
        if oid is None:
            out.refusals.append(why)
        elif oid:
            out.pm_open_id = oid
        else:
            out.pm_as_admin.append(pm)  # a user_id: granted, but 项目负责人 needs an open_id
    for a in admins:
        oid, why = resolve_person(app.gateway, a, ADMIN_ZH)
        if oid is None:
            out.refusals.append(why)
        else:
            out.admins.append(a)  # granted as given (the listing names them so)
    return out


def apply_moves(store: Store, moves: dict[str, str]) -> None:
    """Take the moved chats off the projects they leave (after the new project is registered)."""
    with store.session() as s:
        for chat, other in moves.items():
            row = get_project(s, other)
            if row is not None:
                row.chat_ids = [c for c in (row.chat_ids or []) if c != chat]

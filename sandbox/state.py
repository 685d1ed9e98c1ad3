"""The sandbox's world: tenants, apps, users, chats, tokens. Feature modules keep their own state
(bases in `bitable`, messages in `im`, …) in attributes of `World` named after the module.

Everything is in memory; `World.save(path)`/`World.load(path)` persist it as JSON for
`gtm sandbox --state FILE`. All access goes through `World.lock` (handlers run on one asyncio
loop, but the control API and tests read from other threads).
"""
from __future__ import annotations

import json
import os
import secrets
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any


def new_id(prefix: str, n: int = 10) -> str:
    """A Feishu-looking id: prefix + url-safe random characters."""
    alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
    return prefix + "".join(secrets.choice(alphabet) for _ in range(n))


def now_ms() -> int:
    return int(time.time() * 1000)


class StateFileError(ValueError):
    """A `--state` file that cannot be read back or written; the message names it and the problem."""


_GOOD = "e.g. --state sandbox.json"


def check_state_file(path: str | Path) -> None:
    """Before the sandbox starts: the file can be written at shutdown (its folder exists and is
    writable; an existing file is a writable regular file). Reading it is `read_state_file`."""
    p = Path(path)
    folder = p.parent  # "." for a bare file name
    if p.is_dir():
        raise StateFileError(f"--state {str(path)!r}: 是文件夹，不是文件 / is a folder, not a file; {_GOOD}")
    if not folder.is_dir():
        raise StateFileError(f"--state {str(path)!r}: 文件夹 {folder} 不存在 / folder {folder} does not exist; "
                             f"create it first, or {_GOOD}")
    if p.exists() and not os.access(p, os.R_OK | os.W_OK):
        raise StateFileError(f"--state {str(path)!r}: 文件不可读写 / the file cannot be read and written "
                             f"(permissions); {_GOOD}")
    if not p.exists() and not os.access(folder, os.W_OK | os.X_OK):
        raise StateFileError(f"--state {str(path)!r}: 文件夹 {folder} 不可写 / folder {folder} is not writable; "
                             f"{_GOOD}")


def read_state_file(path: str | Path) -> dict[str, Any]:
    """The saved world in `path` ({} for a new or empty file); a file that is not one is refused."""
    p = Path(path)
    if not p.exists() or not p.stat().st_size:
        return {}
    why = ""
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        why = "不是 UTF-8 文本 / not UTF-8 text"
    except json.JSONDecodeError as exc:
        why = (f"JSON 格式错误（第 {exc.lineno} 行第 {exc.colno} 列）/ not valid JSON (line {exc.lineno}, "
               f"column {exc.colno}: {exc.msg})")
    else:
        if isinstance(data, dict):
            return data
        why = "不是沙箱保存的数据 / not a state the sandbox saved (a JSON object)"
    raise StateFileError(f"--state {str(path)!r}: {why}; move it away, or {_GOOD} (a new file starts empty)")


@dataclass
class Tenant:
    tenant_key: str
    name: str
    domain: str = "sandbox"  # used to build Base URLs: https://{domain}.feishu.cn/base/{token}
    advanced_permissions: bool = True  # False: the plan refuses Bitable roles (1254304/1254306)


@dataclass
class App:
    app_id: str
    app_secret: str
    tenant_key: str
    name: str = "GTM 计划助手"
    bot_open_id: str = ""
    encrypt_key: str = ""
    verification_token: str = ""
    webhook_url: str = ""  # event subscription by webhook when set
    card_webhook_url: str = ""
    event_mode: str = "ws"  # "ws" (long connection) or "webhook"
    scopes: list[str] = field(default_factory=lambda: ["*"])  # granted scopes; "*" = all
    # what the developer console lists under Events & Callbacks (reported by application.get)
    events: list[str] = field(default_factory=lambda: ["im.message.receive_v1",
                                                       "drive.file.bitable_record_changed_v1"])
    callbacks: list[str] = field(default_factory=lambda: ["card.action.trigger"])


@dataclass
class User:
    open_id: str
    tenant_key: str
    name: str
    en_name: str = ""
    email: str = ""
    user_id: str = ""
    union_id: str = ""
    mobile: str = ""
    resigned: bool = False
    stopped_bot: bool = False  # 230053: the user stopped the bot

    def public(self) -> dict[str, Any]:
        return {"id": self.open_id, "name": self.name, "en_name": self.en_name or self.name,
                "email": self.email, "avatar_url": f"https://sandbox.invalid/avatar/{self.open_id}"}


@dataclass
class Chat:
    chat_id: str
    tenant_key: str
    name: str
    members: list[str] = field(default_factory=list)  # open_ids of users
    bots: list[str] = field(default_factory=list)  # app_ids in the chat
    dissolved: bool = False


@dataclass
class Token:
    token: str
    app_id: str
    kind: str  # "tenant" | "app"
    expires_at: float


class World:
    """All sandbox state. Feature modules attach their own stores as attributes."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.tenants: dict[str, Tenant] = {}
        self.apps: dict[str, App] = {}
        self.users: dict[str, User] = {}
        self.chats: dict[str, Chat] = {}
        self.tokens: dict[str, Token] = {}
        self.extra: dict[str, Any] = {}  # module name -> module state (must be JSON-able via to_json)

    # -- creation helpers used by the control API and the seed ----------------------------
    def add_tenant(self, name: str, tenant_key: str | None = None, domain: str = "sandbox") -> Tenant:
        with self.lock:
            t = Tenant(tenant_key or new_id("tk_", 12), name, domain)
            self.tenants[t.tenant_key] = t
            return t

    def add_app(self, tenant_key: str, app_id: str | None = None, app_secret: str | None = None,
                **kw: Any) -> App:
        with self.lock:
            a = App(app_id or new_id("cli_", 16), app_secret or secrets.token_urlsafe(24), tenant_key, **kw)
            if not a.bot_open_id:
                a.bot_open_id = new_id("ou_bot", 20)
            self.apps[a.app_id] = a
            return a

    def add_user(self, tenant_key: str, name: str, open_id: str | None = None, **kw: Any) -> User:
        with self.lock:
            u = User(open_id or new_id("ou_", 26), tenant_key, name, **kw)
            u.user_id = u.user_id or new_id("u", 8)
            u.union_id = u.union_id or new_id("on_", 26)
            self.users[u.open_id] = u
            return u

    def add_chat(self, tenant_key: str, name: str, members: list[str] | None = None,
                 bots: list[str] | None = None, chat_id: str | None = None) -> Chat:
        with self.lock:
            c = Chat(chat_id or new_id("oc_", 26), tenant_key, name, list(members or []), list(bots or []))
            self.chats[c.chat_id] = c
            return c

    # -- persistence ----------------------------------------------------------------------
    def to_json(self) -> dict[str, Any]:
        with self.lock:
            return {
                "tenants": [asdict(t) for t in self.tenants.values()],
                "apps": [asdict(a) for a in self.apps.values()],
                "users": [asdict(u) for u in self.users.values()],
                "chats": [asdict(c) for c in self.chats.values()],
                "extra": {k: (v.to_json() if hasattr(v, "to_json") else v) for k, v in self.extra.items()},
            }

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_json(), ensure_ascii=False), encoding="utf-8")

    def load_core(self, data: dict[str, Any]) -> None:
        """Load tenants/apps/users/chats; feature modules load their part of `extra` themselves.
        Rows of another shape raise KeyError or TypeError."""
        with self.lock:
            self.tenants = {d["tenant_key"]: Tenant(**d) for d in data.get("tenants", [])}
            self.apps = {d["app_id"]: App(**d) for d in data.get("apps", [])}
            self.users = {d["open_id"]: User(**d) for d in data.get("users", [])}
            self.chats = {d["chat_id"]: Chat(**d) for d in data.get("chats", [])}

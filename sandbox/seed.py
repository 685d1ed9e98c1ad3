"""The ready-made sandbox world: one tenant, the app, sample people and a project group.

Fixed ids so the README, `gtm sandbox` output and tests can name them.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from gtm.sandbox.state import World

APP_ID = "cli_sandboxgtm0001"
APP_SECRET = "sandbox-secret-not-for-production"
TENANT_KEY = "tk_sandbox_demo"
CHAT_ID = "oc_sandbox_launch_group"

PEOPLE = [  # (open_id, name, en_name, email, role)
    ("ou_sandbox_pm", "张伟", "Zhang Wei", "zhangwei@example.com", "pm"),
    ("ou_sandbox_mgmt", "李娜", "Li Na", "lina@example.com", "management"),
    ("ou_sandbox_wang", "王芳", "Wang Fang", "wangfang@example.com", "member"),
    ("ou_sandbox_liu", "刘洋", "Liu Yang", "liuyang@example.com", "member"),
    ("ou_sandbox_chen", "陈静", "Chen Jing", "chenjing@example.com", "member"),
    ("ou_sandbox_yang", "杨帆", "Yang Fan", "yangfan@example.com", "member"),
]


@dataclass
class SeedInfo:
    app_id: str
    app_secret: str
    tenant_key: str
    chat_id: str
    bot_open_id: str
    users: dict[str, str] = field(default_factory=dict)  # role or name -> open_id


def seed_default(world: World) -> SeedInfo:
    """Create (idempotently) the demo tenant, app, people and project group."""
    with world.lock:
        if TENANT_KEY not in world.tenants:
            world.add_tenant("示例科技", TENANT_KEY, domain="sandbox")
        app = world.apps.get(APP_ID) or world.add_app(TENANT_KEY, APP_ID, APP_SECRET,
                                                      bot_open_id="ou_sandbox_bot")
        users: dict[str, str] = {}
        for open_id, name, en, email, role in PEOPLE:
            if open_id not in world.users:
                world.add_user(TENANT_KEY, name, open_id, en_name=en, email=email)
            users[name] = open_id
            users.setdefault(role, open_id)
        if CHAT_ID not in world.chats:
            world.add_chat(TENANT_KEY, "GTM 新品发布项目群", [p[0] for p in PEOPLE], [APP_ID], CHAT_ID)
        return SeedInfo(APP_ID, APP_SECRET, TENANT_KEY, CHAT_ID, app.bot_open_id, users)

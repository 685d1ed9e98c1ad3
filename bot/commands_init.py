"""`gtm init`: provision the Base from a template, share it, register the project.

Find-or-create and idempotent: a second run makes no write calls; `--dry-run` only prints the
plan; `--repair` recreates what is missing and never deletes anything.
"""
from __future__ import annotations

import re
from datetime import date, datetime
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

from gtm.sync.errors import FeishuError

SLUG_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")


def _slug_for(app, project: str | None) -> str:
    """The slug to provision: given, else the only registered one, else 'default'."""
    from gtm.sync.store.registry import list_projects

    if project:
        if not SLUG_RE.match(project):
            raise ValueError(f"--project {project!r}: use lowercase letters, digits, '-' or '_' (e.g. launch-2027)")
        return project
    with app.store.session() as s:
        rows = list_projects(s)
    if len(rows) == 1:
        return rows[0].slug
    if len(rows) > 1:
        raise ValueError("有多个项目，请用 --project 指定 / several projects, pass --project: "
                         + ", ".join(r.slug for r in rows))
    return "default"


def _existing_binding(app, slug: str, base_token: str | None):
    from gtm.sync.binding import BaseBinding
    from gtm.sync.store.registry import get_project

    with app.store.session() as s:
        row = get_project(s, slug)
        if row is not None and row.base_token and (not base_token or base_token == row.base_token):
            return BaseBinding.from_row(row), row.chat_ids or []
    token = base_token or (app.settings.base_token if slug == "default" else "")
    if token:
        return BaseBinding(slug=slug, app_token=token, timezone=app.settings.timezone), []
    return None, []


def _fill_project_row(app, binding, name: str, pm: str | None, chats: list[str], now: datetime) -> list[str]:
    """Put the PM and the group into the 项目 row, only where those cells are empty."""
    from gtm.schemas.plan import Person
    from gtm.sync.mirror import Mirror
    from gtm.sync.writeback import write_user_action

    mirror = Mirror(app.store, app.gateway, binding)
    mirror.refresh(now, full=True)
    snap = mirror.snapshot()
    row = snap.project
    if not row.record_id:
        return ["项目表没有记录，无法写入项目负责人 / the 项目 table has no row"]
    values: dict[str, Any] = {}
    if pm and pm.startswith("ou_") and row.pm is None:
        values["pm"] = Person(open_id=pm)
    if chats and not row.chat:
        values["chat"] = list(chats)
    if name and not row.name:
        values["name"] = name
    if values:
        write_user_action(mirror, "project", row.record_id, values, actor_open_id="gtm init")
    return []


def run_init(app, *, project: str | None, template: str, name: str | None, base_token: str | None,
             start: date | None, chats: list[str], admins: list[str], strict: bool, dry_run: bool,
             repair: bool, pm: str | None = None, lang: str = "zh") -> int:
    from gtm.schemas.templates import get_template
    from gtm.sync.access import apply_strict_permissions, grant_access
    from gtm.sync.provision import provision, register_project

    console = Console()
    settings = app.settings
    tz = settings.tz
    now = datetime.now(tz)
    try:
        slug = _slug_for(app, project)
    except ValueError as exc:
        console.print(f"[red]{exc}[/]")
        return 2
    binding, known_chats = _existing_binding(app, slug, base_token)
    chats = list(dict.fromkeys([*chats, *known_chats] or ([settings.chat_id] if settings.chat_id else [])))
    tmpl = get_template(template)
    name = name or tmpl.name
    start = start or now.date()
    if app.embedded:
        console.print("[yellow]未配置飞书凭证：在内置沙箱上运行 / no Feishu credentials: running on the embedded sandbox[/]")

    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), console=console,
                  transient=True, disable=dry_run) as bar:
        task = bar.add_task("准备 / planning", total=None)

        def progress(step: str, done: int, total: int) -> None:
            bar.update(task, description=step[:60], completed=done, total=total)

        try:
            out = provision(app.gateway, name=name, template=template, start=start, tz=settings.timezone,
                            binding=binding, slug=slug, repair=repair, dry_run=dry_run, progress=progress,
                            domain=_tenant_domain(app))
        except FeishuError as exc:
            console.print(f"[red]飞书调用失败 / Feishu call failed:[/] {exc}")
            return 1

    if dry_run:
        lines = out.lines(lang)
        console.print(f"[bold]试运行 / dry run[/] — 项目 {slug}, 模板 {template}: "
                      f"{out.writes} 项写入 / writes, {out.reads} 次读取 / reads")
        for line in lines:
            console.print(f"  • {line}")
        if not lines:
            console.print("  无需改动 / nothing to change")
        return 0

    result = out
    for f in result.findings:
        style = "green" if getattr(f, "fixed", False) else ("yellow" if f.severity != "info" else "dim")
        console.print(f"[{style}]• {f.describe(lang)}[/]")
    with app.store.session() as s:
        register_project(s, slug, name, template, result.binding, chats)
    problems = _fill_project_row(app, result.binding, name, pm, chats, now)
    for p in problems:
        console.print(f"[yellow]• {p}[/]")

    pm_open_id = pm if pm and pm.startswith("ou_") else None
    access_admins = list(admins) + ([pm] if pm and not pm_open_id else [])
    try:
        if strict:
            access = apply_strict_permissions(app.gateway, result.binding, chat_ids=chats, pm_open_id=pm_open_id,
                                              admins=access_admins, group_perm=settings.base_permission)
        else:
            access = grant_access(app.gateway, result.binding.app_token, chat_ids=chats, pm_open_id=pm_open_id,
                                  admins=access_admins, group_perm=settings.base_permission)
    except FeishuError as exc:
        console.print(f"[red]共享多维表格失败 / could not share the Base:[/] {exc}")
        access = None

    created = ", ".join(f"{k} {v}" for k, v in result.created.items() if v) or "无 / nothing"
    console.print(f"[bold green]项目 {slug} 已就绪 / project {slug} is ready[/] — 新建 / created: {created}; "
                  f"API: {result.reads} 读 / reads, {result.writes} 写 / writes")
    console.print(f"多维表格 / Base: [bold]{result.base_url or result.binding.app_token}[/]")
    if access is not None:
        for line in access.lines(lang):
            console.print(f"  • {line}")
        who = [g.given for g in access.granted + access.already]
        console.print("可访问 / has access: " + (", ".join(who) if who else "仅应用 / the app only — pass --chat/--admin"))
    unfixed = result.problems
    if unfixed and not repair:
        console.print("[yellow]发现需要处理的差异，运行 `gtm init --repair` 修复可修复的部分 / drift found; "
                      "`gtm init --repair` fixes what can be fixed[/]")
    return 1 if (unfixed or (access is not None and not access.ok)) else 0


def _tenant_domain(app) -> str:
    """The tenant's web domain for Base URLs when Feishu's create response has no `url`."""
    if app.sandbox is not None:
        return "sandbox.feishu.cn"
    return "larksuite.com" if "larksuite" in app.settings.feishu_domain else "feishu.cn"

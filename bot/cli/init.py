"""`gtm init`: provision the Base from a template, share it, register the project.

Find-or-create and idempotent: a second run makes no write calls; `--dry-run` only prints the
plan; `--repair` recreates what is missing and never deletes anything.
"""
from __future__ import annotations

import re
from datetime import date, datetime
from typing import Any

import click
from rich.console import Console
from rich.markup import escape

from gtm.bot.cli.options import runtime_of
from gtm.bot.cli.preflight import apply_moves, bound_elsewhere, preflight
from gtm.bot.cli.progress import step_progress
from gtm.bot.runtime import Runtime
from gtm.bot.validate import BadArgument, check_plan_end, check_slug, parse_start
from gtm.schemas.plan import Person
from gtm.schemas.templates import get_template
from gtm.sync.access import AccessReport, apply_strict_permissions, grant_access
from gtm.sync.binding import BaseBinding
from gtm.sync.feishu.errors import FeishuError
from gtm.sync.mirror import Mirror
from gtm.sync.provision import provision, register_project
from gtm.sync.provision_plan import ProvisionPlan
from gtm.sync.store.registry import get_project, list_projects
from gtm.sync.subscribe import ensure_subscribed
from gtm.sync.writeback import WriteBackError, WriteRefused, write_user_action

LOCAL_ORIGINS = ("http://127.0.0.1", "http://localhost", "http://[::1]")
SLUG_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")


def _slug_for(app: Runtime, project: str | None) -> str:
    """The slug to provision: given, else the only registered one, else 'default'.

    A new slug may not be a reserved word (`all`, command words); one already registered keeps
    working."""
    if project:
        if not SLUG_RE.match(project):
            raise ValueError(f"--project {project!r}: use lowercase letters, digits, '-' or '_' (e.g. launch-2027)")
        with app.store.session() as s:
            known = get_project(s, project) is not None
        if not known:
            check_slug(project)
        return project
    with app.store.session() as s:
        rows = list_projects(s)
    if len(rows) == 1:
        return rows[0].slug
    if len(rows) > 1:
        raise ValueError("有多个项目，请用 --project 指定 / several projects, pass --project: "
                         + ", ".join(r.slug for r in rows))
    return "default"


def _existing_binding(app: Runtime, slug: str, base_token: str | None) -> tuple[BaseBinding | None, list[str]]:
    with app.store.session() as s:
        row = get_project(s, slug)
        if row is not None and row.base_token and (not base_token or base_token == row.base_token):
            return BaseBinding.from_row(row), row.chat_ids or []
    token = base_token or (app.settings.base_token if slug == "default" else "")
    if token:
        return BaseBinding(slug=slug, app_token=token, timezone=app.settings.timezone), []
    return None, []


def _registered_token(app: Runtime, slug: str) -> str:
    with app.store.session() as s:
        row = get_project(s, slug)
        return (row.base_token or "") if row is not None else ""


def _registered_template(app: Runtime, slug: str) -> str:
    with app.store.session() as s:
        row = get_project(s, slug)
        return (row.template or "") if row is not None else ""


def _fill_project_row(app: Runtime, binding: BaseBinding, name: str, pm: str | None, chats: list[str], now: datetime) -> list[str]:
    """Put the PM and the group into the 项目 row, only where those cells are empty."""
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


def run_init(app: Runtime, *, project: str | None, template: str | None, name: str | None, base_token: str | None,
             start: date | None, chats: list[str], admins: list[str], strict: bool | None, dry_run: bool,
             repair: bool, pm: str | None = None, lang: str = "zh", example: bool = False,
             move: bool = False) -> int:
    """Provision, register, fill the 项目 row, share. Exit code: 0 ready; 1 drift to act on, somebody
    not granted or a Feishu failure (nothing done so far is rolled back); 2 bad input.

    Check before create (`gtm.bot.cli.preflight`): the chats, the PM, the admins and the template are
    resolved first; anything unknown, or a chat another project has (without `--move`), is
    refused before the Base is made."""
    # soft_wrap: URLs, ids and long findings stay on one line (copyable, greppable in logs)
    console = Console(soft_wrap=True)
    settings = app.settings
    tz = settings.tz
    now = datetime.now(tz)
    try:
        slug = _slug_for(app, project)
    except ValueError as exc:
        console.print(f"[red]{exc}[/]")
        return 2
    binding, known_chats = _existing_binding(app, slug, base_token)
    registered = _registered_token(app, slug)
    if base_token and registered and registered != base_token:
        console.print(f"[yellow]项目 {slug} 原登记的多维表格 {registered} 将改为 {base_token}（原表不会被改动）/ "
                      f"project {slug} moves from Base {registered} to {base_token} (the old Base is left as is)[/]")
    known = _registered_template(app, slug)
    if template is None:
        template = known or "gtm"  # a re-run keeps the project's template
    elif known and known != template:
        console.print(f"[yellow]项目 {slug} 登记的模板是 {known}，本次按 {template} 检查（只会新增字段，不删除、不改名）/ "
                      f"project {slug} was made from template {known}; checking it against {template} (adds "
                      f"fields only, never removes or renames)[/]")

    implicit = [] if (chats or known_chats or not settings.chat_id) else [settings.chat_id]
    if implicit and bound_elsewhere(app.store, slug, implicit):
        console.print(f"[yellow]GTM_CHAT_ID {settings.chat_id} 已属于另一个项目，新项目不关联它；用 --chat 指定 / "
                      f"GTM_CHAT_ID {settings.chat_id} belongs to another project and is not linked here; "
                      f"pass --chat[/]")
        implicit = []
    fresh = [c for c in dict.fromkeys([*chats, *implicit]) if c not in known_chats]
    check = preflight(app, slug, chats=fresh, pm=pm, admins=admins, template=template, move=move)
    for line in check.warnings:
        console.print(f"[yellow]• {escape(line)}[/]")
    if not check.ok:
        for line in check.refusals:
            console.print(f"[red]• {escape(line)}[/]")
        console.print("[red]没有创建任何东西 / nothing was created[/]")
        return 2
    chats = list(dict.fromkeys([*check.chats, *known_chats]))
    admins = check.admins
    tmpl = get_template(template)
    if example and not tmpl.has_example:
        console.print(f"[red]--example：模板 {template} 没有示例计划，只有 campaign 有（例：gtm init --template campaign "
                      f"--example）/ --example: template {template} has no worked example; only campaign has one "
                      f"(e.g. gtm init --template campaign --example)[/]")
        return 2
    if strict is None:
        strict = tmpl.strict_permissions  # campaign (docs/seeds/003 §2.4): owners edit their rows, members view
    name = name or tmpl.name
    start = start or (tmpl.example_start if example else None) or now.date()
    try:
        check_plan_end(start, tmpl.span_days)
    except BadArgument as exc:
        console.print(f"[red]{escape(str(exc))}[/]")
        console.print("[red]没有创建任何东西 / nothing was created[/]")
        return 2

    with step_progress(console, "建表 / provisioning", enabled=not dry_run) as progress:
        # a Feishu failure (e.g. `BaseMissing`) goes to the CLI's one boundary (`failures.explain`)
        out = provision(app.gateway, name=name, template=template, start=start, tz=settings.timezone,
                        binding=binding, slug=slug, repair=repair, dry_run=dry_run, progress=progress,
                        domain=_tenant_domain(app), example=example)

    if dry_run:
        _print_dry_run(console, out, slug, template, chats, pm, admins, settings.base_permission, strict, lang)
        return 0

    result = out
    for f in result.findings:
        style = "green" if f.fixed else ("yellow" if f.severity != "info" else "dim")
        console.print(f"[{style}]• {escape(f.describe(lang))}[/]")
    if repair:
        result.binding.gaps = []  # repaired; the next sync compares the fields again
    with app.store.session() as s:
        row = register_project(s, slug, name, template, result.binding, chats)
        ids = [a for a in admins if a.startswith("ou_")]
        if ids:  # admins hear of system problems (drift, failed deliveries) with the PM
            overrides = dict(row.policy_overrides or {})
            overrides["admins"] = list(dict.fromkeys([*overrides.get("admins", []), *ids]))
            row.policy_overrides = overrides
    apply_moves(app.store, check.moves)

    failed = False
    pm_open_id, pm_as_admin = check.pm_open_id, check.pm_as_admin
    try:
        for p in _fill_project_row(app, result.binding, name, pm_open_id, chats, now):
            console.print(f"[yellow]• {escape(str(p))}[/]")
    except (FeishuError, WriteBackError, WriteRefused) as exc:
        console.print(f"[red]无法写入项目表（项目负责人/项目群）/ could not fill the 项目 row:[/] {escape(str(exc))}")
        failed = True

    access = _share(app, console, result.binding, chats, pm_open_id, [*admins, *pm_as_admin], strict)

    subscribed, why = ensure_subscribed(app.gateway, result.binding.app_token)  # record-change events
    if not subscribed:
        console.print(f"[yellow]• {escape(why)}[/]")
    failed = failed or access is None or not access.ok

    created = ", ".join(f"{k} {v}" for k, v in result.created.items() if v) or "无 / nothing"
    console.print(f"[bold green]项目 {slug} 已就绪 / project {slug} is ready[/] — 新建 / created: {created}; "
                  f"API: {result.reads} 读 / reads, {result.writes} 写 / writes")
    console.print(f"多维表格 / Base: [bold]{result.base_url or result.binding.app_token}[/]")
    if access is not None:
        _print_access(console, access, lang)
    # a renamed field is followed (sync keeps working): reported, but not a failure
    to_act = [f for f in result.problems if f.severity == "error" or f.fixable]
    if to_act and not repair:
        console.print("[yellow]发现需要处理的差异，运行 `gtm init --repair` 修复可修复的部分 / drift found; "
                      "`gtm init --repair` fixes what can be fixed[/]")
    return 1 if (to_act or failed) else 0


_PERM_ZH = {"view": "可查看", "edit": "可编辑", "full_access": "可管理"}


def _print_access(console: Console, access: AccessReport, lang: str) -> None:
    """Who has access (new grants marked), then whatever went wrong, each naming what was given.
    A run given fewer people than the Base has (`gtm init --repair` of a shared Base) counts the
    others, and a run given nobody says who is there already, not "the app only"."""
    who = [f"{g.label} {g.given}（{_PERM_ZH.get(g.perm, g.perm)} / {g.perm}，新授权 / new）" for g in access.granted]
    who += [f"{g.label} {g.given}（{_PERM_ZH.get(g.perm, g.perm)} / {g.perm}）" for g in access.already]
    members = access.members
    others = members - len(who)
    if who:
        console.print("可访问 / has access: " + "、".join(who) + (
            f"；另有 {others} 个协作者 / {others} other collaborator(s)" if others > 0 else ""))
    elif members:
        console.print(f"可访问 / has access: 已有 {members} 个协作者，本次未改动 / {members} collaborator(s) "
                      "already, unchanged (to add: --chat/--pm/--admin)")
    else:
        console.print("可访问 / has access: 仅应用 / the app only — pass --chat/--pm/--admin")
    for line in access.not_found + access.errors:
        console.print(f"[red]  • {escape(str(line))}[/]")
    if access.fallback:
        console.print(f"[yellow]  • {escape(str(access.fallback))}[/]")
    for r in access.roles_created:
        console.print(f"  • 已创建角色「{r}」/ created role “{r}”")
    if access.strict:
        console.print("  • 高级权限已启用：成员只能编辑自己负责的行，项目负责人和管理员可编辑全部 / advanced "
                      "permissions on: members edit only rows they own; the PM and admins edit everything")


def _share(app: Runtime, console: Console, binding: BaseBinding, chats: list[str], pm_open_id: str | None,
           admins: list[str], strict: bool) -> AccessReport | None:
    """Grant access (strict: with roles); None when Feishu refused in a way nobody could be told."""
    group_perm = app.settings.base_permission
    try:
        if strict:
            return apply_strict_permissions(app.gateway, binding, chat_ids=chats, pm_open_id=pm_open_id,
                                            admins=admins, group_perm=group_perm)
        return grant_access(app.gateway, binding.app_token, chat_ids=chats, pm_open_id=pm_open_id,
                            admins=admins, group_perm=group_perm)
    except FeishuError as exc:
        console.print(f"[red]共享多维表格失败 / could not share the Base:[/] {exc}")
        return None


def _print_dry_run(console: Console, plan: ProvisionPlan, slug: str, template: str, chats: list[str], pm: str | None,
                   admins: list[str], group_perm: str, strict: bool, lang: str) -> None:
    lines = plan.lines(lang)
    where = "新建多维表格 / a new Base" if plan.create_base else f"多维表格 / Base {plan.binding.app_token}"
    console.print(f"[bold]试运行，不做任何修改 / dry run, nothing is changed[/] — 项目 / project {slug}, "
                  f"模板 / template {template}, {where}: {plan.writes} 步 / steps, {plan.reads} 次读取 / reads")
    for line in lines:
        console.print(f"  • {escape(str(line))}")
    if not lines:
        console.print("  无需改动 / nothing to change")
    wanted = [f"项目群 {c}（{_PERM_ZH[group_perm]} / {group_perm}）" for c in chats]
    wanted += [f"项目负责人 {pm}（{_PERM_ZH['full_access']} / full_access）"] if pm else []
    wanted += [f"管理员 {a}（{_PERM_ZH['full_access']} / full_access）" for a in admins]
    console.print("将授权（已有的不重复）/ would grant (skipping existing): "
                  + ("、".join(wanted) if wanted else "无 / nobody — pass --chat/--pm/--admin"))
    if strict:
        console.print("将启用高级权限：成员只能编辑自己负责的行 / would turn on advanced permissions: members "
                      "edit only rows they own")


def _tenant_domain(app: Runtime) -> str:
    """The tenant's web domain for Base URLs when Feishu's create response has no `url`."""
    if app.sandbox is not None or app.settings.feishu_domain.startswith(LOCAL_ORIGINS):
        return "sandbox.feishu.cn"  # the embedded sandbox or a `gtm sandbox` on this machine
    return "larksuite.com" if "larksuite" in app.settings.feishu_domain else "feishu.cn"


def init_command(ctx: click.Context, *, project: str | None, template: str | None, name: str | None,
                 base_token: str | None, start: str | None, chats: tuple[str, ...], pm: str | None,
                 admins: tuple[str, ...], permissions: str | None, example: bool, dry_run: bool,
                 repair: bool, move: bool) -> int:
    """`gtm init` (`gtm.bot.cli.main.COMMANDS`): --start checked before any work."""
    day = None
    if start:
        try:
            day = parse_start(start)
        except BadArgument as exc:
            raise click.BadParameter(str(exc).removeprefix("--start "), ctx=ctx, param_hint="--start") from None
    return run_init(runtime_of(ctx), project=project, template=template, name=name, base_token=base_token,
                    start=day, chats=list(chats), admins=list(admins),
                    strict=None if permissions is None else permissions == "strict", example=example,
                    dry_run=dry_run, repair=repair, pm=pm, move=move)

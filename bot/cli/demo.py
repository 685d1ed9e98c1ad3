"""`gtm demo`: the whole loop in one command on the embedded sandbox, printed readably.

sandbox → provision the `gtm` template → people type a realistic plan (with trouble) → check
(overdue notices, both escalation levels, budget, gate) → weekly report to the group → the team
@mentions the bot → every bot message shown in the terminal. Then it keeps serving (long
connection + console page) until Ctrl-C, unless `--once`.
"""
from __future__ import annotations

import shutil
import signal
import sys
import tempfile
import threading
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Callable

import click
from pydantic import SecretStr
from rich.console import Console
from rich.markup import escape
from rich.panel import Panel
from rich.rule import Rule

from gtm.bot.cards.terminal import card_to_text
from gtm.bot.catalogue import RAG
from gtm.bot.chat.dispatcher import Dispatcher
from gtm.bot.chat.transports.longconn import LongConnection
from gtm.bot.checks.check import run_check
from gtm.bot.checks.posting import run_weekly_report
from gtm.bot.cli.demo_data import populate
from gtm.bot.cli.outcomes import outcomes_table
from gtm.bot.runtime import Runtime, start_embedded_sandbox
from gtm.sandbox import Sandbox, im
from gtm.schemas.settings import load_settings
from gtm.sync.access import grant_access
from gtm.sync.feishu.gateway import CallStats, gateway_from_settings
from gtm.sync.provision import provision, register_project
from gtm.sync.store.open import open_store
from gtm.sync.subscribe import ensure_subscribed

console = Console()

QUESTIONS = [  # (who, text, where): where None = the project group, "p2p" = private chat
    ("王芳", "状态", None),
    ("刘洋", "M3进度怎么样", None),
    ("陈静", "风险", None),
    ("杨帆", "逾期", None),
    ("王芳", "我的任务", "p2p"),
]


def _show(title: str, card: dict, style: str = "cyan") -> None:
    inner = max(40, console.width - 4)  # the panel's border and padding
    console.print(Panel(_escape(card_to_text(card, width=inner)), title=_escape(title), border_style=style))


def _escape(text: str) -> str:
    return escape(text)


def _bot_messages(sb: Sandbox, since: dict[str, int]) -> list[tuple[str, dict]]:
    """Bot messages not shown yet, across the group and every p2p chat."""
    st = im.store(sb)
    out = []
    with sb.world.lock:
        chats = list(st.by_chat.items())
    for chat_id, ids in chats:
        new = ids[since.get(chat_id, 0):]
        since[chat_id] = len(ids)
        for mid in new:
            view = sb.control.message(mid)
            if view.get("sender", {}).get("sender_type") == "app":
                out.append((chat_id, view))
    return out


def _where(sb: Sandbox, chat_id: str, people: dict[str, str]) -> str:
    chat = sb.world.chats.get(chat_id)
    if chat is not None:
        return f"群 {chat.name}"

    p = im.store(sb).p2p_chats.get(chat_id, {})
    who = sb.world.users.get(p.get("open_id", ""))
    return f"私聊 → {who.name if who else chat_id}"


def _print_new(sb: Sandbox, since: dict[str, int], people: dict[str, str]) -> int:
    msgs = _bot_messages(sb, since)
    for chat_id, view in msgs:
        card = view.get("card") or {}
        if card:
            _show(f"🤖 机器人 → {_where(sb, chat_id, people)}", card)
        else:
            console.print(f"🤖 → {_escape(str(_where(sb, chat_id, people)))}: {_escape(str(view.get('content')))}")
    return len(msgs)


def run_demo(*, once: bool = False, port: int = 0, lang: str = "zh", now: datetime | None = None,
             workdir: Path | None = None) -> int:
    t0 = time.monotonic()
    own_dir = workdir is None  # a folder of our own is removed when the demo stops
    workdir = workdir or Path(tempfile.mkdtemp(prefix="gtm-demo-"))
    sb, seed = start_embedded_sandbox(None, port)
    settings = load_settings(None).model_copy(update={
        "feishu_app_id": seed.app_id, "feishu_app_secret": SecretStr(seed.app_secret), "feishu_domain": sb.url,
        "database_url": f"sqlite:///{workdir / 'demo.db'}", "chat_id": seed.chat_id})
    settings.policy.locale = lang
    tz = settings.tz
    now = now or datetime.now(tz)
    store = open_store(settings.database_url)
    gateway = gateway_from_settings(settings)
    runtime = Runtime(settings, store, gateway, sandbox=sb)
    people = seed.users
    closers: list[Callable[[], None]] = [sb.stop, store.dispose]
    try:
        console.print(Rule("[bold]GTM 计划助手 · 演示 / demo[/]"))
        console.print(f"内置飞书沙箱 / embedded Feishu sandbox: [bold]{sb.url}[/]   控制台 / console: "
                      f"[bold]{sb.url}/console[/]")
        # 1. provision
        start = (now - _weeks(5)).date()
        result = provision(gateway, name="新一代协作套件发布（示例）", template="gtm", start=start,
                           tz=settings.timezone, slug="demo", domain="sandbox.feishu.cn")
        with store.session() as s:
            row = register_project(s, "demo", "新一代协作套件发布（示例）", "gtm", result.binding, [seed.chat_id])
            # the demo runs at any hour: quiet hours (21:00–08:30, weekends) are off for this project
            row.policy_overrides = {"quiet_start": "00:00", "quiet_end": "00:00", "quiet_on_non_working_days": False}

        ensure_subscribed(gateway, result.binding.app_token)
        grant_access(gateway, result.binding.app_token, chat_ids=[seed.chat_id],
                              pm_open_id=people["张伟"], admins=[people["李娜"]])
        console.print(f"① 已建多维表格 / Base provisioned: {result.base_url}  "
                      f"({sum(result.created.values())} 项, {result.writes} 次写入 / writes)；"
                      f"共享给 / shared with: 项目群、张伟(PM)、李娜")
        # 2. people type the plan
        project = runtime.project("demo")
        mirror = runtime.mirror(project)
        mirror.refresh(now, full=True)

        info = populate(sb, project.binding, mirror.snapshot(), people, seed.chat_id, now)
        risk, dep = _escape(info["high_risk"]), _escape(info["pending_dependency"])
        console.print("② 团队在表格里填写了计划 / the team filled in the plan: " + (
            f"2 overdue tasks, 1 blocked task, issues open 4 and 8 days, high risk “{risk}”, "
            f"pending dependency “{dep}”, 12% over budget" if lang == "en" else
            f"2 个逾期任务、1 个阻塞任务、问题已开 4 天和 8 天、高风险「{risk}」、待确认依赖「{dep}」、超预算 12%"))
        # 3. the bot comes online (long connection) and the check runs
        dispatcher = Dispatcher(runtime, bot_open_id=seed.bot_open_id)
        conn = LongConnection(seed.app_id, seed.app_secret, dispatcher.dispatch, domain=sb.url,
                              bot_open_id=lambda: seed.bot_open_id).start()
        closers[:0] = [dispatcher.close, conn.stop]
        since: dict[str, int] = {}
        console.print(Rule("③ 定时检查 / scheduled check"))
        run = run_check(runtime, project, now)

        rag = run.result.rag
        console.print(f"整体状态 / status: [bold]{RAG[rag.color].en if lang == 'en' else RAG[rag.color].zh}[/] — "
                      f"{_escape(rag.explanation(lang))}")
        console.print("写回表格 / written back: " + (
            f"{run.writes_applied} cells (status 延期, variance, risk score, escalation level, overall status)"
            if lang == "en" else f"{run.writes_applied} 个单元格（延期、偏差、风险评分、升级级别、整体状态）"))
        console.print(outcomes_table(run.outcomes, "通知 / notices", people=run.snapshot.people(), lang=lang))
        _print_new(sb, since, people)
        # 4. weekly report
        console.print(Rule("④ 周报 / weekly report"))
        report = run_weekly_report(runtime, project, now)
        _print_new(sb, since, people)
        console.print("周报已存档到「周报」表 / archived in the 周报 table" if report.archived_record
                      else "周报未能存档（见上方原因）/ not archived (see above)")
        # 5. the team asks the bot
        console.print(Rule("⑤ 群里 @机器人 / @mentions"))
        for who, text, where in QUESTIONS:
            chat = None if where == "p2p" else seed.chat_id
            console.print(f"👤 {who}{'（私聊）' if chat is None else ''}: @GTM 计划助手 {text}")
            target = chat or _p2p_chat(sb, seed.app_id, people[who])
            before = len(sb.control.messages(target, bots_only=True)) if target else 0
            sb.control.post_message(chat, people[who], text, mention_bot=chat is not None)
            target = target or _p2p_chat(sb, seed.app_id, people[who])
            try:
                sb.control.wait_for_messages(target, before + 1, timeout=10)
            except TimeoutError:
                console.print("[red]机器人没有回答 / no answer[/]")
            _print_new(sb, since, people)
        elapsed = time.monotonic() - t0
        console.print(Rule())
        console.print(f"[bold green]演示完成 / demo pass finished in {elapsed:.1f} s[/] — API calls: "
                      f"{_calls_line(gateway.stats)}")
        if once:
            return 0
        console.print(f"继续运行中 / still serving: open [bold]{sb.url}/console[/] to chat with the bot and "
                      f"click card buttons. From another shell (one line):")
        console.print(f"GTM_FEISHU_DOMAIN={sb.url} GTM_FEISHU_APP_ID={seed.app_id} "
                      f"GTM_FEISHU_APP_SECRET={seed.app_secret} GTM_DATABASE_URL={settings.database_url} "
                      f"{_gtm_command()} ask \"风险\"", markup=False, highlight=False, soft_wrap=True)
        console.print("Ctrl-C 退出 / to quit.")
        stop = threading.Event()
        signal.signal(signal.SIGINT, lambda *_: stop.set())
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        while not stop.wait(1.0):
            _print_new(sb, since, people)
        console.print("演示已停止 / demo stopped.")
        return 0
    finally:
        for fn in closers:
            try:
                fn()
            except Exception:  # noqa: BLE001 - closing: one failing closer must not keep the others open
                pass
        if own_dir:
            shutil.rmtree(workdir, ignore_errors=True)  # the sandbox is gone: its store means nothing


def _calls_line(stats: CallStats) -> str:
    """"237 (215 bitable, 16 im, 6 other: drive)": every call counted, by service."""
    bitable, im = stats.total("bitable"), stats.total("im")
    other = stats.total() - bitable - im
    services = sorted({api.split(".", 1)[0] for api in stats.calls} - {"bitable", "im"})
    tail = f", {other} other: {', '.join(services)}" if other else ""
    return f"{stats.total()} ({bitable} bitable, {im} im{tail})"


def _gtm_command() -> str:
    """How to run `gtm` from another shell: the script beside this interpreter (a venv's
    `.venv/bin/gtm`, which is not on PATH after `make demo`), else `gtm`."""
    beside = Path(sys.executable).with_name("gtm")
    return str(beside) if beside.exists() else "gtm"


def _weeks(n: int):
    return timedelta(weeks=n)


def _p2p_chat(sb: Sandbox, app_id: str, open_id: str) -> str | None:
    return im.p2p_chat_id(sb, app_id, open_id)  # the bot's p2p chat with the person, made on first use


def demo_command(ctx: click.Context, *, once: bool, port: int, lang: str) -> int:
    """`gtm demo` (`gtm.bot.cli.main.COMMANDS`)."""
    return run_demo(once=once, port=port, lang=lang)

"""`gtm sandbox`: run the local Feishu-compatible server and say how to use it."""
from __future__ import annotations

import signal
import threading

import click
from rich.console import Console
from rich.table import Table

from gtm.sandbox import Sandbox
from gtm.sandbox.seed import PEOPLE, seed_default
from gtm.sandbox.state import StateFileError


def run_sandbox(port: int, host: str, state_file: str | None) -> int:
    """Serve until Ctrl-C; a `--state` file that cannot be read or written is refused first
    (`StateFileError` → a usage error naming it, exit 2)."""
    console = Console()
    try:
        sb = Sandbox(state_file=state_file)
    except StateFileError as exc:
        raise click.BadParameter(str(exc).removeprefix("--state "), param_hint="--state") from None
    seed = seed_default(sb.world)
    url = sb.start(port=port, host=host)
    console.print(f"[bold green]飞书沙箱已启动 / Feishu sandbox running[/] at [bold]{url}[/]")
    t = Table(show_header=False, box=None)
    t.add_row("Open API", f"{url}/open-apis/…")
    t.add_row("控制台 / console", f"{url}/console")
    t.add_row("GTM_FEISHU_DOMAIN", url)
    t.add_row("GTM_FEISHU_APP_ID", seed.app_id)
    t.add_row("GTM_FEISHU_APP_SECRET", seed.app_secret)
    t.add_row("GTM_CHAT_ID", f"{seed.chat_id}  (GTM 新品发布项目群)")
    t.add_row("bot open_id", seed.bot_open_id)
    for open_id, name, en, email, role in PEOPLE:
        t.add_row(f"{name} ({en}, {role})", f"{open_id}  {email}")
    if state_file:
        t.add_row("state file", state_file)
    console.print(t)
    console.print("Use it from another shell: export the three GTM_FEISHU_* values above, then "
                  "`gtm init`, `gtm check`, `gtm serve`. Ctrl-C stops the sandbox.")
    stop = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    stop.wait()
    try:
        sb.stop()
    except OSError as exc:  # the file became unwritable while the sandbox ran: say so, exit 1
        console.print(f"[red]沙箱已停止，但状态未能保存到 {state_file} / sandbox stopped, but its state could not "
                      f"be saved to {state_file}: {exc.strerror or exc}[/]")
        return 1
    console.print("sandbox stopped" + (f"; state saved to {state_file}" if state_file else ""))
    return 0


def sandbox_command(ctx: click.Context, *, port: int, host: str, state_file: str | None) -> int:
    """`gtm sandbox` (`gtm.bot.cli.main.COMMANDS`)."""
    return run_sandbox(port, host, state_file)

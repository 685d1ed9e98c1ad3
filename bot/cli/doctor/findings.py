"""What `gtm doctor` found and how it prints: one `Finding` per check (ok / missing / warn /
skipped, what was found, what to do), the table by block (deployment, then each project), the
last line, and the `--json` document. `Checks` is the state every check family adds to."""
from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from gtm.bot.runtime import Runtime

OK, MISSING, WARN, SKIPPED = "ok", "missing", "warn", "skipped"


@dataclass
class Finding:
    check: str
    status: str
    detail: str = ""
    fix: str = ""
    project: str = ""  # the project block this finding belongs to ("" = the deployment)

    @property
    def failed(self) -> bool:
        return self.status == MISSING


class Checks:
    """The findings so far and what the checks read (runtime, settings, gateway, the instant)."""

    def __init__(self, app: Runtime, *, now: datetime | None = None, ws_timeout: float = 10.0) -> None:
        self.app = app
        self.settings = app.settings
        self.gateway = app.gateway
        self.now = now or datetime.now(self.settings.tz)  # the outermost edge: wall clock
        self.ws_timeout = ws_timeout
        self.findings: list[Finding] = []
        self.token_ok = False
        self.section = ""  # the project being checked (labels its block in the output)

    def add(self, check: str, status: str, detail: str = "", fix: str = "") -> Finding:
        f = Finding(check, status, detail, fix, self.section)
        self.findings.append(f)
        return f


STATUS_STYLE = {OK: ("✔ ok", "green"), MISSING: ("✘ missing", "red"), WARN: ("! warn", "yellow"),
                SKIPPED: ("– skipped", "dim")}


def print_findings(findings: list[Finding], console: Console | None = None) -> None:
    """The findings as one table: the deployment's checks first, then one labelled block per
    project; the last line counts what is missing, else the warnings, else says all passed."""
    console = console or Console()
    table = Table(title="gtm doctor", show_lines=False, expand=False)
    table.add_column("检查 / Check", overflow="fold")
    table.add_column("结果 / Status", no_wrap=True)
    table.add_column("说明 / Detail", overflow="fold")
    table.add_column("怎么办 / What to do", overflow="fold")
    blocks: dict[str, list[Finding]] = {}
    for f in findings:
        blocks.setdefault(f.project, []).append(f)
    for project, rows in sorted(blocks.items(), key=lambda kv: kv[0] != ""):
        if table.rows:
            table.add_section()
        table.add_row(f"[bold]{'部署 / deployment' if not project else '项目 / project: ' + escape(project)}[/]",
                      "", "", "")
        for f in rows:
            label, style = STATUS_STYLE.get(f.status, (f.status, ""))
            table.add_row("  " + escape(f.check), f"[{style}]{label}[/]", escape(f.detail), escape(f.fix))
    console.print(table)
    console.print(ending(findings))


def ending(findings: list[Finding]) -> str:
    """The last line: missing first (with the warnings), then warnings; "all passed" only when
    there is neither."""
    missing = [f for f in findings if f.failed]
    warnings = [f for f in findings if f.status == WARN]
    if missing:
        more = f"，{len(warnings)} 个警告 / {len(warnings)} warnings" if warnings else ""
        return (f"[red]{len(missing)} 项缺失 / missing{more}[/] — 按「怎么办」一栏处理后重新运行 `gtm doctor` / "
                "fix them as the last column says, then run `gtm doctor` again")
    if warnings:
        return (f"[yellow]{len(warnings)} 个警告 / {len(warnings)} warnings[/] — 能运行，但请按「怎么办」一栏处理 / "
                "it runs, but see the last column")
    return "[green]全部通过 / all checks passed[/]"


def findings_json(findings: list[Finding]) -> dict[str, Any]:
    """`gtm doctor --json`: every finding, and the counts the exit code is based on."""
    return {"findings": [asdict(f) for f in findings],
            "missing": sum(1 for f in findings if f.failed),
            "warnings": sum(1 for f in findings if f.status == WARN)}

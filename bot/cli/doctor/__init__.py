"""`gtm doctor`: is this deployment able to do its job? Configuration first, then every Feishu
permission the service needs, each proved by a read-only call (nothing is created or sent).

Every line says ok / missing (or warn / skipped), what was found, and what to do where in the
developer console. A scope error (99991672) names the scope from `gtm.bot.cli.scopes`. Exit code 0
when nothing is missing, 1 otherwise.

One module per check family: `setup_checks` (settings, database, time, delivery health) and
`feishu_checks` (token, scopes, Bases, chats, people, long connection); `findings` holds what they
found and how it prints.
"""
from __future__ import annotations

import json
from datetime import datetime

import click
from rich.console import Console

from gtm.bot.cli.doctor.feishu_checks import FeishuChecks, Target, longconn_endpoint
from gtm.bot.cli.doctor.findings import (
    MISSING,
    OK,
    SKIPPED,
    STATUS_STYLE,
    WARN,
    Finding,
    ending,
    findings_json,
    print_findings,
)
from gtm.bot.cli.doctor.setup_checks import SetupChecks, policy_override_problems
from gtm.bot.cli.options import runtime_of
from gtm.bot.runtime import Runtime

__all__ = ["Doctor", "run_doctor", "doctor_command", "Finding", "Target", "OK", "MISSING", "WARN", "SKIPPED",
           "STATUS_STYLE", "ending", "findings_json", "print_findings", "policy_override_problems",
           "longconn_endpoint"]


class Doctor(SetupChecks, FeishuChecks):
    """Every check, in order: the deployment's, then Feishu's (skipped without a tenant token)."""

    # -- running -------------------------------------------------------------------------------
    def run(self) -> list[Finding]:
        self.check_settings()
        self.check_database()
        self.check_time()
        self.check_delivery_health()
        self.check_token()
        if not self.token_ok:
            self.add("其余飞书检查 / remaining Feishu checks", SKIPPED, "没有租户令牌，无法继续 / no tenant token")
            return self.findings
        self.check_im_send_scope()
        self.check_app_subscriptions()
        targets = self.targets()
        if not targets:
            self.add("多维表格 / Base", SKIPPED, "还没有项目 / no project yet",
                     "运行 `gtm init --project SLUG` / run `gtm init --project SLUG`")
        seen_chats: set[str] = set()
        for t in targets:
            self.section = t.slug
            try:
                self.check_target(t, seen_chats)
            finally:
                self.section = ""
        if self.settings.chat_id and self.settings.chat_id not in seen_chats:
            self.check_chat(self.settings.chat_id, "GTM_CHAT_ID")
        self.check_longconn()
        return self.findings


def run_doctor(app: Runtime, *, now: datetime | None = None, console: Console | None = None, as_json: bool = False) -> int:
    """Check everything, print the table (or JSON); 0 when nothing is missing, else 1."""
    findings = Doctor(app, now=now).run()
    if as_json:
        print(json.dumps(findings_json(findings), ensure_ascii=False, indent=1))
    else:
        print_findings(findings, console)
    return 1 if any(f.failed for f in findings) else 0


def doctor_command(ctx: click.Context, *, as_json: bool) -> int:
    """`gtm doctor` (`gtm.bot.cli.main.COMMANDS`)."""
    return run_doctor(runtime_of(ctx), as_json=as_json)

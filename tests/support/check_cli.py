"""Kit for the `gtm check` end-to-end tests: run the real CLI against an in-process sandbox.

`gtm init` provisions a Base in ~10 s (the product honours Feishu's 10 QPS schema-write limit),
so the module provisions once (`provision_golden`) and every test starts from a copy: the
sandbox's Bitable state is loaded into the test's own sandbox and the SQLite file is copied.
Everything after that (typing the plan as the PM, `gtm check`, reruns, crashes) is per test.
"""
from __future__ import annotations

import copy
import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from click.testing import CliRunner, Result
from sqlalchemy import select

from gtm.bot.cli.main import main
from gtm.bot.cli import run as commands_run
from gtm.schemas.plan import IssueStatus, Level3, Person, TaskStatus
from gtm.schemas.tables import table
from gtm.sync.binding import BaseBinding
from gtm.sync.store.base import Store, make_engine
from gtm.sync.store.ledger import NotificationRow
from gtm.sync.store.open import open_store
from gtm.sync.store.registry import get_project
from tests.support.actors import typist
from tests.support.sandboxes import seeded_sandbox

TZ = ZoneInfo("Asia/Shanghai")
T0 = datetime(2026, 11, 2, 10, 0, tzinfo=TZ)  # Monday 10:00: the issue's 提出日期
L1_AT = T0 + timedelta(days=3, hours=1)  # Thu 11:00: more than 3 days → PM
L2_AT = T0 + timedelta(days=7, hours=1)  # Mon 11-09 11:00: more than 7 days → management
AFTER = T0 + timedelta(days=9)  # Wed 11-11 10:00
PLAN_START = T0.date() + timedelta(days=60)  # template rows far ahead: no overdue noise
SLUG = "p1"
ISSUE = "渠道合作伙伴协议价格条款未谈妥"
TASK = "销售 Deck 与 Demo 脚本"
SEND_PATH = "/open-apis/im/v1/messages"


def iso(dt: datetime) -> str:
    return dt.isoformat(timespec="minutes")


@dataclass
class Golden:
    """A provisioned project: the sandbox's Bitable state and the SQLite file after `gtm init`."""

    bitable: dict[str, Any]
    db: Path
    init_output: str


@dataclass
class CheckEnv:
    """One test's world: its sandbox (with the golden Base), its DB file, the CLI environment."""

    sb: Any
    seed: Any
    db_url: str
    cwd: Path
    env: dict[str, str]
    binding: BaseBinding
    ids: dict[str, str] = field(default_factory=dict)

    @property
    def pm(self) -> str:
        return self.seed.users["pm"]

    @property
    def mgmt(self) -> str:
        return self.seed.users["management"]


def cli_env(sandbox: Any, seed: Any, db_url: str) -> dict[str, str]:
    return {"GTM_FEISHU_DOMAIN": sandbox.url, "GTM_FEISHU_APP_ID": seed.app_id,
            "GTM_FEISHU_APP_SECRET": seed.app_secret, "GTM_DATABASE_URL": db_url,
            "GTM_CHAT_ID": seed.chat_id, "GTM_FAULT_CRASH_AFTER": "", "GTM_FAULT_CRASH_MATCH": ""}


def invoke(env: dict[str, str], *args: str) -> Result:
    """`gtm ARGS` in this process (click's CliRunner); fails the test on a non-zero exit."""
    res = CliRunner().invoke(main, list(args), env=env)
    if res.exit_code != 0:
        detail = repr(res.exception) if res.exception and not isinstance(res.exception, SystemExit) else ""
        raise AssertionError(f"gtm {' '.join(args)} exited {res.exit_code} {detail}\n{res.output}")
    return res


def provision_golden(sandbox: Any, seed: Any, workdir: Path) -> Golden:
    """`gtm init --project p1 --pm <PM>` through the CLI, once; returns what to copy per test."""
    db = workdir / "golden.db"
    res = invoke(cli_env(sandbox, seed, f"sqlite:///{db}"), "init", "--project", SLUG, "--pm", seed.users["pm"],
                 "--start", PLAN_START.isoformat())
    return Golden(copy.deepcopy(sandbox.bitable.store.to_json()), db, res.output)


def adopt_golden(sandbox: Any, seed: Any, golden: Golden, workdir: Path) -> CheckEnv:
    """Give this test's sandbox the provisioned Base and a private copy of the DB."""
    sandbox.bitable.load_json(copy.deepcopy(golden.bitable))
    db = workdir / "gtm.db"
    for suffix in ("", "-wal", "-shm"):
        src = Path(str(golden.db) + suffix)
        if src.exists():
            shutil.copy(src, str(db) + suffix)
    url = f"sqlite:///{db}"
    store = open_store(url)
    try:
        with store.session() as s:
            row = get_project(s, SLUG)
            assert row is not None, "gtm init did not register the project"
            binding = BaseBinding.from_row(row)
    finally:
        store.dispose()
    return CheckEnv(sandbox, seed, url, workdir, cli_env(sandbox, seed, url), binding)


# -- typing the plan into the Base as a person -----------------------------------------------
def act_create(env: CheckEnv, who: str, key: str, **values: Any) -> str:
    return typist(env.sb, env.binding, who).create(key, **values)


def act_update(env: CheckEnv, who: str, key: str, record_id: str, **values: Any) -> None:
    typist(env.sb, env.binding, who).update(key, record_id, **values)


def cell(env: CheckEnv, key: str, record_id: str, attr: str) -> Any:
    rec = env.sb.bitable.record(env.binding.app_token, env.binding.table_id(key), record_id)
    return rec["fields"].get(table(key).field(attr).name)


def type_plan(env: CheckEnv, *, overdue_task: bool = False) -> CheckEnv:
    """As the PM: management on the 项目 row, an open issue raised at T0, optionally a late task."""
    u = env.seed.users
    b = env.binding
    project_rid = env.sb.bitable.records(b.app_token, b.table_id("project"))[0]["record_id"]
    act_update(env, env.pm, "project", project_rid, management=[Person(open_id=env.mgmt)])
    env.ids["issue"] = act_create(env, env.pm, "issue", issue=ISSUE, raised_at=T0, owner=Person(open_id=u["王芳"]),
                                  severity=Level3.HIGH.value, status=IssueStatus.OPEN.value)
    if overdue_task:
        end: date = T0.date() - timedelta(days=3)
        env.ids["task"] = act_create(env, env.pm, "task", task_id="T-901", name=TASK, owner=Person(open_id=u["刘洋"]),
                                     planned_start=end - timedelta(days=7), planned_end=end,
                                     status=TaskStatus.IN_PROGRESS.value, progress=0.4)
    return env


# -- running `gtm check` ---------------------------------------------------------------------
def check(env: CheckEnv, at: datetime, *extra: str) -> str:
    """`gtm check --project p1 --as-of AT` in process; returns the printed summary."""
    return invoke(env.env, "check", "--project", SLUG, "--as-of", iso(at), *extra).output


def check_subprocess(env: CheckEnv, at: datetime, *extra: str, fault: dict[str, str] | None = None,
                     timeout: float = 60.0) -> subprocess.CompletedProcess:
    """`python -m gtm.bot.cli.main check …` as a separate process (what a crash needs)."""
    penv = {k: v for k, v in os.environ.items() if not k.startswith("GTM_")}
    penv.update(env.env)
    penv.update({"COLUMNS": "250", "PYTHONIOENCODING": "utf-8", **(fault or {})})
    return subprocess.run([sys.executable, "-m", "gtm.bot.cli.main", "check", "--project", SLUG, "--as-of", iso(at), *extra],
                          cwd=env.cwd, env=penv, capture_output=True, text=True, timeout=timeout)


# -- what the sandbox received ---------------------------------------------------------------
def bot_messages(env: CheckEnv, open_id: str) -> list[dict]:
    return env.sb.control.p2p_messages(open_id, bots_only=True)


def _text(m: dict) -> str:
    return json.dumps(m.get("card") or m.get("content"), ensure_ascii=False)


def escalations(env: CheckEnv, open_id: str, level_name: str | None = None) -> list[dict]:
    """Escalation cards about the test issue in `open_id`'s chat with the bot."""
    want = f"升级至{level_name}" if level_name else "升级至"
    return [m for m in bot_messages(env, open_id) if ISSUE in _text(m) and want in _text(m)]


def sends(env: CheckEnv, since: int = 0, *, ok: bool | None = None) -> list[dict]:
    """POST /open-apis/im/v1/messages as the journal saw them (ok=True: accepted, code 0)."""
    out = [e for e in env.sb.journal.since(since) if e["method"] == "POST" and e["path"] == SEND_PATH]
    if ok is True:
        out = [e for e in out if e["status"] == 200 and e["code"] == 0]
    elif ok is False:
        out = [e for e in out if not (e["status"] == 200 and e["code"] == 0)]
    return out


def writes(env: CheckEnv, since: int = 0) -> list[dict]:
    return [e for e in env.sb.journal.since(since) if e["write"]]


def ledger_rows(env: CheckEnv) -> list[Any]:
    """The notification ledger as the CLI left it (a fresh engine: the CLI's own is closed)."""
    store = Store(make_engine(env.db_url))
    try:
        with store.session() as s:
            rows = list(s.scalars(select(NotificationRow).order_by(NotificationRow.id)))
            s.expunge_all()
        return rows
    finally:
        store.dispose()


def row_for(env: CheckEnv, key_prefix: str, recipient: str) -> Any:
    hits = [r for r in ledger_rows(env) if r.key.startswith(key_prefix) and r.recipient == recipient]
    assert len(hits) == 1, f"expected one ledger row {key_prefix}… → {recipient}, got {len(hits)}"
    return hits[0]


def table_rows(output: str) -> list[list[str]]:
    """The body rows of the Rich summary table (cells stripped); folded lines come out as extra rows."""
    rows = []
    for line in output.splitlines():
        if line.startswith("│"):
            rows.append([c.strip() for c in line.strip("│").split("│")])
    return rows


def provision_golden_once(workdir: Path) -> Golden:
    """`gtm init` in a sandbox of its own (for a module-scoped fixture); tests adopt copies."""
    with seeded_sandbox() as sb:
        return provision_golden(sb, sb.seed, workdir)


def cli_test_env(sandbox: Any, seed: Any, golden: Golden, tmp_path: Path, monkeypatch: Any) -> CheckEnv:
    """A provisioned project p1 in this test's sandbox, with its own DB; nothing typed yet."""
    monkeypatch.chdir(tmp_path)  # no stray .env / gtm.toml
    monkeypatch.setattr(commands_run.console, "width", 250)  # the summary table unfolded
    return adopt_golden(sandbox, seed, golden, tmp_path)

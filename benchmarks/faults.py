"""`python -m gtm.benchmarks faults`: inject each fault of issue #16 and print what happened.

One row per fault: messages/answers **lost**, **duplicated**, **time to recover** (seconds of wall
clock from the fault until the service did the right thing again) and **alerts sent** (to the PM /
admins). Everything runs the product's own code against an in-process sandbox (no rate limits,
so the figures are about the fault, not about throughput) and a real SQLite store.
"""
from __future__ import annotations

import argparse
import json
import logging
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unicodedata
import warnings
from dataclasses import asdict, dataclass
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Callable
from zoneinfo import ZoneInfo

from click.testing import CliRunner

from gtm.benchmarks.common import plan_base
from gtm.bot.chat import dispatcher as D
from gtm.bot.chat.ask import ask
from gtm.bot.chat.dispatcher import Dispatcher
from gtm.bot.chat.transports import Incoming
from gtm.bot.checks import send_once as ledger
from gtm.bot.checks.check import make_sender, run_check
from gtm.bot.cli.main import main as gtm
from gtm.bot.rules.calendar import WorkCalendar
from gtm.bot.runtime import Runtime
from gtm.bot.service.jobs import prune_processed_events
from gtm.bot.service.leader import Leader
from gtm.sandbox import Sandbox, SandboxConfig
from gtm.sandbox.seed import seed_default
from gtm.schemas.decisions import Notice
from gtm.schemas.plan import Person
from gtm.schemas.settings import Policy, Settings
from gtm.schemas.tables import PLAN_TABLES
from gtm.sync.binding import BaseBinding
from gtm.sync.feishu.gateway import Gateway
from gtm.sync.provision import register_project
from gtm.sync.records import encode_value
from gtm.sync.store.holder import lease_until
from gtm.sync.store.ledger import ProcessedEventRow, claim_event
from gtm.sync.store.open import open_store
from gtm.sync.store.registry import get_project

TZ = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 11, 20, 10, 0, tzinfo=TZ)  # a Friday morning


@dataclass
class FaultRow:
    fault: str
    lost: int
    duplicated: int
    recover_s: float | None
    alerts: int
    note: str = ""


class World:
    """An in-process sandbox, the product gateway and a migrated SQLite store, with a Runtime."""

    def __init__(self, folder: Path) -> None:
        self.sb = Sandbox(SandboxConfig())
        self.seed = seed_default(self.sb.world)
        self.sb.start()
        self.url = f"sqlite:///{folder / 'faults.db'}"
        self.store = open_store(self.url)
        self.gw = Gateway(self.seed.app_id, self.seed.app_secret, self.sb.url, timeout=10, sleep=lambda s: None)
        settings = Settings(_env_file=None, feishu_app_id=self.seed.app_id, feishu_app_secret=self.seed.app_secret,
                            feishu_domain=self.sb.url, database_url=self.url)
        self.rt = Runtime(settings, self.store, self.gw, sandbox=self.sb)

    def close(self) -> None:
        self.store.dispose()
        self.sb.stop()

    def plan(self, slug: str, tasks: list[tuple[str, str, date]], *, issue_days: int = 0) -> Any:
        """A small plan (project, tasks, optionally an issue raised `issue_days` ago) registered as a project."""
        gw = self.gw
        b = plan_base(gw, slug, slug, ("project", "milestone", "task", "issue"))

        def add(key: str, rows: list[dict[str, Any]]) -> list[str]:
            spec = PLAN_TABLES[key]
            recs = [{spec.field(a).name: encode_value(spec.field(a), v, TZ, where=a)
                     for a, v in r.items() if v is not None} for r in rows]
            made = gw.bitable.batch_create(b.app_token, b.table_ids[key], recs, user_id_type="open_id")
            return [r["record_id"] for r in made]

        today = NOW.date()
        u = self.seed.users
        add("project", [{"name": slug, "pm": Person(open_id=u["pm"]), "management": [Person(open_id=u["management"])],
                         "start_date": today - timedelta(days=60), "launch_date": today + timedelta(days=30)}])
        if tasks:
            add("task", [{"task_id": f"T{i}", "name": name, "owner": Person(open_id=owner), "status": "进行中",
                          "planned_start": end - timedelta(days=7), "planned_end": end}
                         for i, (name, owner, end) in enumerate(tasks)])
        if issue_days:
            add("issue", [{"issue": "渠道合同卡在法务", "owner": Person(open_id=u["陈静"]), "status": "处理中",
                           "severity": "高", "raised_at": NOW - timedelta(days=issue_days)}])
        with self.store.session() as s:
            register_project(s, slug, slug, "gtm", b, chat_ids=[])
        return b

    def set_admins(self, slug: str, admins: list[str]) -> None:
        with self.store.session() as s:
            get_project(s, slug).policy_overrides = {"admins": admins}


def _sent(outcomes: list[Any], rule: str) -> int:
    return sum(1 for o in outcomes if o.rule == rule and o.status == "sent")


def _overdue_items(card: dict[str, Any]) -> str:
    return json.dumps(card, ensure_ascii=False)


def _field_update(w: World, b: Any, name: str, body: dict[str, Any]) -> None:
    gw = w.gw
    tid = b.table_ids["task"]
    fid = next(f["field_id"] for f in gw.bitable.list_fields(b.app_token, tid).items if f.get("field_name") == name)
    gw.bitable.update_field(b.app_token, tid, fid, body)


# -- the faults ---------------------------------------------------------------------------------------
def f_drift(w: World, retype: bool) -> FaultRow:
    u = w.seed.users
    slug = "retype" if retype else "rename"
    b = w.plan(slug, [(f"逾期任务{i}", u["王芳"], NOW.date() - timedelta(days=2 + i)) for i in range(3)])
    run_check(w.rt, w.rt.project(slug), NOW)
    t0 = time.perf_counter()
    _field_update(w, b, "计划结束", {"field_name": "计划结束", "type": 1} if retype else
                  {"field_name": "截止", "type": 5})
    run = run_check(w.rt, w.rt.project(slug), NOW + timedelta(hours=1))
    recover = time.perf_counter() - t0
    card = _overdue_items(ask(w.rt, "逾期", as_open_id=u["pm"], project=slug, now=NOW + timedelta(hours=1)))
    again = run_check(w.rt, w.rt.project(slug), NOW + timedelta(hours=2))
    alerts = _sent(run.outcomes, "system") + _sent(again.outcomes, "system")
    if retype:
        honest = "无法判断逾期" in card and "🎉" not in card and any("无法判断" in x for x in run.result.warnings)
        return FaultRow("计划结束 retyped to text", 0 if honest else 3, 0, round(recover, 2), alerts,
                        "answers/checks say what they cannot judge → gtm init --repair")
    tracked = sum(1 for i in range(3) if f"逾期任务{i}" in card)
    dup = max(0, _sent(again.outcomes, "digest"))
    return FaultRow("计划结束 renamed", 3 - tracked, dup, round(recover, 2), alerts, "followed by field id")


def f_markup(w: World) -> FaultRow:
    u = w.seed.users
    w.plan("markup-a", [("发布会物料 [/]", u["王芳"], NOW.date() - timedelta(days=3))])
    w.plan("markup-b", [("渠道培训", u["刘洋"], NOW.date() - timedelta(days=2))])
    env = {"GTM_FEISHU_DOMAIN": w.sb.url, "GTM_FEISHU_APP_ID": w.seed.app_id,
           "GTM_FEISHU_APP_SECRET": w.seed.app_secret, "GTM_DATABASE_URL": w.url}
    t0 = time.perf_counter()
    res = CliRunner().invoke(gtm, ["check", "--project", "all", "--as-of", NOW.isoformat()], env=env)
    checked = sum(1 for s in ("markup-a @", "markup-b @") if s in res.output)
    return FaultRow("record named `发布会物料 [/]` (check --project all)", 2 - checked, 0,
                    round(time.perf_counter() - t0, 2), 0, f"exit {res.exit_code}")


def f_mention_crash(w: World) -> FaultRow:
    seed = w.seed
    with w.store.session() as s:
        register_project(s, "chat", "Chat", "gtm", BaseBinding(slug="chat", app_token="basX"), chat_ids=[seed.chat_id])
    code = ("import sys; from gtm.sync.store.open import open_store; from gtm.sync.store.ledger import claim_event; "
            "st = open_store(sys.argv[1], migrate=False)\n"
            "with st.session() as s: claim_event(s, 'ev-crash', lease_seconds=600)")
    subprocess.run([sys.executable, "-c", code, w.url], check=True, timeout=60)  # claimed, then died
    mid = w.sb.control.post_message(seed.chat_id, seed.users["王芳"], "状态", mention_bot=False)
    inc = Incoming(kind="message", event_id="ev-crash", app_id=seed.app_id, tenant_key=seed.tenant_key,
                   chat_id=seed.chat_id, chat_type="group", open_id=seed.users["王芳"],
                   sender_tenant_key=seed.tenant_key, text="状态", mentioned_bot=True, message_id=mid)
    card = {"schema": "2.0", "body": {"elements": [{"tag": "markdown", "content": "ok"}]}}
    d = Dispatcher(w.rt, answer=lambda *a: card, bot_open_id=seed.bot_open_id)
    t0 = time.perf_counter()
    d.dispatch(inc)
    d.drain(10)
    recover = time.perf_counter() - t0
    for _ in range(3):  # further redeliveries
        d.dispatch(inc)
    d.drain(10)
    d.close()
    replies = len(w.sb.control.messages(seed.chat_id, bots_only=True))
    return FaultRow("process died while answering an @mention", 1 - min(1, replies), max(0, replies - 1),
                    round(recover, 2), 0, "dead holder's claim taken over on redelivery")


def f_sender_lease(w: World) -> FaultRow:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait(30)
    pm = w.seed.users["pm"]
    n = Notice(kind="budget", key="budget:fault:1", recipients=[pm], title="预算超支", text="x")
    sender = make_sender(w.rt, {"lease": "lease"})
    card = sender.cards.single("lease", n, "zh")
    with w.store.session() as s:
        ledger.reserve(s, "lease", n.key, pm, kind=n.kind, payload=card, now=NOW, lease_until=lease_until(120),
                       holder=f"{socket.gethostname()}:{child.pid}:dead")
    t0 = time.perf_counter()
    out = sender.dispatch("lease", "lease", [n], NOW, w.rt.settings.effective_policy())  # same --as-of instant
    recover = time.perf_counter() - t0
    sent = sum(1 for o in out if o.status == "sent")
    return FaultRow("sender crashed, rerun at the same --as-of", 1 - sent, max(0, sent - 1), round(recover, 2), 0,
                    "wall-clock lease, dead holder reclaimed at once")


def f_frozen_leader(w: World, ttl: float) -> FaultRow:
    key = 0x51
    code = ("import sys, time; from gtm.bot.service.leader import Leader; "
            f"l = Leader(sys.argv[1], key={key}, retry_seconds=0.2, ttl_seconds={ttl}); l.start(); "
            "l.wait_until_leader(10); print('leader', flush=True); time.sleep(300)")
    child = subprocess.Popen([sys.executable, "-c", code, w.url], stdout=subprocess.PIPE, text=True)
    standby = Leader(w.url, key=key, retry_seconds=min(3.0, ttl / 3), ttl_seconds=ttl)
    try:
        child.stdout.readline()
        standby.start()
        child.send_signal(signal.SIGSTOP)
        t0 = time.perf_counter()
        deadline = t0 + ttl * 3 + 10
        while not standby.is_leader and time.perf_counter() < deadline:
            time.sleep(0.05)
        took = time.perf_counter() - t0
        ok = standby.is_leader
    finally:
        child.send_signal(signal.SIGCONT)
        child.kill()
        standby.stop()
    return FaultRow(f"leader frozen (SIGSTOP), TTL {ttl:g} s", 0 if ok else 1, 0, round(took, 2), 0,
                    "standby took the lease" if ok else "NO TAKEOVER")


def f_delivery(w: World) -> FaultRow:
    u = w.seed.users
    w.plan("left", [("发布会物料", u["刘洋"], NOW.date() - timedelta(days=3))])
    w.set_admins("left", [u["杨帆"]])
    w.sb.control.update_user(u["刘洋"], resigned=True)
    t0 = time.perf_counter()
    runs = [run_check(w.rt, w.rt.project("left"), NOW + timedelta(hours=h)) for h in (0, 1, 2)]
    recover = time.perf_counter() - t0
    alerts = sum(_sent(r.outcomes, "delivery_failed") for r in runs)
    w.sb.control.update_user(u["刘洋"], resigned=False)
    return FaultRow("owner left (230029), 3 checks", 0 if alerts else 1, 0, round(recover, 2), alerts,
                    "one alert per cause per day, PM + admin")


def f_rate_limit(w: World) -> FaultRow:
    seed = w.seed
    waits: list[float] = []
    gw = Gateway(seed.app_id, seed.app_secret, w.sb.url, timeout=10, sleep=waits.append)
    w.rt.gateway = gw
    queued: list[Callable[[], Any]] = []
    d = D.Dispatcher(w.rt, answer=lambda *a: {"schema": "2.0", "body": {"elements": []}}, bot_open_id=seed.bot_open_id)
    d._later = lambda delay, fn, inc: queued.append(fn)  # type: ignore[method-assign]
    before = len(w.sb.control.messages(seed.chat_id, bots_only=True))
    mid = w.sb.control.post_message(seed.chat_id, seed.users["王芳"], "状态", mention_bot=False)
    inc = Incoming(kind="message", event_id="ev-429", app_id=seed.app_id, tenant_key=seed.tenant_key,
                   chat_id=seed.chat_id, chat_type="group", open_id=seed.users["王芳"],
                   sender_tenant_key=seed.tenant_key, text="状态", mentioned_bot=True, message_id=mid)
    w.sb.inject("/reply", "429", count=1, reset_after=45)
    d.dispatch(inc)
    d.drain(10)
    for fn in queued:
        fn()
    d.close()
    w.rt.gateway = w.gw
    replies = len(w.sb.control.messages(seed.chat_id, bots_only=True)) - before
    return FaultRow("429 with reset 45 s on an @mention reply", 1 - min(1, replies), max(0, replies - 1),
                    round(sum(waits), 2), 0, f"worker waited {sum(waits):g} s (cap {D.CHAT_MAX_WAIT:g} s), reply queued")


def f_escalation(w: World) -> FaultRow:
    w.plan("ladder", [], issue_days=4)  # open more than 3 days: level 1 (PM)
    sent = 0
    t0 = time.perf_counter()
    for day in range(4):  # Fri, Sat, Sun, Mon: repeated on working days until acknowledged
        run = run_check(w.rt, w.rt.project("ladder"), NOW + timedelta(days=day, hours=1))
        sent += _sent(run.outcomes, "escalation")
    return FaultRow("unacknowledged escalation over 4 days", 0, 0, round(time.perf_counter() - t0, 2), 0,
                    f"{sent} escalation cards (level notice + working-day repeats)")


def f_holiday() -> FaultRow:
    cal = WorkCalendar(Policy())
    days = [date(2027, 2, 8), date(2027, 2, 9), date(2027, 2, 10)] + [date(2027, 10, d) for d in range(1, 6)]
    wrong = sum(1 for d in days if cal.is_working_day(d))
    return FaultRow("2027 missing from chinesecalendar", wrong, 0, 0.0, 0,
                    f"2027 source: {cal.source(2027)}; holidays counted as working days: {wrong}")


def f_prune(w: World) -> FaultRow:
    wall = datetime.now(timezone.utc)
    with w.store.session() as s:
        for i in range(2000):
            claim_event(s, f"old-{i}", now=wall - timedelta(days=10))
    t0 = time.perf_counter()
    pruned = prune_processed_events(w.rt, wall)
    with w.store.session() as s:
        left = s.query(ProcessedEventRow).filter(ProcessedEventRow.event_id.like("old-%")).count()
    return FaultRow("processed_events growth (2000 old ids)", 0, 0, round(time.perf_counter() - t0, 2), 0,
                    f"pruned {pruned}, left {left}")


def run_all(ttl: float) -> list[FaultRow]:
    rows: list[FaultRow] = []
    with tempfile.TemporaryDirectory(prefix="gtm-faults-") as tmp:
        w = World(Path(tmp))
        try:
            steps: list[Callable[[], FaultRow]] = [
                lambda: f_drift(w, retype=False), lambda: f_drift(w, retype=True), lambda: f_markup(w),
                lambda: f_mention_crash(w), lambda: f_sender_lease(w), lambda: f_frozen_leader(w, ttl),
                lambda: f_delivery(w), lambda: f_rate_limit(w), lambda: f_escalation(w), f_holiday,
                lambda: f_prune(w)]
            for step in steps:
                try:
                    rows.append(step())
                except Exception as exc:  # noqa: BLE001 - report it as a row, carry on
                    rows.append(FaultRow(getattr(step, "__name__", "fault"), -1, -1, None, 0,
                                         f"ERROR {exc.__class__.__name__}: {exc}"))
                print(f"… {rows[-1].fault}", file=sys.stderr, flush=True)
        finally:
            w.close()
    return rows


def render(rows: list[FaultRow]) -> str:
    head = ("fault", "lost", "duplicated", "time to recover (s)", "alerts sent", "note")
    table = [head] + [(r.fault, str(r.lost), str(r.duplicated), "—" if r.recover_s is None else f"{r.recover_s:g}",
                       str(r.alerts), r.note) for r in rows]
    widths = [max(_w(t[i]) for t in table) for i in range(len(head))]
    out = []
    for n, t in enumerate(table):
        out.append("  ".join(_pad(c, widths[i], right=i in (1, 2, 3, 4)) for i, c in enumerate(t)).rstrip())
        if n == 0:
            out.append("  ".join("-" * x for x in widths))
    return "\n".join(out)


def _w(s: str) -> int:
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in s)


def _pad(s: str, w: int, right: bool = False) -> str:
    gap = " " * (w - _w(s))
    return gap + s if right else s + gap


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m gtm.benchmarks faults", description=__doc__.splitlines()[0])
    ap.add_argument("--leader-ttl", type=float, default=10.0, help="leadership lease TTL for the frozen-leader "
                    "fault (default 10 s, the production default)")
    ap.add_argument("--json", default="", help="also write the rows as JSON to this path")
    args = ap.parse_args(argv)
    warnings.filterwarnings("ignore")
    logging.disable(logging.CRITICAL)
    rows = run_all(args.leader_ttl)
    print(render(rows))
    if args.json:
        Path(args.json).write_text(json.dumps([asdict(r) for r in rows], ensure_ascii=False, indent=2),
                                   encoding="utf-8")
    return 1 if any(r.lost or r.duplicated for r in rows) else 0

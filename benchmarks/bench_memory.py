"""B7: peak RSS of the service holding a 100,000-record mirror, measured in a process of its own.

Three processes: the sandbox (its own process, rate limits on), this parent (loads the records
through `sb.bitable`, registers the project in a migrated SQLite store, watches), and the child
that is measured alone. The child is `python -m gtm.bot.cli serve` when `gtm.bot.serve` exists
and fills the mirror; otherwise (or if serve does not fill it in time) a small driver that does
what serve does at start: build the Runtime, full-refresh the mirror, decode the snapshot and run
the checks, then hold everything while the parent reads `VmHWM` from /proc/<pid>/status.

    python -m gtm.benchmarks.bench_memory --child URL DATABASE_URL   (the driver; used by B7)
"""
from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import time
from typing import Any

from gtm.benchmarks.common import Bench, Figure, now_local, task_rows

GOAL_MB = 250.0


def proc_status(pid: int) -> dict[str, int]:
    """VmHWM / VmRSS / VmPeak of a process in kB (Linux)."""
    out: dict[str, int] = {}
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith(("VmHWM", "VmRSS", "VmPeak")):
                    k, v = line.split(":", 1)
                    out[k] = int(v.split()[0])
    except OSError:
        pass
    return out


def _mirror_count(store, slug: str) -> int:
    from sqlalchemy import func, select

    from gtm.sync.store.mirror import MirrorRecord

    with store.session() as s:
        return int(s.execute(select(func.count()).select_from(MirrorRecord)
                             .where(MirrorRecord.project == slug)).scalar() or 0)


def _env(b: Bench, db_url: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update({"GTM_FEISHU_APP_ID": b.seed.app_id, "GTM_FEISHU_APP_SECRET": b.seed.app_secret,
                "GTM_FEISHU_DOMAIN": b.url, "GTM_DATABASE_URL": db_url, "GTM_LOG_LEVEL": "WARNING",
                "GTM_HTTP_PORT": "0", "PYTHONWARNINGS": "ignore"})
    return env


def sb_ws_connections(sb, app_id: str) -> int:
    return len(sb.control.ws_connections(app_id))


def sb_bot_replies(sb, chat_id: str) -> int:
    return len(sb.control.messages(chat_id, bots_only=True))


def _measure_serve(b: Bench, db_url: str, store, n: int, timeout: float) -> dict[str, Any] | None:
    """Run `gtm serve` alone in a child, fill its mirror with a full refresh — the one an @mention
    triggers on a never-read mirror — and read the child's peak once it has answered."""
    if importlib.util.find_spec("gtm.bot.serve") is None:
        return None
    from gtm.benchmarks.bench_bot import sb_post

    ready = b.dir / "serve.ready"
    env = _env(b, db_url)
    env["GTM_SERVE_READY_FILE"] = str(ready)
    log = open(b.dir / "serve.log", "w")
    child = subprocess.Popen([sys.executable, "-m", "gtm.bot.cli", "serve"], env=env, cwd=str(b.dir),
                             stdout=log, stderr=subprocess.STDOUT, text=True)
    t0 = time.monotonic()
    chat = b.seed.chat_id
    replies0 = b.call(sb_bot_replies, chat)

    def failed(why: str) -> dict[str, Any]:
        log.flush()
        tail = (b.dir / "serve.log").read_text(errors="replace")[-400:]
        return {"mode": "serve", "error": f"{why}; serve log: {tail}"}

    try:
        while not ready.exists() or b.call(sb_ws_connections, b.seed.app_id) < 1:
            if child.poll() is not None:
                return failed(f"serve exited with {child.returncode}")
            if time.monotonic() - t0 > 60:
                return failed("serve did not listen and connect within 60 s")
            time.sleep(0.2)
        idle = proc_status(child.pid)  # started, connected, nothing mirrored yet
        b.call(sb_post, chat, b.seed.users["王芳"], "状态")
        while time.monotonic() - t0 < timeout:
            if child.poll() is not None:
                return failed(f"serve exited with {child.returncode}")
            if b.call(sb_bot_replies, chat) > replies0:
                st = proc_status(child.pid)
                count = _mirror_count(store, "b7")
                if count < n:
                    return failed(f"serve answered with {count:,} records mirrored, expected {n:,}")
                return {"mode": "serve", "seconds": time.monotonic() - t0, "idle_kB": idle.get("VmHWM", 0),
                        "child": f"gtm serve answered an @mention after filling the mirror ({count:,} records)", **st}
            time.sleep(0.25)
        return failed(f"no answer within {timeout:.0f} s (mirror holds {_mirror_count(store, 'b7'):,} records)")
    finally:
        child.terminate()
        try:
            child.wait(15)
        except subprocess.TimeoutExpired:
            child.kill()
        log.close()


def _measure_driver(b: Bench, db_url: str, timeout: float) -> dict[str, Any]:
    child = subprocess.Popen([sys.executable, "-m", "gtm.benchmarks.bench_memory", "--child", b.url, db_url],
                             env=_env(b, db_url), cwd=str(b.dir), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    t0 = time.monotonic()
    try:
        line = child.stdout.readline() if child.stdout else ""
        if not line.startswith("READY"):
            err = child.stderr.read()[-600:] if child.stderr else ""
            return {"mode": "driver", "error": f"driver failed: {line.strip()} {err}"}
        st = proc_status(child.pid)
        return {"mode": "driver", "seconds": time.monotonic() - t0, "child": line.strip(), **st}
    finally:
        if child.stdin:
            child.stdin.close()
        try:
            child.wait(timeout)
        except subprocess.TimeoutExpired:
            child.kill()


def b7_memory(b: Bench, n: int, timeout: float = 240.0) -> Figure:
    from gtm.schemas.plan import Person
    from gtm.sync.provision import register_project
    from gtm.sync.store.open import open_store

    fig = Figure("B7", f"内存 / peak RSS of the service holding a {n:,}-record mirror",
                 "VmHWM of the service process < 250 MB")
    db_url = f"sqlite:///{b.dir / 'b7.db'}"
    store = open_store(db_url)  # migrated, as `gtm serve` expects it
    binding = b.make_base("B7 基准项目", "b7", ("project", "milestone", "task"))
    u = b.seed.users
    today = now_local().date()
    b.load(binding, "project", [{"name": "B7 基准项目", "pm": Person(open_id=u["pm"])}])
    owners = [u[k] for k in ("王芳", "刘洋", "陈静", "杨帆")]
    b.load(binding, "task", task_rows(n - 1, owners, today, seed=9))
    with store.session() as s:
        register_project(s, "b7", "B7 基准项目", "gtm", binding, chat_ids=[b.seed.chat_id])
    res = _measure_serve(b, db_url, store, n, timeout)
    if res is None or "error" in res:
        if res is not None:
            fig.notes.append(f"`gtm serve` not measured: {res['error'][:300]}")
        else:
            fig.notes.append("`gtm.bot.serve` does not exist yet: measured the driver that does what serve "
                             "does at start (Runtime, full mirror refresh, snapshot, run_checks) instead")
        # the serve attempt may have filled part of the mirror; the driver refreshes fully anyway
        res = _measure_driver(b, db_url, timeout)
    store.dispose()
    if "error" in res:
        fig.error = res["error"]
        fig.add("peak RSS", None, "MB", "< 250 MB", None, False)
        return fig
    peak = res.get("VmHWM", 0) / 1024
    fig.add(f"peak RSS ({res['mode']})", round(peak, 1), "MB", "< 250 MB", round(peak / GOAL_MB, 3), peak < GOAL_MB,
            extra={"VmRSS_MB": round(res.get("VmRSS", 0) / 1024, 1), "VmPeak_MB": round(res.get("VmPeak", 0) / 1024, 1),
                   "seconds": round(res.get("seconds", 0), 1), "child": res.get("child", ""),
                   "idle_peak_MB": round(res.get("idle_kB", 0) / 1024, 1)})
    if res.get("idle_kB"):
        fig.notes.append(f"peak before the mirror was filled (started + connected): {res['idle_kB'] / 1024:.0f} MB; "
                         f"the {n:,}-record mirror added {peak - res['idle_kB'] / 1024:.0f} MB")
    fig.notes.append(f"{res['mode']}: {res.get('child', '')} (RSS now {res.get('VmRSS', 0) / 1024:.0f} MB, "
                     f"ready after {res.get('seconds', 0):.1f} s)")
    return fig


# -- the child driver --------------------------------------------------------------------------------
def _child(url: str, db_url: str) -> int:
    from gtm.bot.ask import check_for
    from gtm.bot.runtime import Runtime
    from gtm.schemas.settings import load_settings
    from gtm.sync.gateway import gateway_from_settings
    from gtm.sync.store.open import open_store

    settings = load_settings()
    store = open_store(db_url, migrate=False)
    rt = Runtime(settings, store, gateway_from_settings(settings))
    held = []
    total = 0
    for project in rt.projects():
        m = rt.mirror(project)
        now = now_local()
        rep = m.refresh(now, full=True)
        snap = m.snapshot(now)
        check = check_for(rt, project, snap, now)
        held.append((snap, check))
        total += rep.read
    print(f"READY records={total} calls={rt.gateway.stats.total()} tasks={sum(len(s.tasks) for s, _ in held)}",
          flush=True)
    sys.stdin.read()  # hold the mirror until the parent has read our peak
    return 0


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--child":
        sys.exit(_child(sys.argv[2], sys.argv[3]))
    print(__doc__)

"""B7, B9, B10: memory and start-up of `gtm serve`, each measured in a process of its own.

Three kinds of process: the sandbox (its own process, rate limits on), this parent (loads the
records through `sb.bitable`, registers the projects in a migrated SQLite store and fills their
mirrors with the product's full refresh), and the child that is measured alone:
`python -m gtm.bot.cli.main serve` with `GTM_*` pointing at the sandbox and the store. The child
loads the mirrors from the store at start (never from Feishu), says it is ready (ready file +
long connection), answers one @mention per project group, and the parent reads its `VmHWM`
(peak RSS) and CPU time from /proc/<pid>.
"""
from __future__ import annotations

import gc
import os
import subprocess
import sys
import time
import tracemalloc
from typing import Any

from sqlalchemy import func, select

from gtm.benchmarks.common import Bench, Figure, now_local, task_rows
from gtm.bot.rules.engine import run_checks
from gtm.benchmarks.sandbox_side import sb_add_chats, sb_bot_replies, sb_post, sb_ws_connections
from gtm.schemas.plan import Person
from gtm.schemas.settings import Policy
from gtm.sync.binding import BaseBinding
from gtm.sync.mirror import Mirror
from gtm.sync.provision import register_project
from gtm.sync.store.mirror import MirrorRecord
from gtm.sync.store.open import open_store
from gtm.sync.store.registry import ProjectRow

GOAL_MB = 300.0  # peak RSS of `gtm serve` with a 100,000-record mirror
GOAL_KB_PER_RECORD = 0.5  # the mirror's marginal cost (100,000 records add ≤ 50 MB)
GOAL_MULTI_MB = 350.0  # 10 projects × 10,000 records in one process
GOAL_READY_S = 3.0  # `gtm serve` ready with 100,000 records in the store
GOAL_HELP_S = 0.3  # `gtm --help`
LARK_IMPORT_MB = 164.0  # what `import lark_oapi` alone adds (measured, see README)
# `gtm --help` in a fresh interpreter: prints its CPU seconds and whether lark_oapi got imported
HELP_PROBE = ("import sys, time\nfrom gtm.bot.cli.main import main\nsys.argv = ['gtm', '--help']\n"
              "try:\n    main()\nexcept SystemExit:\n    pass\n"
              "print(time.process_time(), 'lark_oapi' in sys.modules)")


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
    with store.session() as s:
        return int(s.execute(select(func.count()).select_from(MirrorRecord)
                             .where(MirrorRecord.project == slug)).scalar() or 0)


def _env(b: Bench, db_url: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update({"GTM_FEISHU_APP_ID": b.seed.app_id, "GTM_FEISHU_APP_SECRET": b.seed.app_secret,
                "GTM_FEISHU_DOMAIN": b.url, "GTM_DATABASE_URL": db_url, "GTM_LOG_LEVEL": "WARNING",
                "GTM_HTTP_PORT": "0", "PYTHONWARNINGS": "ignore"})
    return env


def proc_cpu_seconds(pid: int) -> float:
    """user + system CPU seconds a process has used so far (Linux /proc/<pid>/stat)."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return float("nan")


def load_average() -> str:
    try:
        return " ".join(open("/proc/loadavg").read().split()[:3])
    except OSError:
        return "?"


def fill_projects(b: Bench, db_url: str, plans: list[tuple[str, int, str]]) -> int:
    """Projects (slug, records, chat) in the sandbox, registered in a migrated store at `db_url`
    and mirrored into it by the product's full refresh (so `gtm serve` loads them from the store)."""
    store = open_store(db_url)
    u = b.seed.users
    owners = [u[k] for k in ("王芳", "刘洋", "陈静", "杨帆")]
    today = now_local().date()
    total = 0
    try:
        for slug, n, chat in plans:
            binding = b.make_base(f"{slug} 基准项目", slug, ("project", "milestone", "task"))
            b.load(binding, "project", [{"name": f"{slug} 基准项目", "pm": Person(open_id=u["pm"])}])
            b.load(binding, "task", task_rows(n - 1, owners, today, seed=9, prefix=f"{slug}-"))
            with store.session() as s:
                register_project(s, slug, f"{slug} 基准项目", "gtm", binding, chat_ids=[chat])
            rep = Mirror(store, b.fresh_gateway(), binding).refresh(now_local(), full=True)
            total += sum(t.total for t in rep.tables)
    finally:
        store.dispose()
    return total


def run_serve(b: Bench, db_url: str, chats: list[str], name: str, timeout: float = 240.0) -> dict[str, Any]:
    """`gtm serve` alone in a child over a filled store: time until ready (HTTP listening, mirrors
    loaded from the store, long connection up), then one @mention per chat; the child's peak RSS
    (VmHWM) at ready and after the answers, and its CPU seconds at ready."""

    ready = b.dir / f"{name}.ready"
    env = _env(b, db_url)
    env["GTM_SERVE_READY_FILE"] = str(ready)
    log_path = b.dir / f"{name}.log"
    log = open(log_path, "w")
    conns0 = b.call(sb_ws_connections, b.seed.app_id)
    t0 = time.monotonic()
    child = subprocess.Popen([sys.executable, "-m", "gtm.bot.cli.main", "serve"], env=env, cwd=str(b.dir),
                             stdout=log, stderr=subprocess.STDOUT, text=True)

    def failed(why: str) -> dict[str, Any]:
        log.flush()
        return {"error": f"{why}; serve log: {log_path.read_text(errors='replace')[-400:]}"}

    try:
        while not ready.exists() or b.call(sb_ws_connections, b.seed.app_id) <= conns0:
            if child.poll() is not None:
                return failed(f"serve exited with {child.returncode}")
            if time.monotonic() - t0 > 60:
                return failed("serve did not listen and connect within 60 s")
            time.sleep(0.02)
        out: dict[str, Any] = {"ready_s": time.monotonic() - t0, "ready_cpu_s": proc_cpu_seconds(child.pid),
                               "ready_kB": proc_status(child.pid).get("VmHWM", 0), "load": load_average()}
        before = {c: b.call(sb_bot_replies, c) for c in chats}
        for c in chats:
            b.call(sb_post, c, b.seed.users["王芳"], "状态")
        pending = set(chats)
        while pending and time.monotonic() - t0 < timeout:
            if child.poll() is not None:
                return failed(f"serve exited with {child.returncode}")
            pending = {c for c in pending if b.call(sb_bot_replies, c) <= before[c]}
            time.sleep(0.1)
        if pending:
            return failed(f"no answer in {len(pending)} of {len(chats)} groups within {timeout:.0f} s")
        time.sleep(1.0)  # let the answer's aftermath (metrics, ledger) settle before reading the peak
        st = proc_status(child.pid)
        out.update({"peak_kB": st.get("VmHWM", 0), "rss_kB": st.get("VmRSS", 0), "cpu_s": proc_cpu_seconds(child.pid)})
        return out
    finally:
        child.terminate()
        try:
            child.wait(15)
        except subprocess.TimeoutExpired:
            child.kill()
        log.close()


def scheduler_runs(db_url: str, slug: str) -> dict[str, float]:
    """What the scheduler's two rules runs add on top of a loaded plan, in MB at their peak
    (tracemalloc, this process): the periodic check (`urgent_only`: what cannot wait for the
    morning) and the morning digest job (the full run: every notice and cell write)."""
    store = open_store(db_url)
    try:
        with store.session() as s:
            row = s.execute(select(ProjectRow).where(ProjectRow.slug == slug)).scalar_one()
            binding = BaseBinding.from_row(row)
        now = now_local()
        snap = Mirror(store, None, binding).snapshot(now)
        out: dict[str, float] = {}
        for name, kw in (("check", {"urgent_only": True}), ("digest", {})):
            gc.collect()
            tracemalloc.start()
            try:
                base = tracemalloc.get_traced_memory()[0]
                result = run_checks(snap, now, Policy(), {}, **kw)
                out[name] = (tracemalloc.get_traced_memory()[1] - base) / 1e6
                out[f"{name}_notices"], out[f"{name}_writes"] = len(result.notices), len(result.writes)
                del result
            finally:
                tracemalloc.stop()
        return out
    finally:
        store.dispose()


def b7_memory(b: Bench, n: int, timeout: float = 240.0) -> Figure:
    """Peak RSS of `gtm serve` holding an n-record mirror, and the mirror's marginal bytes per record
    (against the same service over an empty store)."""
    fig = Figure("B7", f"内存 / peak RSS of `gtm serve` holding a {n:,}-record mirror",
                 f"VmHWM < {GOAL_MB:.0f} MB; marginal ≤ {GOAL_KB_PER_RECORD} KB per record")
    empty = run_serve(b, _migrated(b, "b7-empty.db"), [], "b7-empty", timeout)
    chat = b.seed.chat_id
    db_url = f"sqlite:///{b.dir / 'b7.db'}"
    loaded = fill_projects(b, db_url, [("b7", n, chat)])
    res = run_serve(b, db_url, [chat], "b7", timeout)
    for r in (empty, res):
        if "error" in r:
            fig.error = r["error"]
            fig.add("peak RSS", None, "MB", f"< {GOAL_MB:.0f} MB", None, False)
            return fig
    peak, base = res["peak_kB"] / 1024, empty["peak_kB"] / 1024
    # KB and MB as /proc counts them (1 KB = 1,024 bytes, 1 MB = 1,024 KB), so MB × 1,024 / records = KB
    per_record = (res["peak_kB"] - empty["peak_kB"]) / max(1, loaded)
    ready_per_record = (res["ready_kB"] - empty["peak_kB"]) / max(1, loaded)
    fig.add("peak RSS (serve)", round(peak, 1), "MB", f"< {GOAL_MB:.0f} MB", round(peak / GOAL_MB, 3), peak < GOAL_MB,
            extra={"VmRSS_MB": round(res["rss_kB"] / 1024, 1), "ready_peak_MB": round(res["ready_kB"] / 1024, 1),
                   "records": loaded, "load": res["load"]})
    fig.add("marginal per record", round(per_record, 3), "KB", f"≤ {GOAL_KB_PER_RECORD} KB",
            round(per_record / GOAL_KB_PER_RECORD, 3), per_record <= GOAL_KB_PER_RECORD,
            extra={"empty_peak_MB": round(base, 1), "ready_KB": round(ready_per_record, 3)})
    fig.notes.append(f"the same service over an empty store peaks at {base:.0f} MB (of which `import lark_oapi` "
                     f"≈ {LARK_IMPORT_MB:.0f} MB, see benchmarks/README.md); the {loaded:,} records add "
                     f"{peak - base:.0f} MB = {per_record:.2f} KB per record ({ready_per_record:.2f} KB at ready)")
    runs = scheduler_runs(db_url, "b7")
    for key, what in (("check", "periodic check (every 30 min)"), ("digest", "morning digest job")):
        fig.add(f"+ scheduler's {what}, rules peak", round(runs[key], 1), "MB", "—", None, None,
                extra={"notices": runs[f"{key}_notices"], "writes": runs[f"{key}_writes"]})
    fig.notes.append(f"the scheduler's rules runs (leader only; not in the peak above, which ends before the "
                     f"first): periodic check +{runs['check']:.0f} MB ({runs['check_notices']:.0f} notices, "
                     f"{runs['check_writes']:.0f} cell writes kept), morning digest job +{runs['digest']:.0f} MB "
                     f"({runs['digest_notices']:.0f} notices, {runs['digest_writes']:.0f} writes), at their peak "
                     f"over the loaded plan (tracemalloc in the benchmark process)")
    fig.notes.append(f"peak at ready (mirror loaded, before the index, the first rules run and question): {res['ready_kB'] / 1024:.0f} MB; "
                     f"after answering an @mention: {peak:.0f} MB (RSS now {res['rss_kB'] / 1024:.0f} MB); "
                     f"load average {res['load']}")
    return fig


def _migrated(b: Bench, name: str) -> str:
    """A migrated, empty store file (what `gtm serve` expects); its URL."""
    url = f"sqlite:///{b.dir / name}"
    open_store(url).dispose()
    return url


def b9_startup(b: Bench, n: int, timeout: float = 240.0, reuse: str | None = None) -> Figure:
    """`gtm serve` ready with an n-record mirror in the store, and `gtm --help`. `reuse`: a store
    file B7 already filled with n records (saves the minute of loading them again)."""
    fig = Figure("B9", f"启动 / `gtm serve` ready with {n:,} records in the store; `gtm --help`",
                 f"serve ready < {GOAL_READY_S:.0f} s; --help < {GOAL_HELP_S} s without importing lark_oapi")
    name = reuse if reuse and (b.dir / reuse).exists() else "b9.db"
    db_url = f"sqlite:///{b.dir / name}"
    if not (b.dir / name).exists():
        fill_projects(b, db_url, [("b9", n, b.seed.chat_id)])
    res = run_serve(b, db_url, [b.seed.chat_id], "b9", timeout)
    if "error" in res:
        fig.error = res["error"]
        fig.add("serve ready", None, "s", f"< {GOAL_READY_S:.0f} s", None, False)
    else:
        ready = res["ready_s"]
        fig.add("serve ready (wall)", round(ready, 2), "s", f"< {GOAL_READY_S:.0f} s", round(ready / GOAL_READY_S, 3),
                ready < GOAL_READY_S, extra={"cpu_s": round(res["ready_cpu_s"], 2), "load": res["load"]})
        fig.add("serve ready (CPU of the process)", round(res["ready_cpu_s"], 2), "s", "—")
        fig.notes.append(f"ready = HTTP listening, mirror loaded from the store (not Feishu), long connection up; "
                         f"load average {res['load']} (2 cores; wall time is inflated under load, CPU time is not)")
    walls, cpus, imported = [], [], []
    for _ in range(5):
        t0 = time.perf_counter()
        r = subprocess.run([sys.executable, "-c", HELP_PROBE], capture_output=True, text=True, timeout=60)
        walls.append(time.perf_counter() - t0)
        line = (r.stdout.strip().splitlines() or ["nan False"])[-1].split()
        cpus.append(float(line[0]))
        imported.append(line[1] == "True")
    wall = sorted(walls)[len(walls) // 2]
    fig.add("gtm --help (wall, median of 5)", round(wall, 3), "s", f"< {GOAL_HELP_S} s", round(wall / GOAL_HELP_S, 3),
            wall < GOAL_HELP_S and not any(imported), extra={"cpu_s": sorted(cpus)[len(cpus) // 2],
                                                             "imports_lark_oapi": any(imported)})
    fig.notes.append(f"gtm --help: {'imports' if any(imported) else 'does not import'} lark_oapi; "
                     f"CPU {sorted(cpus)[len(cpus) // 2]:.3f} s (interpreter start included)")
    return fig


def b10_projects(b: Bench, n_projects: int, n: int, timeout: float = 300.0) -> Figure:
    """Peak RSS of one `gtm serve` holding n_projects projects of n records each."""
    fig = Figure("B10", f"多项目 / peak RSS of one `gtm serve` with {n_projects} projects × {n:,} records",
                 f"VmHWM < {GOAL_MULTI_MB:.0f} MB")
    chats = b.call(sb_add_chats, n_projects, "b10")
    db_url = f"sqlite:///{b.dir / 'b10.db'}"
    loaded = fill_projects(b, db_url, [(f"p{i:02d}", n, chats[i]) for i in range(n_projects)])
    res = run_serve(b, db_url, chats, "b10", timeout)
    if "error" in res:
        fig.error = res["error"]
        fig.add("peak RSS", None, "MB", f"< {GOAL_MULTI_MB:.0f} MB", None, False)
        return fig
    peak = res["peak_kB"] / 1024
    fig.add("peak RSS (serve)", round(peak, 1), "MB", f"< {GOAL_MULTI_MB:.0f} MB", round(peak / GOAL_MULTI_MB, 3),
            peak < GOAL_MULTI_MB, extra={"records": loaded, "ready_peak_MB": round(res["ready_kB"] / 1024, 1),
                                         "ready_s": round(res["ready_s"], 2),
                                         "ready_cpu_s": round(res["ready_cpu_s"], 2), "load": res["load"]})
    fig.notes.append(f"{n_projects} projects, {loaded:,} records in the store; ready after {res['ready_s']:.1f} s "
                     f"({res['ready_cpu_s']:.1f} s CPU), one @mention answered in each project's group; "
                     f"peak at ready {res['ready_kB'] / 1024:.0f} MB, after the answers {peak:.0f} MB; "
                     f"load average {res['load']}")
    return fig

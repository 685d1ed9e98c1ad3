"""What every benchmark shares: the figure/line shapes, a sandbox + gateway + store bench, fast
record loading through `sb.bitable`, and row generators.

Why a bench object: each figure measures the product's own code (Gateway, Reader, Mirror,
write-back, rules, report, Dispatcher over the long connection) against a real sandbox over HTTP
with Feishu's documented rate limits on (`SandboxConfig(rate_limits=True)`, docs/feishu-api.md §5.1).
Only the *setup* takes shortcuts: records are put into the sandbox through its Python API
(`sb.bitable`), not the Open API, so a 100,000-record table takes seconds, not minutes.
"""
from __future__ import annotations

import cProfile
import io
import math
import pstats
import random
import shutil
import tempfile
import time
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, Callable, Iterable
from zoneinfo import ZoneInfo

from gtm.benchmarks.sandbox_side import SandboxProcess, sb_clock, sb_limited, sb_load
from gtm.schemas.fields import Kind
from gtm.schemas.plan import Person
from gtm.schemas.tables import PLAN_TABLES
from gtm.sync.binding import BaseBinding
from gtm.sync.feishu.gateway import Gateway
from gtm.sync.records import encode_fields
from gtm.sync.store.open import load_models, open_store

TZ = ZoneInfo("Asia/Shanghai")
SEARCH_RATE = 20.0  # search / batch_get per second per app (docs/feishu-api.md §5.1)
WRITE_RATE = 50.0  # batch_update per second per app (§5.1)
PAGE = 500  # search page size maximum (§2.2)
BATCH_LIMIT = 500  # batch_update records per call as the product chunks (§2.2, Settings.batch_limit)
BOT_TABLES = ("project", "milestone", "deliverable", "task", "issue")


# -- results ------------------------------------------------------------------------------------
@dataclass
class Line:
    """One measured number with its goal; `ratio` is measured/goal oriented so that the goal reads
    as stated (e.g. calls/min calls = 1.00, or bound/actual for throughput shares)."""

    label: str
    value: float | int | None
    unit: str = ""
    goal: str = ""
    ratio: float | None = None
    ok: bool | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def shown(self) -> str:
        v = self.value
        if v is None:
            return "n/a"
        if isinstance(v, float):
            v = f"{v:,.3f}" if abs(v) < 100 else f"{v:,.1f}"
        else:
            v = f"{v:,}"
        return f"{v} {self.unit}".strip()


@dataclass
class Figure:
    key: str
    title: str
    goal: str
    lines: list[Line] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0  # how long the figure took to run (setup included)
    error: str = ""
    profile: list[str] = field(default_factory=list)

    def add(self, *a: Any, **kw: Any) -> Line:
        ln = Line(*a, **kw)
        self.lines.append(ln)
        return ln

    @property
    def ok(self) -> bool | None:
        marks = [ln.ok for ln in self.lines if ln.ok is not None]
        if self.error:
            return False
        return all(marks) if marks else None

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["ok"] = self.ok
        return d


def ratio(a: float, b: float) -> float | None:
    return round(a / b, 3) if b else None


def min_calls(n: int, per_call: int = PAGE) -> int:
    """The fewest calls that can move n records (one for an empty read)."""
    return max(1, math.ceil(n / per_call))


class Stopwatch:
    def __enter__(self) -> "Stopwatch":
        self.t0, self.c0 = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.wall = time.perf_counter() - self.t0
        self.cpu = time.process_time() - self.c0


def profile_top(fn: Callable[[], Any], limit: int = 8) -> tuple[Any, list[str]]:
    """Run `fn` under cProfile (main thread only); return its result and the top lines by own time."""
    prof = cProfile.Profile()
    result = prof.runcall(fn)
    out = io.StringIO()
    st = pstats.Stats(prof, stream=out)
    st.sort_stats("tottime")
    rows = []
    for (file, line, name), (cc, nc, tt, ct, _) in sorted(st.stats.items(), key=lambda kv: -kv[1][2])[:limit]:
        short = "/".join(Path(file).parts[-2:]) if file != "~" else ""
        rows.append(f"{tt:7.3f}s own {ct:7.3f}s cum {nc:>8} calls  {short}:{line} {name}")
    return result, rows


# -- the bench: sandbox process + gateway + store --------------------------------------------------
class Bench:
    """A rate-limited sandbox (own process, free port), the product gateway pointed at it, and a
    SQLite store in a temporary folder."""

    def __init__(self, *, rate_limits: bool = True, batch_limit: int = 1000, state_dir: str | None = None,
                 **config: Any) -> None:
        self.dir = Path(state_dir or tempfile.mkdtemp(prefix="gtm-bench-"))
        self._own_dir = state_dir is None
        self.sbp = SandboxProcess(rate_limits=rate_limits, batch_limit=batch_limit, **config)
        self.url, self.seed = self.sbp.url, self.sbp.seed
        self.gw = self.fresh_gateway()
        self.store = self.open_store("bench.db")

    def call(self, fn: Callable[..., Any], *args: Any, **kw: Any) -> Any:
        return self.sbp.call(fn, *args, **kw)

    def open_store(self, name: str):
        st = open_store(f"sqlite:///{self.dir / name}", migrate=False)
        load_models().create_all(st.engine)
        return st

    def fresh_gateway(self):
        """A product gateway (real limiter, real sleeps) with its own counters."""
        return Gateway(self.seed.app_id, self.seed.app_secret, self.url, timeout=60)

    def close(self) -> None:
        try:
            self.store.dispose()
        finally:
            self.sbp.stop()
            if self._own_dir:
                shutil.rmtree(self.dir, ignore_errors=True)

    # -- counters of the server side --------------------------------------------------------
    def limited(self) -> int:
        """429s the sandbox answered so far (all families)."""
        return sum(self.call(sb_limited).values())

    def clock_ms(self) -> int:
        return self.call(sb_clock)

    # -- setup ------------------------------------------------------------------------------
    def make_base(self, name: str, slug: str, keys: Iterable[str]):
        """A Base with the given plan tables, created through the SDK (self links and links to
        tables not created are left out: the benchmarks do not need them)."""
        return plan_base(self.gw, name, slug, keys)

    def load(self, binding, key: str, rows: list[dict[str, Any]], *, by: str | None = None,
             modified: list[int] | None = None) -> list[str]:
        """Put rows (attr → domain value) into the sandbox through `sb.bitable`: encoded by the
        product codec (write format), stored by the sandbox's own converter. Not via the Open API."""
        spec = PLAN_TABLES[key]
        encoded = [encode_fields(spec, r, TZ, binding) for r in rows]
        ids: list[str] = []
        step = 20_000
        for i in range(0, len(encoded), step):
            ids += self.call(sb_load, binding.app_token, binding.table_id(key), encoded[i:i + step],
                             by or self.seed.users["pm"], modified[i:i + step] if modified else None)
        return ids


def plan_base(gw: Gateway, name: str, slug: str, keys: Iterable[str]) -> BaseBinding:
    """A new Base with the given plan tables, created through the gateway (self links and links to
    tables not created are left out: the benchmarks do not need them)."""
    app = gw.bitable.create_app(name, "Asia/Shanghai")
    b = BaseBinding(slug=slug, app_token=app.app_token, timezone="Asia/Shanghai")
    for key in keys:
        spec = PLAN_TABLES[key]
        fields = [f for f in spec.fields
                  if not (f.kind is Kind.LINK and (f.link_table == key or f.link_table not in b.table_ids))]
        b.table_ids[key] = gw.bitable.create_table(
            b.app_token, spec.name, [f.create_body(b.table_ids) for f in fields]).table_id
    return b


# -- rows ---------------------------------------------------------------------------------------
TASK_STATUS = ["未开始", "进行中", "进行中", "已完成", "已完成", "延期", "阻塞"]


def task_rows(n: int, owners: list[str], today: date, *, seed: int = 11,
              milestones: list[str] | None = None, prefix: str = "T") -> list[dict[str, Any]]:
    """n plausible task rows (owners by open_id; a mix of statuses and due dates around `today`)."""
    rnd = random.Random(seed)
    people = [Person(open_id=o) for o in owners]
    rows = []
    for i in range(n):
        end = today + timedelta(days=rnd.randint(-30, 60))
        status = rnd.choice(TASK_STATUS)
        row: dict[str, Any] = {
            "task_id": f"{prefix}{i:06d}", "name": f"任务{i} 准备发布材料与渠道沟通",
            "owner": rnd.choice(people), "planned_start": end - timedelta(days=rnd.randint(1, 10)),
            "planned_end": end, "status": status, "progress": round(rnd.random(), 2),
            "note": "按计划推进" if rnd.random() < 0.3 else None,
        }
        if status == "已完成":
            row["actual_end"] = end + timedelta(days=rnd.randint(-3, 3))
            row["progress"] = 1.0
        if milestones:
            row["milestone"] = [rnd.choice(milestones)]
        rows.append({k: v for k, v in row.items() if v is not None})
    return rows


def spread_modified(n: int, now_ms: int, days: int = 30, seed: int = 5) -> list[int]:
    """Modified times spread over the last `days` days, up to one hour ago (a plan edited over weeks)."""
    rnd = random.Random(seed)
    return [now_ms - 3_600_000 - rnd.randint(0, days * 86_400_000) for _ in range(n)]


def now_local() -> datetime:
    return datetime.now(TZ)

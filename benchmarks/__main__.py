"""`python -m gtm.benchmarks [--quick] [--only B1,B4] [--json PATH] [--profile]` (also `make bench`);
`python -m gtm.benchmarks faults` runs the fault-injection table instead (`gtm.benchmarks.faults`).

Runs the figures against the real code paths (see benchmarks/README.md), prints one table
(figure, measure, value, goal, ratio, ok) plus notes, and writes the results as JSON
(default benchmarks/results/latest.json).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
import traceback
import unicodedata
import warnings
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

from gtm.benchmarks import faults
from gtm.benchmarks.bench_bot import b5_mentions
from gtm.benchmarks.bench_edit import b13_edit
from gtm.benchmarks.bench_memory import b7_memory, b9_startup, b10_projects
from gtm.benchmarks.bench_replicas import b11_replicas
from gtm.benchmarks.bench_rules import b4_rules, b6_report
from gtm.benchmarks.bench_schedule import b12_schedule
from gtm.benchmarks.bench_sync import SyncFixture, b1_full_read, b2_write_back, b3_incremental, b8_sustained
from gtm.benchmarks.common import Bench, Figure

# relative to the working directory: an installed package must not write into site-packages
RESULTS = Path("benchmarks") / "results" / "latest.json"
ALL = ("B1", "B2", "B3", "B4", "B5", "B6", "B7", "B8", "B9", "B10", "B11", "B12", "B13")


@dataclass
class Sizes:
    b1: tuple[int, ...] = (10_000, 50_000)
    b2_ks: tuple[int, ...] = (1_200, 10_000)
    b2_table: int = 10_000
    b3_n: int = 50_000
    b3_k: int = 10
    b4: int = 100_000
    b5_tasks: int = 10_000
    b5_askers: int = 20
    b5_rounds: int = 26  # 20 askers × 26 rounds = 520 answers (p99 needs ≥ 500)
    b6_tasks: int = 10_000
    b7: int = 100_000
    b8_seconds: float = 20.0
    b8_tables: int = 4
    b8_table: int = 10_000
    b9: int = 100_000
    b10_projects: int = 10
    b10: int = 10_000
    b11_replicas: tuple[int, ...] = (2, 3)
    b11_seconds: float = 5.0
    b12_tasks: int = 10_000
    b12_links: int = 20_000
    b13: int = 100_000
    b13_edits: int = 5


QUICK = Sizes(b1=(600, 1_200), b2_ks=(120, 600), b2_table=1_200, b3_n=1_500, b3_k=3, b4=2_000, b5_tasks=300,
              b5_askers=3, b5_rounds=1, b6_tasks=500, b7=2_000, b8_seconds=2.0, b8_tables=2, b8_table=1_000,
              b9=2_000, b10_projects=2, b10=500, b11_replicas=(2,), b11_seconds=1.5,
              b12_tasks=1_000, b12_links=2_000, b13=2_000, b13_edits=3)


class Runner:
    """Runs the selected figures, sharing one sync bench between B1/B2/B3/B8."""

    def __init__(self, sizes: Sizes, profile: bool, echo: Callable[[str], None]) -> None:
        self.s, self.profile, self.echo = sizes, profile, echo
        self._sync: Any = None
        self._benches: list[Bench] = []
        self.b1_full: dict[int, dict[str, Any]] = {}

    def bench(self) -> Bench:
        """One sandbox for every figure: lark-oapi keeps tenant tokens in one process-wide cache
        keyed by app id (`Client.builder().cache()` replaces `TokenManager.cache`), so gateways of
        the same app against two sandboxes would hand each other's tokens around."""
        if not self._benches:
            self._benches.append(Bench(rate_limits=True))
        return self._benches[0]

    def sync(self):
        if self._sync is None:
            self._sync = SyncFixture(self.bench())
        return self._sync

    def close(self) -> None:
        for b in self._benches:
            try:
                b.close()
            except Exception:  # noqa: BLE001 - closing must not hide the results
                pass

    def run(self, key: str) -> Figure:
        t0 = time.perf_counter()
        try:
            fig = getattr(self, key.lower())()
        except Exception as exc:  # noqa: BLE001 - report the failure, carry on with the others
            fig = Figure(key, key, "", error=f"{exc.__class__.__name__}: {exc}")
            fig.notes.append(traceback.format_exc(limit=6))
        fig.seconds = round(time.perf_counter() - t0, 1)
        return fig

    # -- the figures -----------------------------------------------------------------------------
    def b1(self) -> Figure:
        return b1_full_read(self.sync(), list(self.s.b1), self.profile)

    def b2(self) -> Figure:
        return b2_write_back(self.sync(), list(self.s.b2_ks), self.s.b2_table, self.profile)

    def b3(self) -> Figure:
        return b3_incremental(self.sync(), self.s.b3_n, self.s.b3_k, None, self.profile)

    def b4(self) -> Figure:
        return b4_rules(self.s.b4, self.profile)

    def b5(self) -> Figure:
        return b5_mentions(self.bench(), self.s.b5_tasks, self.s.b5_askers, self.s.b5_rounds, self.profile)

    def b6(self) -> Figure:
        return b6_report(self.s.b6_tasks, profile=self.profile)

    def b7(self) -> Figure:
        return b7_memory(self.bench(), self.s.b7)

    def b8(self) -> Figure:
        return b8_sustained(self.sync(), self.s.b8_seconds, self.s.b8_tables, self.s.b8_table)

    def b9(self) -> Figure:
        return b9_startup(self.bench(), self.s.b9, reuse="b7.db" if self.s.b9 == self.s.b7 else None)

    def b10(self) -> Figure:
        return b10_projects(self.bench(), self.s.b10_projects, self.s.b10)

    def b11(self) -> Figure:
        return b11_replicas(self.s.b11_replicas, self.s.b11_seconds)

    def b12(self) -> Figure:
        return b12_schedule(self.s.b12_tasks, self.s.b12_links, profile=self.profile)

    def b13(self) -> Figure:
        return b13_edit(self.bench(), self.s.b13, self.s.b13_edits,
                        reuse=("b7.db", "b7") if self.s.b13 == self.s.b7 else None)


# -- output ------------------------------------------------------------------------------------------
def _ok(v: bool | None) -> str:
    return "—" if v is None else ("OK" if v else "MISS")


def render(figs: list[Figure]) -> str:
    rows = [("fig", "measure", "value", "goal", "ratio", "ok")]
    for f in figs:
        if f.error and not f.lines:
            rows.append((f.key, "ERROR", f.error[:60], f.goal[:40], "", "MISS"))
        for ln in f.lines:
            rows.append((f.key, ln.label, ln.shown(), ln.goal, "" if ln.ratio is None else f"{ln.ratio:.2f}", _ok(ln.ok)))
    widths = [max(_w(r[i]) for r in rows) for i in range(len(rows[0]))]
    out = []
    for n, r in enumerate(rows):
        out.append("  ".join(_pad(c, widths[i], right=i in (2, 4)) for i, c in enumerate(r)).rstrip())
        if n == 0:
            out.append("  ".join("-" * w for w in widths))
    out.append("")
    for f in figs:
        out.append(f"{f.key} {f.title} — goal: {f.goal} [ran {f.seconds:.1f} s]")
        for note in f.notes:
            out.append(f"    {note.rstrip()}")
        if f.error:
            out.append(f"    ERROR: {f.error}")
        for p in f.profile:
            out.append(f"    profile: {p}")
    return "\n".join(out)


def _w(s: str) -> int:
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in s)


def _pad(s: str, w: int, right: bool = False) -> str:
    gap = " " * (w - _w(s))
    return gap + s if right else s + gap


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["faults"]:  # the fault-injection run (benchmarks/README.md)
        return faults.main(argv[1:])
    ap = argparse.ArgumentParser(prog="python -m gtm.benchmarks", description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small N (seconds; the smoke test uses it)")
    ap.add_argument("--only", default="", help="comma-separated figures, e.g. B1,B4")
    ap.add_argument("--json", default=str(RESULTS), help=f"where to write the results (default {RESULTS})")
    ap.add_argument("--profile", action="store_true", help="cProfile the measured part (main thread) of B1–B4, B6")
    args = ap.parse_args(argv)
    warnings.filterwarnings("ignore")
    keys = [k.strip().upper() for k in args.only.split(",") if k.strip()] or list(ALL)
    unknown = [k for k in keys if k not in ALL]
    if unknown:
        ap.error(f"unknown figure(s) {', '.join(unknown)}; choose from {', '.join(ALL)}")
    sizes = QUICK if args.quick else Sizes()
    runner = Runner(sizes, args.profile, echo=lambda s: print(s, file=sys.stderr, flush=True))
    figs: list[Figure] = []
    started = datetime.now(timezone.utc)
    t0 = time.perf_counter()
    try:
        for k in keys:
            print(f"… {k}", file=sys.stderr, flush=True)
            fig = runner.run(k)
            figs.append(fig)
            print(f"  {k} done in {fig.seconds:.1f} s" + (f" (error: {fig.error})" if fig.error else ""),
                  file=sys.stderr, flush=True)
    finally:
        runner.close()
    total = time.perf_counter() - t0
    print(render(figs))
    print(f"\ntotal {total:.1f} s on {os.cpu_count()} CPU(s), Python {platform.python_version()}"
          + (" (quick)" if args.quick else ""))
    doc = {"started": started.isoformat(), "seconds": round(total, 1), "quick": args.quick,
           "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
           "sizes": sizes.__dict__, "figures": [f.to_json() for f in figs]}
    path = Path(args.json)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc, ensure_ascii=False, indent=2, default=str), encoding="utf-8")
    print(f"results written to {path}")
    return 1 if any(f.error for f in figs) else 0


if __name__ == "__main__":
    sys.exit(main())

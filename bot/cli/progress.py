"""Progress for long CLI steps (`gtm init`, `gtm sync --full`): a Rich bar on a terminal; when
the output is a pipe or a log, one line per tenth of the work on stderr, so a person watching a
CI log still sees it move."""
from __future__ import annotations

import sys
from contextlib import contextmanager
from typing import Callable, Iterator, TextIO

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

Step = Callable[[str, int, int], None]  # (what is happening, done, total)


@contextmanager
def step_progress(console: Console, title: str, *, enabled: bool = True,
                  stream: TextIO | None = None) -> Iterator[Step]:
    """Yield a `step(label, done, total)` callback that shows progress while the block runs."""
    if not enabled:
        yield lambda label, done, total: None
        return
    if console.is_terminal:
        with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                      console=console, transient=True) as bar:
            task = bar.add_task(escape(title), total=None)

            def update(label: str, done: int, total: int) -> None:
                bar.update(task, description=escape(f"{title}: {label}"[:70]), completed=done, total=total)

            yield update
        return
    out = stream or sys.stderr
    shown = {"tenth": -1}

    def line(label: str, done: int, total: int) -> None:
        tenth = (10 * done) // total if total else 0
        if tenth > shown["tenth"]:
            shown["tenth"] = tenth
            print(f"{title}: {done}/{total} {label}", file=out, flush=True)

    yield line

"""Run a piece of work on several threads at once (replicas, racing processes) and collect what
they raised, so the test asserts on it in its own thread."""
from __future__ import annotations

import threading
from typing import Callable


def run_together(work: Callable[[int], object], n: int, timeout: float = 60.0) -> list[BaseException]:
    """`work(0)` … `work(n - 1)`, each on a thread of its own, all started before any is waited
    for; the exceptions they raised (empty when none did)."""
    errors: list[BaseException] = []

    def run(i: int) -> None:
        try:
            work(i)
        except BaseException as exc:  # noqa: BLE001 - returned to the test
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout)
    return errors

"""How `gtm serve` keeps its memory: the collector's start-up thresholds and the malloc arenas."""
from __future__ import annotations

import gc
import platform

import pytest

from gtm.bot import startup_gc
from gtm.bot.service.malloc import cap_malloc_arenas


def test_start_up_thresholds_are_set_then_given_back():
    before = gc.get_threshold()
    startup_gc.relax()
    try:
        assert gc.get_threshold() == startup_gc.START_THRESHOLDS and gc.isenabled()
    finally:
        startup_gc.restore()
    assert gc.get_threshold() == before
    startup_gc.restore()  # a second restore (the CLI's, after the service's) changes nothing
    assert gc.get_threshold() == before and gc.isenabled()


def test_start_up_thresholds_free_the_imports_garbage_as_they_go():
    """Reference cycles made during start-up are collected by the rare passes, not kept until
    the first full collection (what turning the collector off did)."""
    class Node:
        def __init__(self) -> None:
            self.me = self

    startup_gc.relax()
    try:
        gc.collect()
        for _ in range(200_000):
            Node()  # garbage in a cycle each
        left = sum(1 for o in gc.get_objects(generation=0) if type(o) is Node)
    finally:
        startup_gc.restore()
    assert left < startup_gc.START_THRESHOLDS[0]  # not 200,000: passes ran


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="malloc arenas are a glibc setting")
def test_malloc_arenas_are_capped_on_glibc(monkeypatch):
    monkeypatch.delenv("MALLOC_ARENA_MAX", raising=False)
    assert cap_malloc_arenas() is True


def test_an_operators_malloc_arena_max_wins(monkeypatch):
    monkeypatch.setenv("MALLOC_ARENA_MAX", "4")
    assert cap_malloc_arenas() is False

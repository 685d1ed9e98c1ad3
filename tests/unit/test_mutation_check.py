"""tools/mutation_check.py: the mutants it makes and that it always puts the file back."""
from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

import pytest

_PATH = Path(__file__).resolve().parents[2] / "tools" / "mutation_check.py"
_spec = importlib.util.spec_from_file_location("mutation_check", _PATH)
mc = importlib.util.module_from_spec(_spec)
sys.modules["mutation_check"] = mc
_spec.loader.exec_module(mc)


def test_targets_exist_and_their_tests_too():
    for path, tests in mc.TARGETS.items():
        assert (mc.ROOT / path).is_file(), path
        assert all((mc.ROOT / t).exists() for t in tests), (path, tests)
    assert {"bot/checks/send_once.py", "bot/chat/actions.py", "bot/chat/transports/webhook.py"} <= set(mc.TARGETS)
    assert any(p.startswith("bot/rules/") for p in mc.TARGETS)


def test_mutants_include_the_guards_that_matter():
    source = (mc.ROOT / "bot/chat/transports/webhook.py").read_text(encoding="utf-8")
    lines = {m.describe(source) for m in mc.mutants_of("bot/chat/transports/webhook.py")}
    assert "if age >= self.max_skew:" in lines
    assert "if False:" in lines  # e.g. the signature check switched off
    source = (mc.ROOT / "bot/chat/actions.py").read_text(encoding="utf-8")
    mutants = mc.mutants_of("bot/chat/actions.py")
    assert "pass" in {m.describe(source) for m in mutants if m.kind == "drop-call"}
    for m in mutants:  # each mutant changes exactly one line and still parses
        new = m.apply(source).splitlines()
        old = source.splitlines()
        assert len(new) == len(old) and sum(a != b for a, b in zip(new, old)) == 1


def test_in_place_puts_content_and_mtime_back_even_on_error(tmp_path):
    target = tmp_path / "mod.py"
    target.write_text("x = 1\n", encoding="utf-8")
    os.utime(target, (1_700_000_000, 1_700_000_000))
    with pytest.raises(RuntimeError):
        with mc.InPlace(target) as spot:
            spot.write("x = 2\n")
            assert target.read_text(encoding="utf-8") == "x = 2\n"
            raise RuntimeError("test run blew up")
    assert target.read_text(encoding="utf-8") == "x = 1\n"
    assert int(target.stat().st_mtime) == 1_700_000_000
    assert not list(tmp_path.glob("*" + mc.BACKUP_SUFFIX))

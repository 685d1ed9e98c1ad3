"""On-demand mutation check: make one-line breaks in the code that guards people's data and
permissions, run the tests that should notice, and list the breaks nobody noticed (survivors).

    .venv/bin/python tools/mutation_check.py                       # all default targets
    .venv/bin/python tools/mutation_check.py bot/chat/actions.py --max 20
    .venv/bin/python tools/mutation_check.py --list                # print the mutants, run nothing

Each mutant edits the file in place (the editable install imports it from the worktree), runs
`pytest -x` over the tests mapped to that file (`--tests` to override, e.g. `--tests tests` for the
whole suite), and puts the original back — also on Ctrl-C; a backup left by a killed run is restored
at the next start. Child runs write no bytecode, so a mutant is never served from a stale .pyc.
Exit status: 0 when every mutant was killed, 1 when some survived, 2 on a usage/baseline error.

Mutations (one per line and node, single-line nodes only): comparison flips (> ↔ >=, < ↔ <=,
== ↔ !=, in ↔ not in, is ↔ is not), and ↔ or, `not x` → `x`, an `if` condition → True / False,
an integer constant n → n + 1, + ↔ -, and a call statement → `pass`.
"""
from __future__ import annotations

import argparse
import ast
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BACKUP_SUFFIX = ".mutation-backup"

RULE_TESTS = ["tests/bot/rules", "tests/bot/chat/test_escalation_shown.py", "tests/bot/checks/test_report.py",
              "tests/bot/cards/test_cards.py"]
TARGETS: dict[str, list[str]] = {
    **{f"bot/rules/{p.name}": RULE_TESTS for p in sorted((ROOT / "bot" / "rules").glob("*.py"))},
    "bot/checks/send_once.py": ["tests/sync/store/test_ledger.py"],
    "bot/chat/actions.py": ["tests/e2e/test_actions_e2e.py", "tests/e2e/test_click_guards_e2e.py"],
    "bot/chat/action_effects.py": ["tests/e2e/test_actions_e2e.py", "tests/e2e/test_click_guards_e2e.py"],
    "bot/chat/permissions.py": ["tests/e2e/test_ownership_e2e.py", "tests/e2e/test_click_guards_e2e.py"],
    "bot/chat/transports/webhook.py": ["tests/bot/chat/test_webhook_guard.py", "tests/e2e/test_webhook_e2e.py"],
}

_COMPARE_FLIP: dict[type, type] = {ast.Gt: ast.GtE, ast.GtE: ast.Gt, ast.Lt: ast.LtE, ast.LtE: ast.Lt,
                                   ast.Eq: ast.NotEq, ast.NotEq: ast.Eq, ast.In: ast.NotIn,
                                   ast.NotIn: ast.In, ast.Is: ast.IsNot, ast.IsNot: ast.Is}


@dataclass(frozen=True)
class Mutant:
    path: str
    line: int
    col: int
    end_col: int
    replacement: str
    kind: str

    def apply(self, source: str) -> str:
        lines = source.splitlines(keepends=True)
        text = lines[self.line - 1]
        lines[self.line - 1] = text[:self.col] + self.replacement + text[self.end_col:]
        return "".join(lines)

    def describe(self, source: str) -> str:
        return self.apply(source).splitlines()[self.line - 1].strip()


def _col(text: str, byte_offset: int) -> int:
    """ast offsets count UTF-8 bytes; the source line is a str."""
    return len(text.encode("utf-8")[:byte_offset].decode("utf-8"))


def _node_mutants(node: ast.AST) -> list[tuple[ast.AST, str, str]]:
    """(node whose span is replaced, replacement text, kind)."""
    out: list[tuple[ast.AST, str, str]] = []
    if isinstance(node, ast.Compare):
        for i, op in enumerate(node.ops):
            flip = _COMPARE_FLIP.get(type(op))
            if flip is not None:
                ops = list(node.ops)
                ops[i] = flip()
                out.append((node, ast.unparse(ast.Compare(node.left, ops, node.comparators)), "compare"))
    elif isinstance(node, ast.BoolOp):
        other = ast.Or() if isinstance(node.op, ast.And) else ast.And()
        out.append((node, ast.unparse(ast.BoolOp(other, node.values)), "boolop"))
    elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
        out.append((node, "(" + ast.unparse(node.operand) + ")", "not"))
    elif isinstance(node, ast.If):
        out.append((node.test, "True", "if-true"))
        out.append((node.test, "False", "if-false"))
    elif isinstance(node, ast.Constant) and type(node.value) is int:
        out.append((node, str(node.value + 1), "number"))
    elif isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Add, ast.Sub)):
        other = ast.Sub() if isinstance(node.op, ast.Add) else ast.Add()
        out.append((node, "(" + ast.unparse(ast.BinOp(node.left, other, node.right)) + ")", "arith"))
    elif isinstance(node, ast.Expr) and isinstance(node.value, ast.Call):
        out.append((node, "pass", "drop-call"))
    return out


def mutants_of(path: str) -> list[Mutant]:
    source = (ROOT / path).read_text(encoding="utf-8")
    tree = ast.parse(source)
    lines = source.splitlines()
    docstrings = {id(n.body[0].value) for n in ast.walk(tree)
                  if isinstance(n, (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
                  and n.body and isinstance(n.body[0], ast.Expr) and isinstance(n.body[0].value, ast.Constant)}
    found: list[Mutant] = []
    for node in ast.walk(tree):
        if id(node) in docstrings:
            continue
        for span, text, kind in _node_mutants(node):
            if span.lineno != span.end_lineno:
                continue  # single-line nodes only: the splice stays simple and readable
            line = lines[span.lineno - 1]
            m = Mutant(path, span.lineno, _col(line, span.col_offset), _col(line, span.end_col_offset), text, kind)
            try:
                ast.parse(m.apply(source))
            except SyntaxError:
                continue
            if m.apply(source) != source:
                found.append(m)
    return sorted(set(found), key=lambda m: (m.line, m.col, m.kind, m.replacement))


def run_tests(tests: list[str], timeout: float | None) -> bool:
    """True when the tests pass (the mutant survived)."""
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    cmd = [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", *tests]
    try:
        proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return False  # a hang is noticed too
    return proc.returncode == 0


class InPlace:
    """Write a mutant over the file; always put the original (content and mtime) back."""

    def __init__(self, path: Path) -> None:
        self.path, self.backup = path, path.with_name(path.name + BACKUP_SUFFIX)

    def __enter__(self) -> "InPlace":
        shutil.copy2(self.path, self.backup)
        return self

    def write(self, text: str) -> None:
        self.path.write_text(text, encoding="utf-8")

    def __exit__(self, *exc: object) -> None:
        shutil.copy2(self.backup, self.path)
        self.backup.unlink()


def restore_leftovers() -> None:
    for backup in ROOT.rglob("*" + BACKUP_SUFFIX):
        original = backup.with_name(backup.name[:-len(BACKUP_SUFFIX)])
        shutil.copy2(backup, original)
        backup.unlink()
        print(f"restored {original.relative_to(ROOT)} from a backup left by an interrupted run")


def _interrupt(*_: object) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("files", nargs="*", help="files to mutate (default: all targets)")
    ap.add_argument("--tests", nargs="+", help="tests to run for every mutant (default: the file's mapped tests)")
    ap.add_argument("--max", type=int, default=0, help="at most N mutants per file, sampled with --seed")
    ap.add_argument("--seed", type=int, default=23)
    ap.add_argument("--budget", type=float, default=0, help="stop starting mutants after this many minutes")
    ap.add_argument("--timeout", type=float, default=0,
                    help="seconds per test run; a hang counts as killed (default: 3 × the baseline run + 30 s)")
    ap.add_argument("--list", action="store_true", help="print the mutants and exit")
    args = ap.parse_args(argv)

    restore_leftovers()
    files = args.files or list(TARGETS)
    unknown = [f for f in files if not (ROOT / f).is_file()]
    if unknown:
        print(f"no such file: {', '.join(unknown)} (paths are relative to {ROOT}, e.g. bot/chat/actions.py)")
        return 2
    plan: list[tuple[str, list[Mutant], list[str]]] = []
    for f in files:
        ms = mutants_of(f)
        if args.max and len(ms) > args.max:
            ms = sorted(random.Random(f"{args.seed}:{f}").sample(ms, args.max), key=lambda m: (m.line, m.col))
        plan.append((f, ms, args.tests or TARGETS.get(f, ["tests"])))
    if args.list:
        for f, ms, tests in plan:
            source = (ROOT / f).read_text(encoding="utf-8")
            print(f"{f}: {len(ms)} mutants, tests: {' '.join(tests)}")
            for m in ms:
                print(f"  {f}:{m.line} [{m.kind}] {m.describe(source)}")
        return 0

    signal.signal(signal.SIGTERM, _interrupt)
    started = time.monotonic()
    tried = killed = 0
    survivors: list[str] = []
    limit: dict[tuple[str, ...], float] = {}
    for tests in dict.fromkeys(tuple(t) for _, _, t in plan):
        t0 = time.monotonic()
        if not run_tests(list(tests), None):
            print(f"baseline failed: {' '.join(tests)} must pass before mutating (run them and fix first)")
            return 2
        limit[tests] = args.timeout or 3 * (time.monotonic() - t0) + 30
    try:
        for f, ms, tests in plan:
            path = ROOT / f
            source = path.read_text(encoding="utf-8")
            f_killed = f_tried = 0
            for m in ms:
                if args.budget and time.monotonic() - started > args.budget * 60:
                    break
                with InPlace(path) as spot:
                    spot.write(m.apply(source))
                    survived = run_tests(tests, limit[tuple(tests)])
                f_tried, tried = f_tried + 1, tried + 1
                label = f"{f}:{m.line} [{m.kind}] {m.describe(source)}"
                if survived:
                    survivors.append(label)
                else:
                    f_killed, killed = f_killed + 1, killed + 1
                print(f"  {'SURVIVED' if survived else 'killed  '} {label}", flush=True)
            print(f"{f}: {f_tried} tried, {f_killed} killed, {f_tried - f_killed} survived"
                  + (f" (of {len(ms)})" if f_tried < len(ms) else ""), flush=True)
    except KeyboardInterrupt:
        print("interrupted: the file under test was put back")
    minutes = (time.monotonic() - started) / 60
    print(f"total: {tried} mutants tried, {killed} killed, {tried - killed} survived in {minutes:.1f} min")
    for s in survivors:
        print(f"survivor: {s}")
    return 1 if survivors else 0


if __name__ == "__main__":
    sys.exit(main())

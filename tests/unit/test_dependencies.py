"""The distribution declares what the product imports and nothing it does not: every third-party
import of the package folders is a declared dependency (core, or the extra that needs it), and
every core dependency is imported somewhere. No stray wheel in the repository, SPDX license."""
from __future__ import annotations

import ast
import re
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
META = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
FOLDERS = list(META["tool"]["setuptools"]["package-dir"].values())


def _name(requirement: str) -> str:
    return re.split(r"[\s\[<>=!~;]", requirement, maxsplit=1)[0].lower().replace("_", "-")


def _imports() -> set[str]:
    found: set[str] = set()
    for folder in FOLDERS:
        for path in (ROOT / folder).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Import):
                    found |= {a.name.split(".")[0] for a in node.names}
                elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                    found.add(node.module.split(".")[0])
    return {m for m in found if m not in sys.stdlib_module_names and m not in ("gtm", "__future__")}


def _distributions(modules: set[str]) -> dict[str, str]:
    known = packages_distributions()
    out = {}
    for m in modules:
        dists = known.get(m)
        assert dists, f"imported module {m!r} belongs to no installed distribution"
        out[m] = dists[0].lower().replace("_", "-")
    return out


def test_every_third_party_import_is_declared_and_every_core_dependency_is_used():
    core = {_name(r) for r in META["project"]["dependencies"]}
    extras = {_name(r) for reqs in META["project"]["optional-dependencies"].values() for r in reqs}
    used = _distributions(_imports())
    undeclared = {m: d for m, d in used.items() if d not in core | extras}
    assert undeclared == {}, f"imported but not declared: {undeclared}"
    unused = core - set(used.values())
    assert unused == set(), f"declared but never imported by the product: {sorted(unused)}"
    for gone in ("cryptography", "pyyaml", "websockets"):
        assert gone not in core


def test_no_committed_wheels_and_an_spdx_license():
    assert list(ROOT.glob("*.whl")) == []
    assert META["project"]["license"] == "Apache-2.0"

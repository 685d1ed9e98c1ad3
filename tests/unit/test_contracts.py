"""The house's contracts, checked on every test run: import-linter's layers and forbidden imports
(`[tool.importlinter]` in pyproject.toml) and ruff's rules (`[tool.ruff]`: imports at the top,
pyflakes). Each check also shows, on a deliberately broken input, that it can fail."""
from __future__ import annotations

import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]



def _lint_imports_cmd(config: Path) -> subprocess.CompletedProcess[str]:
    exe = shutil.which("lint-imports", path=str(Path(sys.executable).parent))
    assert exe, "import-linter is not installed: pip install -e '.[test]'"
    return subprocess.run([exe, "--no-cache", "--config", str(config)], cwd=ROOT, capture_output=True, text=True, timeout=120)


def _ruff(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "ruff", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=120)


def test_import_contracts_hold() -> None:
    res = _lint_imports_cmd(ROOT / "pyproject.toml")
    assert res.returncode == 0, res.stdout[-4000:] + res.stderr[-2000:]
    assert "0 broken" in res.stdout


def test_a_room_importing_upwards_breaks_the_contract(tmp_path: Path) -> None:
    # The same tool over the same code, with the rooms' order turned upside down: it must object.
    text = (ROOT / "pyproject.toml").read_text()
    section = text[text.index("[tool.importlinter]"):]
    section = section[: section.index("\n[tool.", 1)] if "\n[tool." in section[1:] else section
    upside_down = section.replace('layers = ["cli", "service", "chat", "checks", "runtime", "cards", "rules",',
                                  'layers = ["rules", "cards", "runtime", "checks", "chat", "service", "cli",')
    assert upside_down != section, "the bot rooms contract moved: update this test"
    cfg = tmp_path / "contracts.toml"
    cfg.write_text(upside_down)
    res = _lint_imports_cmd(cfg)
    assert res.returncode != 0 and "BROKEN" in res.stdout, res.stdout[-2000:]


def test_ruff_passes() -> None:
    res = _ruff("check", "--no-cache", ".")
    assert res.returncode == 0, res.stdout[-4000:] + res.stderr[-2000:]


def test_ruff_flags_an_import_inside_a_function(tmp_path: Path) -> None:
    bad = tmp_path / "late_import.py"
    bad.write_text(textwrap.dedent('''\
        def f():
            import json
            return json.dumps({})
    '''))
    res = _ruff("check", "--no-cache", "--config", str(ROOT / "pyproject.toml"), str(bad))
    assert res.returncode != 0 and "PLC0415" in res.stdout, res.stdout


def test_the_contracts_that_list_sync_modules_name_every_one() -> None:
    # import-linter has no "every sibling but one" wildcard: the adapter's and the store's contracts
    # list sync's modules by name, so a new sync module must be added there (pyproject.toml).
    text = (ROOT / "pyproject.toml").read_text()
    modules = {p.stem for p in (ROOT / "sync").glob("*.py") if p.stem != "__init__"}
    for contract in ("sync/feishu is the adapter", "The store imports nothing else of sync"):
        block = text[text.index(contract):]
        block = block[: block.index("\n\n")]
        missing = sorted(m for m in modules if f'"gtm.sync.{m}"' not in block)
        assert not missing, f"pyproject.toml contract {contract!r} misses gtm.sync.{missing[0]}: add it to forbidden_modules"

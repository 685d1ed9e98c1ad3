"""Build and install the package the way deploy/Dockerfile does, outside the checkout.

`docker_steps()` reads the Dockerfile: its COPY lines say which files make the image's source
folder, its RUN line says how they are installed (deploy/install.sh). `stage()` copies exactly
those files into a scratch root and `install()` runs that same command there with a fresh
virtual environment's `python` on PATH, so a file the Dockerfile forgets to copy, a data file
the wheel does not carry, or a broken install step fails here as it would in the image.
"""
from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import tomllib
import zipfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "deploy" / "Dockerfile"
# files in the package folders that are not read at run time (documentation, outputs)
NOT_RUNTIME_DATA = {"benchmarks/README.md"}


@dataclass(frozen=True)
class DockerSteps:
    copies: list[tuple[list[str], str]]  # (sources relative to the build context, destination)
    install: list[str]  # the install command of the RUN line, as argv
    healthcheck: list[str]  # the HEALTHCHECK command, as argv


def _logical_lines(text: str) -> list[str]:
    lines, current = [], ""
    for raw in text.splitlines():
        if not current and (not raw.strip() or raw.lstrip().startswith("#")):
            continue
        current += raw.rstrip()
        if current.endswith("\\"):
            current = current[:-1] + " "
            continue
        lines.append(current.strip())
        current = ""
    return lines


def docker_steps(path: Path = DOCKERFILE) -> DockerSteps:
    copies, install, health = [], [], []
    for line in _logical_lines(path.read_text(encoding="utf-8")):
        word, _, rest = line.partition(" ")
        if word == "COPY":
            args = shlex.split(rest)
            assert not any(a.startswith("--from") for a in args), line
            copies.append((args[:-1], args[-1]))
        elif word == "RUN" and "install.sh" in rest:
            steps = [shlex.split(s) for s in rest.split("&&")]
            install = next(s for s in steps if any(a.endswith("install.sh") for a in s))
        elif word == "HEALTHCHECK":
            health = shlex.split(rest.split(" CMD ", 1)[1])
    assert copies and install and health, f"{path} lost its COPY / install RUN / HEALTHCHECK lines"
    return DockerSteps(copies, install, health)


def stage(steps: DockerSteps, root: Path) -> None:
    """Copy the build context's files to `root` + each COPY destination, as `docker build` would."""
    for sources, dest in steps.copies:
        target = root / dest.lstrip("/")
        for src in sources:
            origin = ROOT / src
            if origin.is_dir():
                # like docker: a directory's contents land in the destination
                shutil.copytree(origin, target, dirs_exist_ok=True,
                                ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "results"))
            else:
                to = target / origin.name if dest.endswith("/") else target
                to.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(origin, to)


def reroot(argv: list[str], root: Path) -> list[str]:
    """The command with its absolute paths moved under `root`."""
    return [str(root / a.lstrip("/")) if a.startswith("/") else a for a in argv]


def clean_env(venv: Path | None = None, **extra: str) -> dict[str, str]:
    """No GTM_ settings, no PYTHONPATH, no virtualenv of the checkout; `venv`'s bin first on PATH."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("GTM_", "PYTHON", "VIRTUAL_ENV", "PIP_REQUIRE"))}
    path = [p for p in env.get("PATH", "").split(os.pathsep) if p and not p.startswith(str(ROOT))]
    if venv is not None:
        path.insert(0, str(venv / "bin"))
        env["VIRTUAL_ENV"] = str(venv)
    env["PATH"] = os.pathsep.join(path)
    env.update(extra)
    return env


def make_venv(path: Path) -> Path:
    subprocess.run([sys.executable, "-m", "venv", str(path)], check=True, timeout=300)
    return path


def install(steps: DockerSteps, root: Path, venv: Path, wheel_dir: Path) -> Path:
    """Run the Dockerfile's install command on the staged files; returns the built wheel."""
    proc = subprocess.run(reroot(steps.install, root), cwd=root, env=clean_env(venv, WHEEL_DIR=str(wheel_dir)),
                          capture_output=True, text=True, timeout=1200)
    assert proc.returncode == 0, f"install step failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    wheels = sorted(wheel_dir.glob("gtm_plan_tracker-*.whl"))
    assert len(wheels) == 1, wheels
    return wheels[0]


def package_dirs(source: Path) -> dict[str, str]:
    """folder → import name, from pyproject's [tool.setuptools.package-dir]."""
    meta = tomllib.loads((source / "pyproject.toml").read_text(encoding="utf-8"))
    return {folder: name for name, folder in meta["tool"]["setuptools"]["package-dir"].items()}


def tree_files(source: Path) -> set[str]:
    """Every file of the package folders as the wheel must hold it (gtm/… paths)."""
    out: set[str] = set()
    for folder, name in package_dirs(source).items():
        base = source / folder
        for path in base.rglob("*"):
            rel = path.relative_to(source).as_posix()
            if (not path.is_file() or "__pycache__" in path.parts or path.suffix == ".pyc"
                    or rel in NOT_RUNTIME_DATA or "results" in path.relative_to(base).parts):
                continue
            out.add(name.replace(".", "/") + "/" + path.relative_to(base).as_posix())
    return out


def wheel_files(wheel: Path) -> set[str]:
    with zipfile.ZipFile(wheel) as zf:
        return {n for n in zf.namelist() if not n.split("/")[0].endswith(".dist-info")}


def build_wheel(source: Path, out: Path) -> Path:
    """Just the wheel (no install), with the same pip command install.sh uses."""
    proc = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--wheel-dir", str(out), str(source)],
                          cwd=source, env=clean_env(), capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return next(out.glob("gtm_plan_tracker-*.whl"))


def missing_from_wheel(source: Path, wheel: Path) -> list[str]:
    return sorted(tree_files(source) - wheel_files(wheel))

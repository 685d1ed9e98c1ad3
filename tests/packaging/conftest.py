"""The installed artifact: the wheel built and installed by deploy/Dockerfile's own steps into a
fresh virtual environment outside the checkout (once per test session)."""
from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.wheel_build import DockerSteps, ROOT, clean_env, docker_steps, install, make_venv, stage


@dataclass(frozen=True)
class Installed:
    steps: DockerSteps
    source: Path  # the staged source folder (as in the image before it is removed)
    venv: Path
    wheel: Path
    scratch: Path

    def bin(self, name: str) -> str:
        return str(self.venv / "bin" / name)

    def run(self, *args: str, cwd: Path, timeout: float = 300, **env: str) -> subprocess.CompletedProcess:
        """Run a command of the venv with cwd outside the checkout and a clean environment."""
        return subprocess.run([self.bin(args[0]), *args[1:]], cwd=cwd, env=clean_env(self.venv, **env),
                              capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="session")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    scratch = tmp_path_factory.mktemp("installed-wheel")
    assert ROOT not in scratch.parents, "the scratch folder must be outside the checkout"
    steps = docker_steps()
    root = scratch / "image"
    stage(steps, root)
    venv = make_venv(scratch / "venv")
    wheel = install(steps, root, venv, scratch / "dist")
    source = next(Path(root / a.lstrip("/")) for a in steps.install[2:] if a.startswith("/"))
    return Installed(steps, source, venv, wheel, scratch)

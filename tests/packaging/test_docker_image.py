"""Where a Docker engine answers, build deploy/Dockerfile and probe /healthz of the running image
(on the embedded sandbox, asked for explicitly). Elsewhere the same install steps are exercised by
test_installed_cli.py, and this test skips with the reason."""
from __future__ import annotations

import shutil
import subprocess
import time
import urllib.request
import uuid

import pytest
from tests.support.wheel_build import DOCKERFILE, ROOT

pytestmark = [pytest.mark.packaging, pytest.mark.docker, pytest.mark.timeout(1800)]


def _docker_reason() -> str:
    if shutil.which("docker") is None:
        return "no docker command on this machine"
    proc = subprocess.run(["docker", "info"], capture_output=True, text=True, timeout=60)
    if proc.returncode != 0:
        return "docker info failed (no reachable Docker engine): " + (proc.stderr.strip().splitlines() or ["?"])[-1]
    return ""


def test_image_builds_runs_as_non_root_and_answers_healthz():
    reason = _docker_reason()
    if reason:
        pytest.skip(reason)
    tag = f"gtm-plan-tracker:test-{uuid.uuid4().hex[:8]}"
    build = subprocess.run(["docker", "build", "-f", str(DOCKERFILE), "-t", tag, str(ROOT)],
                           capture_output=True, text=True, timeout=1500)
    assert build.returncode == 0, build.stderr[-4000:]
    name = f"gtm-test-{uuid.uuid4().hex[:8]}"
    try:
        run = subprocess.run(["docker", "run", "-d", "--name", name, "--read-only", "--tmpfs", "/tmp",
                              "--tmpfs", "/data:uid=10001,gid=10001", "-e", "GTM_SANDBOX=1",
                              "-e", "GTM_TRANSPORT=none", "-p", "127.0.0.1::8080", tag],
                             capture_output=True, text=True, timeout=120)
        assert run.returncode == 0, run.stderr
        port = subprocess.run(["docker", "port", name, "8080/tcp"], capture_output=True, text=True,
                              timeout=30).stdout.strip().splitlines()[0].rsplit(":", 1)[1]
        status, deadline = 0, time.monotonic() + 120
        while time.monotonic() < deadline and status != 200:
            try:
                status = urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5).status
            except OSError:
                time.sleep(1)
        logs = subprocess.run(["docker", "logs", name], capture_output=True, text=True, timeout=30)
        assert status == 200, logs.stdout[-2000:] + logs.stderr[-2000:]
        user = subprocess.run(["docker", "exec", name, "id", "-u"], capture_output=True, text=True, timeout=30)
        assert user.stdout.strip() == "10001"
        refused = subprocess.run(["docker", "run", "--rm", tag], capture_output=True, text=True, timeout=120)
        assert refused.returncode != 0 and "GTM_FEISHU_APP_SECRET" in refused.stderr
    finally:
        subprocess.run(["docker", "rm", "-f", name], capture_output=True, timeout=60)
        subprocess.run(["docker", "rmi", "-f", tag], capture_output=True, timeout=120)

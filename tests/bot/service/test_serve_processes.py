"""Real `gtm serve` processes: two replicas on one PostgreSQL elect one scheduler leader, and the
standby takes over after the leader is killed with SIGKILL. Plus the embedded-sandbox banner."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest
import requests
from tests.support.waiting import wait_until

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture
def fresh_pg_db(pg_url):
    """A database of its own: advisory locks are per database, so no other test run interferes."""
    import psycopg
    from sqlalchemy.engine import make_url

    admin = make_url(pg_url.replace("postgresql+psycopg://", "postgresql://")).set(drivername="postgresql")
    admin_dsn = admin.render_as_string(hide_password=False)
    name = f"gtm_serve_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield admin.set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(admin_dsn, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


class Replica:
    def __init__(self, name: str, tmp: Path, env: dict[str, str]) -> None:
        self.name = name
        self.ready_file = tmp / f"{name}.url"
        self.log = open(tmp / f"{name}.log", "w+")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "gtm.bot.cli.main", "serve"], cwd=tmp, stdout=self.log, stderr=subprocess.STDOUT,
            env={**env, "GTM_SERVE_READY_FILE": str(self.ready_file)})
        self.url = ""

    def wait_listening(self, timeout: float = 90.0) -> str:
        ok = wait_until(lambda: self.ready_file.exists() or self.proc.poll() is not None, timeout=timeout, interval=0.1,
                        message=lambda: f"{self.name} to start:\n{self.output()}")
        assert ok and self.proc.poll() is None, f"{self.name} did not start:\n{self.output()}"
        self.url = self.ready_file.read_text().strip()
        return self.url

    def state(self) -> dict | None:
        try:
            return requests.get(self.url + "/readyz", timeout=5).json()
        except (requests.RequestException, ValueError):
            return None

    def leader(self) -> bool:
        st = self.state()
        return bool(st and st["leader"] and st["scheduler"]["running"])

    def output(self) -> str:
        self.log.flush()
        self.log.seek(0)
        return self.log.read()[-4000:]

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        self.log.close()


def test_two_replicas_on_postgres_one_leader_and_takeover_after_kill_9(fresh_pg_db, sandbox, seed, tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("GTM_")}
    env.update({"GTM_DATABASE_URL": fresh_pg_db, "GTM_FEISHU_APP_ID": seed.app_id,
                "GTM_FEISHU_APP_SECRET": seed.app_secret, "GTM_FEISHU_DOMAIN": sandbox.url,
                "GTM_HTTP_PORT": "0", "GTM_LEADER_RETRY_SECONDS": "0.5", "GTM_TRANSPORT": "ws",
                "GTM_LOG_LEVEL": "WARNING", "PYTHONPATH": str(ROOT)})
    a, b = Replica("a", tmp_path, env), Replica("b", tmp_path, env)
    try:
        a.wait_listening()
        b.wait_listening()
        assert a.url != b.url
        assert wait_until(lambda: a.leader() or b.leader(), timeout=20,
                          message=lambda: "a leader:\n" + a.output() + b.output()), a.output() + b.output()
        leader, standby = (a, b) if a.leader() else (b, a)
        # a few more looks: never two leaders at once
        for _ in range(5):
            assert leader.leader() and not standby.leader()
        metrics = requests.get(standby.url + "/metrics", timeout=5).text
        assert "gtm_scheduler_leader 0.0" in metrics and "gtm_scheduler_jobs 0.0" in metrics
        assert "gtm_scheduler_leader 1.0" in requests.get(leader.url + "/metrics", timeout=5).text

        leader.proc.send_signal(signal.SIGKILL)  # no goodbye: PostgreSQL drops its session and lock
        leader.proc.wait(10)
        t0 = time.monotonic()
        assert wait_until(standby.leader, timeout=30, interval=0.1,
                          message=lambda: "the standby to take over:\n" + standby.output()), standby.output()
        print(f"takeover after kill -9: {time.monotonic() - t0:.2f}s (retry interval 0.5s)")
        assert standby.state()["ready"] is True

        standby.proc.send_signal(signal.SIGTERM)  # a clean stop
        assert standby.proc.wait(30) == 0
        assert "gtm serve: stopped" in standby.output()
    finally:
        a.stop()
        b.stop()


def test_run_serve_on_the_embedded_sandbox_says_so_loudly_and_stops_on_request(
        make_app, sandbox, seed, capsys, monkeypatch, tmp_path):
    from gtm.bot.service.serve import READY_FILE_ENV, run_serve

    ready = tmp_path / "serve.url"
    monkeypatch.setenv(READY_FILE_ENV, str(ready))
    app = make_app(transport="none")
    app.sandbox, app.seed = sandbox, seed  # what open_runtime does without credentials
    stop = threading.Event()
    codes: list[int] = []
    t = threading.Thread(target=lambda: codes.append(run_serve(app, stop_event=stop)), daemon=True)
    t.start()
    try:
        assert wait_until(ready.exists, timeout=20)
        url = ready.read_text().strip()
        assert requests.get(url + "/healthz", timeout=5).status_code == 200
    finally:
        stop.set()
        t.join(20)
    assert codes == [0]
    out = capsys.readouterr()
    assert "内置的本地飞书沙箱" in out.err and "EMBEDDED LOCAL SANDBOX" in out.err and sandbox.url in out.err
    assert f"listening on {url}" in out.out and "gtm serve: stopped" in out.out


def test_run_serve_says_ready_before_the_post_ready_work(make_app, sandbox, seed, monkeypatch, tmp_path):
    """The full collection and the rules' first run (`Service._settle`) start once the ready file
    is written: over a 100,000-record plan the collection alone held the interpreter ~0.4 s and
    delayed ready by that much (B9)."""
    from gtm.bot.service.serve import READY_FILE_ENV, Service, run_serve

    ready = tmp_path / "serve.url"
    monkeypatch.setenv(READY_FILE_ENV, str(ready))
    seen: list[bool] = []
    monkeypatch.setattr(Service, "_settle", lambda self, now: seen.append(ready.exists()))
    app = make_app(transport="none")
    stop = threading.Event()
    t = threading.Thread(target=lambda: run_serve(app, stop_event=stop), daemon=True)
    t.start()
    try:
        assert wait_until(lambda: seen, timeout=20)
    finally:
        stop.set()
        t.join(20)
    assert seen == [True]

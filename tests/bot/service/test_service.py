"""`Service` on the sandbox: health, metrics, readiness that notices Feishu going away, leadership."""
from __future__ import annotations

import requests

from gtm.bot.service.serve import Service
from tests.support.waiting import wait_until


def get(url: str, path: str) -> requests.Response:
    return requests.get(url + path, timeout=5)


def poll_status(url: str, path: str, status: int, timeout: float = 10.0) -> requests.Response | None:
    """GET until the answer has `status` (a Response is falsy for 4xx/5xx, hence the list)."""
    got = wait_until(lambda: [r] if (r := get(url, path)).status_code == status else None, timeout=timeout,
                     message=lambda: f"GET {path} to answer {status} (now: {get(url, path).text[:500]})")
    return got[0] if got else None


def test_health_metrics_and_readiness_follow_the_real_dependencies(app_ctx, sandbox):
    svc = Service(app_ctx).start()
    try:
        assert svc.url.startswith("http://127.0.0.1:") and not svc.url.endswith(":0")
        assert get(svc.url, "/healthz").status_code == 200

        ready = poll_status(svc.url, "/readyz", 200)
        assert ready is not None, get(svc.url, "/readyz").text
        body = ready.json()
        assert body["ready"] is True and body["failed"] == []
        assert set(body["checks"]) == {"feishu", "store", "leader", "longconn"}
        # the readiness probe really asked Feishu for a token (not the SDK's cache)
        assert any(e["path"].endswith("/tenant_access_token/internal") for e in sandbox.journal.since(0))

        # alone on its SQLite file: the leader, running the scheduler
        assert wait_until(lambda: svc.is_leader and svc.scheduler is not None and svc.scheduler.running, timeout=5)
        status = get(svc.url, "/readyz").json()
        assert status["leader"] is True and status["scheduler"]["running"] is True
        assert "*:portfolio" in status["scheduler"]["jobs"]

        metrics = get(svc.url, "/metrics")
        assert metrics.status_code == 200 and metrics.headers["Content-Type"].startswith("text/plain")
        text = metrics.text
        assert 'gtm_api_calls_total{api="auth.tenant_access_token"}' in text
        assert "gtm_scheduler_leader 1.0" in text and "gtm_transport_up 1.0" in text

        sandbox.stop()  # Feishu goes away: not ready, and the body says why
        down = poll_status(svc.url, "/readyz", 503)
        assert down is not None, "readyz stayed 200 after the sandbox stopped"
        failed = down.json()["failed"]
        assert "feishu" in failed and "store" not in failed
        assert "error" in down.json()["checks"]["feishu"]
        assert get(svc.url, "/healthz").status_code == 200  # alive all the same
    finally:
        svc.stop()
    try:
        get(svc.url, "/healthz")
        raise AssertionError("HTTP server still answering after stop()")
    except requests.ConnectionError:
        pass


def test_store_down_makes_readyz_fail_naming_the_store(make_app, tmp_path):
    app = make_app(transport="none")
    svc = Service(app).start()
    try:
        assert poll_status(svc.url, "/readyz", 200)
        app.store.engine.dispose()
        app.store.engine.pool._creator = lambda *a: (_ for _ in ()).throw(OSError("database is gone"))
        r = poll_status(svc.url, "/readyz", 503)
        assert r is not None and r.json()["failed"] == ["store"]
        assert "database is gone" in r.json()["checks"]["store"]["error"]
    finally:
        svc.stop()


def test_two_services_on_one_sqlite_file_elect_one_leader_and_fail_over(make_app):
    a = Service(make_app(transport="none")).start()
    b = Service(make_app(transport="none")).start()
    try:
        assert wait_until(lambda: a.is_leader or b.is_leader, timeout=5)
        first, second = (a, b) if a.is_leader else (b, a)
        assert not second.is_leader and second.scheduler is None
        # leadership is won first, then the scheduler starts on the election thread
        assert wait_until(lambda: first.scheduler is not None and first.scheduler.running, timeout=5)
        first.stop()
        assert wait_until(lambda: second.is_leader, timeout=5)
        assert wait_until(lambda: second.scheduler is not None and second.scheduler.running, timeout=5)
    finally:
        a.stop()
        b.stop()


def test_leader_reschedules_when_a_project_is_added(app_ctx):
    from gtm.sync.store.registry import ProjectRow

    svc = Service(app_ctx, reload_seconds=3600).start()
    try:
        assert wait_until(lambda: svc.scheduler is not None and svc.scheduler.running, timeout=5)
        assert not any(s.project for s in svc.scheduler.specs)
        with app_ctx.store.session() as s:
            s.add(ProjectRow(slug="launch", name="新品发布", base_token="bascnX", chat_ids=["oc_x"]))
        assert svc.reload_projects() is True
        jobs = set(svc.status()["scheduler"]["jobs"])
        assert {"launch:check", "launch:digest", "launch:report", "launch:reconcile"} <= jobs
        assert svc.reload_projects() is False  # nothing changed
    finally:
        svc.stop()


def test_start_preloads_answers_from_the_store_and_freezes_the_gc(make_app, sandbox, seed):
    """Ready means the plans are in memory already, loaded from the store (never from Feishu), and
    what start-up built is frozen out of the cyclic collector's way (right after, off the ready path)."""
    import gc
    import threading
    from datetime import timedelta

    from tests.support.plans import NOW, create_plan, task

    from gtm.bot import startup_gc
    from gtm.bot.chat.answer_cache import CACHE

    app = make_app(transport="none")
    u = seed.users
    create_plan(app, slug="alpha", name="Alpha 发布", chat_ids=[seed.chat_id], pm=u["pm"],
                management=[u["management"]],
                tasks=[task("T1", "准备发布会物料", u["王芳"], NOW.date() - timedelta(days=3))])
    project = app.project("alpha")
    app.mirror(project).refresh(NOW, full=True)
    CACHE.clear()
    mark = sandbox.journal.mark()
    thresholds = gc.get_threshold()
    startup_gc.relax()  # what `gtm serve` does before its imports (bot/cli/main.py)
    svc = Service(app).start(settle=False)  # as `run_serve` does: ready first, then `settle`
    try:
        entry = CACHE.peek(app.mirror(project))
        assert entry is not None and [t.name for t in entry.snapshot.tasks] == ["准备发布会物料"]
        assert not entry.indexed and entry.check_runs == 0  # both follow right after ready
        reads = [e["path"] for e in sandbox.journal.since(mark) if "/records" in e["path"]]
        assert reads == []  # from the store: not one record read from Feishu
        # right after ready, on the preload thread: indexed, frozen, the usual thresholds back, the rules run
        svc.settle()
        for t in [t for t in threading.enumerate() if t.name == "gtm-preload-rules"]:
            t.join(20)
        assert gc.get_freeze_count() > 0 and gc.isenabled() and gc.get_threshold() == thresholds
        assert CACHE.peek(app.mirror(project)) is entry and entry.indexed and entry.check_runs == 1
        assert "准备发布会物料" in [i.name for i in entry.index.all.items]
    finally:
        svc.stop()
        startup_gc.restore()
        gc.unfreeze()


def test_dead_leader_thread_fails_readyz_and_exits_the_process(app_ctx, monkeypatch):
    """Issue #16.5: if the election thread dies no job would ever run again; /readyz must say so
    and `gtm serve` must exit (non-zero) so the orchestrator restarts it."""
    import threading

    from gtm.bot.service import leader as L
    from gtm.bot.service.serve import run_serve

    def broken(self) -> bool:
        raise OSError("lock path unusable")

    monkeypatch.setattr(L.Leader, "step", broken)
    svc = Service(app_ctx).start()
    try:
        down = poll_status(svc.url, "/readyz", 503)
        assert down is not None, get(svc.url, "/readyz").text
        body = down.json()
        assert "leader" in body["failed"] and "lock path unusable" in body["checks"]["leader"]["error"]
        assert svc.fatal_event.is_set() and "lock path unusable" in svc.fatal
    finally:
        svc.stop()

    result: dict[str, int] = {}
    t = threading.Thread(target=lambda: result.setdefault("code", run_serve(app_ctx)), daemon=True)
    t.start()
    t.join(30)
    assert not t.is_alive() and result["code"] == 1


def test_delivery_health_shows_in_readyz_metrics_and_doctor(app_ctx):
    """Issue #16.6: the watchdog's list is the same in /readyz (degraded), /metrics and `gtm doctor`."""
    from datetime import datetime, timezone

    from gtm.bot.cli.doctor import Doctor
    from gtm.sync.binding import BaseBinding
    from gtm.sync.provision import register_project
    from gtm.sync.store.ledger import NotificationRow

    now = datetime.now(timezone.utc)
    with app_ctx.store.session() as s:
        register_project(s, "alpha", "Alpha", "gtm", BaseBinding(slug="alpha", app_token="basX"), chat_ids=["oc_x"])
        s.add(NotificationRow(project="alpha", key="digest:abc", recipient="oc_x", kind="digest", status="failed",
                              uuid="u1", attempts=1, error_code=230002, error_reason="Bot/User can NOT be out of "
                              "the chat.", permanent=True, created_at=now, updated_at=now))
    svc = Service(app_ctx).start()
    try:
        body = get(svc.url, "/readyz").json()
        assert any("no longer in the project group" in d for d in body["degraded"]), body
        text = get(svc.url, "/metrics").text
        assert 'gtm_delivery_health_issues{cause="bot_not_in_chat",project="alpha"} 1.0' in text
    finally:
        svc.stop()
    found = [f for f in Doctor(app_ctx).run() if f.check.startswith("送达健康")]
    assert len(found) == 1 and "机器人已不在项目群中" in found[0].detail and "添加机器人" in found[0].fix

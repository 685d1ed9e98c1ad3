"""`gtm serve`: the production process.

One `Service` runs, each on threads of its own:
- the HTTP server (/healthz, /readyz, /metrics and, with GTM_TRANSPORT=webhook, /webhook/*),
- the bot transport (the long connection by default) feeding one `Dispatcher`,
- the leader election; only the leader runs the `PlanScheduler` with the job set of every active
  project, a demoted leader shuts its scheduler down, a standby takes over when the leader dies.
Every replica answers events (the store deduplicates them); only one sends scheduled notices.
"""
from __future__ import annotations

import gc
import logging
import os
import signal
import sys
import threading
import time
from datetime import datetime, timezone
from typing import Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

from gtm.bot import startup_gc
from gtm.bot.chat.dispatcher import Dispatcher
from gtm.bot.chat.snapshots import warm_answers
from gtm.bot.chat.transports.longconn import LongConnection
from gtm.bot.chat.transports.webhook import (
    INSECURE_WARNING,
    WebhookConfigError,
    check_webhook_settings,
    mount,
)
from gtm.bot.checks.watchdog import alerts_sent, health_report
from gtm.bot.logs import service_logging
from gtm.bot.runtime import Runtime
from gtm.bot.service.health import Probe, Readiness, feishu_probe, health_app, store_probe, transport_probe
from gtm.bot.service.jobs import make_jobset
from gtm.bot.service.leader import Leader
from gtm.bot.service.malloc import cap_malloc_arenas
from gtm.bot.service.metrics import Metrics
from gtm.bot.service.scheduler import PlanScheduler
from gtm.sandbox.http_thread import HttpThread
from gtm.sync.store.ledger import last_ok
from gtm.sync.subscribe import ensure_subscribed

log = logging.getLogger(__name__)

# When set, `gtm serve` writes its HTTP base URL to this file once it listens (tests, supervisors
# using GTM_HTTP_PORT=0 learn the port this way; it is also printed and logged).
READY_FILE_ENV = "GTM_SERVE_READY_FILE"
PROJECT_RELOAD_SECONDS = 60.0


class _ServiceCollector:
    """Dispatcher counters and scheduler state, read at scrape time."""

    def __init__(self, service: "Service") -> None:
        self.service = service

    def collect(self):
        d = self.service.dispatcher
        events = CounterMetricFamily("gtm_dispatcher_events", "Events and callbacks by outcome", labels=["outcome"])
        for key, n in sorted((getattr(d, "stats", None) or {}).items()):
            events.add_metric([key], n)
        yield events
        sched = self.service.scheduler
        jobs = GaugeMetricFamily("gtm_scheduler_jobs", "Jobs scheduled on this replica (0 unless leader)")
        jobs.add_metric([], len(sched.specs) if sched is not None and sched.running else 0)
        yield jobs
        try:
            issues = self.service.health()
            sent = alerts_sent(self.service.app.store)
        except Exception:  # noqa: BLE001 - a scrape must not fail on the store
            log.warning("delivery-health metrics unavailable", exc_info=True)
            return
        health = GaugeMetricFamily("gtm_delivery_health_issues", "Delivery-health causes seen in the last 24 h",
                                   labels=["project", "cause"])
        for i in issues:
            health.add_metric([i.project, i.cause], i.count)
        yield health
        alerts = CounterMetricFamily("gtm_delivery_alerts", "Delivery-health alerts sent to PMs/admins",
                                     labels=["project", "cause"])
        for (project, cause), n in sorted(sent.items()):
            alerts.add_metric([project, cause], n)
        yield alerts


class Service:
    """The running bot. `start()` returns once the HTTP server listens; `stop()` undoes everything."""

    def __init__(self, app: Runtime, *, reload_seconds: float = PROJECT_RELOAD_SECONDS,
                 ws_wait: float = 10.0) -> None:
        self.app = app
        self.settings = app.settings
        self.runtime = app
        self.reload_seconds = reload_seconds
        self.ws_wait = ws_wait
        self.metrics = Metrics(app.gateway)
        self.dispatcher: Dispatcher | None = None
        self.transport: LongConnection | None = None
        self.http: HttpThread | None = None
        self.readiness: Readiness | None = None
        self.leader: Leader | None = None
        self.scheduler: PlanScheduler | None = None
        self._sched_lock = threading.RLock()
        self._stop = threading.Event()
        self._watcher: threading.Thread | None = None
        self.fatal = ""  # set when the process must exit (a dead leader thread)
        self.fatal_event = threading.Event()
        self._preloaded_at = datetime.now(timezone.utc)  # when the answers were loaded (`_preload`)
        self._settling: threading.Thread | None = None  # the post-ready work (`settle`)
        self.metrics.registry.register(_ServiceCollector(self))

    # -- status -----------------------------------------------------------------------------------
    @property
    def url(self) -> str:
        return self.http.url if self.http else ""

    @property
    def is_leader(self) -> bool:
        return bool(self.leader is not None and self.leader.is_leader)

    def health(self) -> list[Any]:
        """The delivery-health watchdog's causes now (wall clock: this is the live service)."""
        now = datetime.now(timezone.utc)
        return health_report(self.app.store, [p.slug for p in self.runtime.projects()], now)

    def status(self) -> dict[str, Any]:
        sched = self.scheduler
        try:
            degraded = [i.line("en") for i in self.health()]
        except Exception as exc:  # noqa: BLE001 - the store probe reports the store itself
            degraded = [f"delivery health unknown: {exc.__class__.__name__}"]
        return {"leader": self.is_leader, "transport": self.settings.transport,
                "degraded": degraded,
                "scheduler": {"running": bool(sched is not None and sched.running),
                              "jobs": sorted(s.id for s in (sched.specs if sched is not None else []))}}

    def render_metrics(self) -> bytes:
        self.metrics.leader.set(1 if self.is_leader else 0)
        t = self.transport
        if self.settings.transport == "ws":
            self.metrics.transport_up.set(1 if t is not None and t.connected else 0)
        else:
            self.metrics.transport_up.set(1 if self.http is not None else 0)
        return self.metrics.render()

    # -- lifecycle ----------------------------------------------------------------------------------
    def start(self, *, settle: bool = True) -> "Service":
        """Start everything and load the mirrors from the store; then the post-ready work (`settle`) unless
        `settle=False` (`run_serve` says ready first, then settles)."""
        s = self.settings
        cap_malloc_arenas()  # before the threads below allocate (bot/service/malloc.py)
        secret = s.feishu_app_secret.get_secret_value()
        self.dispatcher = Dispatcher(self.runtime)
        probes = [Probe("feishu", feishu_probe(self.app.gateway, s.feishu_app_id, secret)),
                  Probe("store", store_probe(self.app.store)), Probe("leader", self.leader_probe)]
        if s.transport == "ws":
            self.transport = LongConnection(s.feishu_app_id, secret, self.dispatcher.dispatch,
                                            domain=s.feishu_domain, bot_open_id=self.dispatcher.bot_open_id)
            probes.append(Probe("longconn", transport_probe(self.transport)))
        self.readiness = Readiness(probes, timeout=min(3.0, s.request_timeout_seconds), extra=self.status)
        web_app = health_app(self.readiness, self.render_metrics)
        if s.transport == "webhook":
            mount(web_app, self.dispatcher.dispatch, encrypt_key=s.feishu_encrypt_key.get_secret_value(),
                  verification_token=s.feishu_verification_token.get_secret_value(),
                  bot_open_id=self.dispatcher.bot_open_id, insecure=s.webhook_insecure)
        http = HttpThread(web_app, name="gtm-http")
        http.start(s.http_host, s.http_port, timeout=10)  # OSError naming host:port when the bind fails
        self.http = http
        log.info("gtm serve: HTTP on %s (transport %s)", self.http.url, s.transport)
        if self.transport is not None:
            self.transport.start(wait=0)  # the watchdog keeps retrying; /readyz says when it is down
            if self.ws_wait and not self.transport.wait_connected(self.ws_wait):
                log.warning("long connection not up yet (%s); retrying in the background",
                            self.transport.error or "no answer")
        self._preload()
        self._start_leader()
        self._watcher = threading.Thread(target=self._watch_projects, name="gtm-projects", daemon=True)
        self._watcher.start()
        if settle:
            self.settle()
        return self

    def settle(self) -> None:
        """The work right after ready, on a thread of its own (`_settle`), once. `run_serve` calls
        it after writing the ready file: its full collection holds the interpreter for ~0.4 s
        over a 100,000-record plan and would otherwise delay ready by that much."""
        if self._settling is not None:
            return
        self._settling = threading.Thread(target=self._settle, args=(self._preloaded_at,),
                                          name="gtm-preload-rules", daemon=True)
        self._settling.start()

    def _preload(self) -> None:
        """Answers from the store before the first question (the long connection comes up
        meanwhile): the decoded plans now; their open-item indexes and the rules' first run right
        after ready (`settle`)."""
        t0 = time.perf_counter()
        now = self._preloaded_at = datetime.now(timezone.utc)
        loaded = warm_answers(self.runtime, now, index=False, check=False)
        log.info("mirrors loaded from the store: %d records in %.2f s", loaded, time.perf_counter() - t0)

    def _settle(self, now: datetime) -> None:
        """After start-up: the open-item indexes, one collection, then `gc.freeze()` — what
        start-up built lives as long as the process, so the cyclic collector stops rescanning it
        (shorter pauses on the chat path) — and the collector's usual thresholds back (`gtm serve`
        starts with rare passes, `bot/startup_gc.py`). Then the rules' first run, so the first
        @mention finds it ready."""
        warm_answers(self.runtime, now, check=False)
        gc.collect()
        gc.freeze()
        startup_gc.restore()
        warm_answers(self.runtime, now)

    def _start_leader(self) -> None:
        self.leader = Leader(self.settings.database_url, retry_seconds=self.settings.leader_retry_seconds,
                             ttl_seconds=self.settings.leader_ttl_seconds,
                             on_elected=self._elected, on_demoted=self._demoted, on_failure=self._leader_died)
        self.leader.start()

    def _leader_died(self, why: str) -> None:
        """The election thread died: no job would ever run again. Fail /readyz and exit (the
        orchestrator restarts the process) rather than stay up looking healthy."""
        self.fatal = f"leader election stopped: {why}"
        log.critical("%s; exiting so the process is restarted", self.fatal)
        self.fatal_event.set()

    def leader_probe(self) -> str | None:
        """/readyz: the election thread must be running (leader or standby)."""
        if self.leader is None:
            return "leader election not started"
        if not self.leader.alive:
            return self.leader.failure or "leader election thread is not running"
        return None

    def _elected(self) -> None:
        with self._sched_lock:
            if self._stop.is_set():
                return
            projects = self.runtime.projects()
            self.scheduler = PlanScheduler(self.app.store, projects, self._policy_for,
                                           make_jobset(self.runtime, self.metrics),
                                           portfolio_policy=self.settings.effective_policy())
            self.scheduler.start()
            self.metrics.leader.set(1)
            self._restore_last_checks(projects)
            self._subscribe(projects)
            log.info("leader: scheduler running for %d project(s): %s", len(projects),
                     ", ".join(p.slug for p in projects) or "-")

    def _restore_last_checks(self, projects: list[Any]) -> None:
        """A new leader starts its gauges from the recorded runs (alerts compare against them)."""
        try:
            with self.app.store.session() as s:
                for p in projects:
                    stamps = [t for t in (last_ok(s, p.slug, "check"), last_ok(s, p.slug, "digest")) if t]
                    if stamps:
                        self.metrics.last_check.labels(p.slug).set(max(stamps).timestamp())
        except Exception:  # noqa: BLE001 - only a metric
            log.warning("could not read the last successful checks", exc_info=True)

    def _demoted(self) -> None:
        with self._sched_lock:
            sched, self.scheduler = self.scheduler, None
            self.metrics.leader.set(0)
        if sched is not None:
            sched.shutdown(wait=False)
            log.info("no longer leader: scheduler stopped")

    def _policy_for(self, slug: str):
        return self.runtime.project(slug).policy

    def _watch_projects(self) -> None:
        """A project added (`gtm init`) or archived while we run: reschedule without a restart."""
        while not self._stop.wait(self.reload_seconds):
            try:
                self.reload_projects()
            except Exception:  # noqa: BLE001 - try again next round
                log.exception("could not reload the project list")

    def _subscribe(self, projects) -> None:
        """Make sure every project's Base sends record-change events (idempotent, read first)."""
        for p in projects:
            ok, why = ensure_subscribed(self.app.gateway, p.binding.app_token)
            if not ok:
                log.warning("project %s: %s", p.slug, why)

    def reload_projects(self) -> bool:
        """Reschedule when the set of active projects changed. True when it did."""
        with self._sched_lock:
            sched = self.scheduler
            if sched is None or not sched.running:
                return False
            projects = self.runtime.projects()
            if sorted(p.slug for p in projects) == sorted({s.project for s in sched.specs if s.project}):
                return False
            sched.reload(projects)
            return True

    def stop(self) -> None:
        self._stop.set()
        if self.leader is not None:
            self.leader.stop()  # demotes: the scheduler shuts down
        self._demoted()
        if self.transport is not None:
            self.transport.stop()
        if self.dispatcher is not None:
            self.dispatcher.close(timeout=10)
        if self.http is not None:
            self.http.stop()
        if self.readiness is not None:
            self.readiness.close()
        if self._watcher is not None:
            self._watcher.join(2)

    def __enter__(self) -> "Service":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()


def _banner_sandbox(app: Runtime) -> str:
    url = app.sandbox.url if app.sandbox is not None else ""
    line = "!" * 78
    return (f"{line}\n"
            f"!! 未配置飞书凭证（GTM_FEISHU_APP_ID / GTM_FEISHU_APP_SECRET），正在使用内置的本地飞书沙箱运行：\n"
            f"!!   {url}  —— 不会连接真实飞书，消息不会发给任何人。\n"
            f"!! No Feishu credentials configured: running against the EMBEDDED LOCAL SANDBOX at\n"
            f"!!   {url} — nothing reaches a real Feishu tenant. Set the credentials for production\n"
            f"!!   (see deploy/feishu-app-setup.md), then run `gtm doctor`.\n"
            f"{line}")


def run_serve(app: Runtime, *, stop_event: threading.Event | None = None) -> int:
    """Start the service and block until SIGINT/SIGTERM (or `stop_event`); stop cleanly. Exit code."""
    service_logging(str(app.settings.log_level))
    if app.embedded:
        banner = _banner_sandbox(app)
        print(banner, file=sys.stderr, flush=True)
        log.warning("running on the embedded sandbox %s (no Feishu credentials)", app.sandbox.url)
    stop = stop_event or threading.Event()
    s = app.settings
    if s.transport == "webhook":
        try:
            check_webhook_settings(s.feishu_encrypt_key.get_secret_value(),
                                   s.feishu_verification_token.get_secret_value(), s.webhook_insecure)
        except WebhookConfigError as exc:
            print(f"gtm serve: {exc}", file=sys.stderr, flush=True)
            return 2
        if not s.feishu_encrypt_key.get_secret_value():
            line = "!" * 78
            print(f"{line}\n!! {INSECURE_WARNING.replace(chr(10), chr(10) + '!! ')}\n{line}",
                  file=sys.stderr, flush=True)
    service = Service(app)
    # the handlers go in before anything is started: an orchestrator's SIGTERM that follows the
    # ready file (or /readyz) at once stops the service cleanly instead of killing the process
    previous: dict[int, Any] = {}
    if threading.current_thread() is threading.main_thread():
        def on_signal(signum: int, frame: Any) -> None:
            log.info("signal %s: stopping", signum)
            stop.set()

        for sig in (signal.SIGINT, signal.SIGTERM):
            previous[sig] = signal.signal(sig, on_signal)
    try:
        try:
            service.start(settle=False)
        except OSError as exc:
            print(f"gtm serve: {exc}", file=sys.stderr, flush=True)
            service.stop()
            return 1
        print(f"gtm serve: listening on {service.url} (/healthz /readyz /metrics), transport "
              f"{app.settings.transport}", flush=True)
        ready_file = os.environ.get(READY_FILE_ENV)
        if ready_file:
            tmp = ready_file + ".tmp"
            with open(tmp, "w", encoding="utf-8") as fh:
                fh.write(service.url + "\n")
            os.replace(tmp, ready_file)  # readers never see a half-written file
        service.settle()  # after ready: collect, freeze, run the rules once
        code = 0
        try:
            while not stop.wait(0.5):
                if service.fatal_event.is_set():
                    print(f"gtm serve: {service.fatal}; exiting", file=sys.stderr, flush=True)
                    code = 1
                    break
        finally:
            service.stop()
            print("gtm serve: stopped", flush=True)
        return code
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)

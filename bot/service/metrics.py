"""Prometheus metrics for `gtm serve` (/metrics). One registry per process, labelled by project.

API call counts come straight from the gateway's own counters through a collector, so there is
one source of truth for "how many calls did we make".
"""
from __future__ import annotations

from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily

from gtm.sync.feishu.gateway import Gateway


class GatewayCollector:
    """Exports `gtm_api_calls_total{api}` and `gtm_api_rate_limited_total{api}` from gateway.stats."""

    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway

    def collect(self):
        stats = self.gateway.stats
        calls = CounterMetricFamily("gtm_api_calls", "Feishu API calls made, by API", labels=["api"])
        for api, n in sorted(stats.calls.items()):
            calls.add_metric([api], n)
        yield calls
        limited = CounterMetricFamily("gtm_api_rate_limited", "Feishu 429/rate-limit answers, by API", labels=["api"])
        for api, n in sorted(stats.rate_limited.items()):
            limited.add_metric([api], n)
        yield limited
        failed = CounterMetricFamily("gtm_api_failures", "Feishu calls that failed after retries", labels=["api"])
        for api, n in sorted(stats.failures.items()):
            failed.add_metric([api], n)
        yield failed


class Metrics:
    def __init__(self, gateway: Gateway | None = None) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.events = Counter("gtm_events_handled", "Events handled", ["project", "kind"], registry=r)
        self.duplicates = Counter("gtm_events_duplicate", "Redelivered events dropped", ["kind"], registry=r)
        self.replies = Counter("gtm_replies", "Bot replies sent", ["project"], registry=r)
        self.notifications = Counter("gtm_notifications", "Notifications by outcome",
                                     ["project", "status", "reason"], registry=r)
        self.job_duration = Histogram("gtm_job_duration_seconds", "Scheduler job durations", ["project", "job"],
                                      registry=r, buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120))
        self.job_failures = Counter("gtm_job_failures", "Scheduler jobs that raised", ["project", "job"], registry=r)
        self.last_check = Gauge("gtm_last_successful_check_timestamp_seconds",
                                "Unix time of the last successful check", ["project"], registry=r)
        self.leader = Gauge("gtm_scheduler_leader", "1 when this replica runs the scheduler", registry=r)
        self.transport_up = Gauge("gtm_transport_up", "1 when the long connection/webhook is up", registry=r)
        if gateway is not None:
            r.register(GatewayCollector(gateway))

    def record_outcomes(self, project: str, outcomes: list[Any]) -> None:
        for o in outcomes:
            status = getattr(o, "status", "unknown")
            reason = str(getattr(o, "why", "") or "")[:40] if status == "failed" else ""
            self.notifications.labels(project, status, reason).inc()

    def render(self) -> bytes:
        return generate_latest(self.registry)

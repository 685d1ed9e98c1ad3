"""The one door to Feishu: a lark-oapi client plus error mapping, retries and rate limiting.

Every Feishu call in the product goes through `Gateway.call`, which
- limits the request rate per API family to Feishu's documented limits (so we do not live on 429s),
- turns the SDK response into data or a typed `FeishuError` (code, msg, log id),
- retries with tenacity only what is safe to repeat (reads; writes carrying client_token/uuid),
  only on rate limits (honouring `x-ogw-ratelimit-reset`), transient codes, 5xx and timeouts,
- serialises writes per table (Feishu refuses concurrent writes to one table: 1254291),
- counts calls per API family so `gtm sync`, metrics and benchmarks can report them.
"""
from __future__ import annotations

import logging
import threading
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any, Callable, TypeVar

import lark_oapi as lark
import requests
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    stop_after_delay,
)

from lark_oapi.core.cache import LocalCache
from lark_oapi.core.exception import ObtainAccessTokenException
from lark_oapi.core.token.manager import TokenManager

from gtm.sync.ratelimit import DEFAULT_RATES, RateLimiter  # noqa: F401  (re-exported)
from gtm.sync.errors import AuthError, ConnectionFailed, FeishuError, RateLimited, TransientError, classify

log = logging.getLogger(__name__)
T = TypeVar("T")



@dataclass
class CallStats:
    """What the gateway did, for `gtm sync`, /metrics and the benchmarks."""

    calls: Counter = field(default_factory=Counter)  # by API name
    families: Counter = field(default_factory=Counter)
    rate_limited: Counter = field(default_factory=Counter)
    retries: Counter = field(default_factory=Counter)
    failures: Counter = field(default_factory=Counter)

    def total(self, prefix: str = "") -> int:
        return sum(n for k, n in self.calls.items() if k.startswith(prefix))

    def snapshot(self) -> dict[str, int]:
        return dict(self.calls)


def _is_retryable(exc: BaseException) -> bool:
    return isinstance(exc, (RateLimited, TransientError))


class Gateway:
    """A lark-oapi client for one app, with the safety rails above. Thread-safe."""

    def __init__(self, app_id: str, app_secret: str, domain: str = lark.FEISHU_DOMAIN, *,
                 timeout: float = 10.0, rates: dict[str, float] | None = None,
                 max_attempts: int = 6, max_retry_seconds: float = 120.0,
                 sleep: Callable[[float], None] = time.sleep, log_level: lark.LogLevel = lark.LogLevel.ERROR) -> None:
        self.app_id = app_id
        self.domain = domain.rstrip("/")
        # A token cache of our own: the SDK's default is process-global and never invalidated, so
        # a rotated secret or a restarted Feishu-compatible server would keep failing with 99991663.
        self.token_cache = LocalCache()
        self.client = (lark.Client.builder().app_id(app_id).app_secret(app_secret)
                       .domain(self.domain).timeout(timeout).log_level(log_level)
                       .cache(self.token_cache).build())
        self.limiter = RateLimiter(rates, sleep=sleep)
        self.stats = CallStats()
        self.max_attempts = max_attempts
        self.max_retry_seconds = max_retry_seconds
        self._sleep = sleep
        self._table_locks: dict[str, threading.Lock] = defaultdict(threading.Lock)
        self._locks_guard = threading.Lock()
        self._stats_lock = threading.Lock()

    # -- the core --------------------------------------------------------------------------
    def call(self, api: str, fn: Callable[[], Any], *, family: str = "other", retry_safe: bool = True,
             write_table: str | None = None, context: str = "") -> Any:
        """Run `fn` (one SDK call returning a response) and return `resp.data`, or raise.

        `api` names the endpoint for stats and errors (e.g. "bitable.record.search");
        `write_table` (a table id) serialises writes to that table; `retry_safe=False` makes a
        non-idempotent write run once.
        """
        def attempt() -> Any:
            self.limiter.acquire(family)
            with self._stats_lock:
                self.stats.calls[api] += 1
                self.stats.families[family] += 1
            try:
                resp = fn()
                try:
                    return self.unwrap(resp, api=api, context=context)
                except AuthError as exc:
                    if exc.code != 99991663:
                        raise
                    # The cached tenant token was refused: drop it and try once with a fresh one.
                    # lark-oapi keeps ONE token cache per process (the last client built sets it),
                    # so clear this app's entry there as well as in our own cache.
                    self.token_cache.cache.clear()
                    shared = getattr(TokenManager.cache, "cache", None)
                    if isinstance(shared, dict):
                        shared.pop(f"self_tenant_token:{self.app_id}", None)
                    return self.unwrap(fn(), api=api, context=context)
            except (requests.Timeout, requests.ConnectionError) as exc:
                raise ConnectionFailed(f"no answer from {self.domain}: {exc.__class__.__name__}", api=api) from exc
            except ObtainAccessTokenException as exc:
                code = getattr(exc, "code", None) or 99991543
                raise AuthError(int(code), f"could not get a tenant token for app {self.app_id}: "
                                f"{getattr(exc, 'msg', exc)} (check GTM_FEISHU_APP_ID / GTM_FEISHU_APP_SECRET)",
                                api="auth.tenant_access_token") from exc

        def wait(state: RetryCallState) -> float:
            exc = state.outcome.exception() if state.outcome else None
            with self._stats_lock:
                self.stats.retries[api] += 1
            if isinstance(exc, RateLimited):
                with self._stats_lock:
                    self.stats.rate_limited[api] += 1
                if exc.reset_after is not None:
                    return max(0.05, float(exc.reset_after))
            return min(8.0, 0.2 * (2 ** (state.attempt_number - 1)))

        lock = self._table_lock(write_table) if write_table else None
        try:
            if lock:
                lock.acquire()
            if not retry_safe:
                return attempt()
            retrying = Retrying(
                retry=retry_if_exception(_is_retryable),
                stop=stop_after_attempt(self.max_attempts) | stop_after_delay(self.max_retry_seconds),
                wait=wait, sleep=self._sleep, reraise=True,
            )
            return retrying(attempt)
        except FeishuError:
            with self._stats_lock:
                self.stats.failures[api] += 1
            raise
        finally:
            if lock:
                lock.release()

    @staticmethod
    def unwrap(resp: Any, *, api: str, context: str = "") -> Any:
        """`resp.data` for a success; otherwise the typed error with code, msg, log id."""
        if resp.success():
            # some SDK responses (e.g. DeleteAppTableResponse) have no `data` attribute at all
            return getattr(resp, "data", None)
        raw = getattr(resp, "raw", None)
        headers = {k.lower(): v for k, v in (getattr(raw, "headers", None) or {}).items()}
        status = getattr(raw, "status_code", None)
        reset = headers.get("x-ogw-ratelimit-reset")
        try:
            reset_after = float(reset) if reset is not None else None
        except ValueError:
            reset_after = None
        code = resp.code if resp.code is not None else -1
        msg = resp.msg or (raw.content[:200].decode("utf-8", "replace") if raw is not None and raw.content else "")
        raise classify(code, msg, api=api, log_id=resp.get_log_id() or "", http_status=status,
                       reset_after=reset_after, context=context)

    def _table_lock(self, table_id: str) -> threading.Lock:
        with self._locks_guard:
            return self._table_locks[table_id]


def gateway_from_settings(settings, **kw) -> Gateway:
    """A gateway for the configured app (`GTM_FEISHU_*`)."""
    return Gateway(settings.feishu_app_id, settings.feishu_app_secret.get_secret_value(),
                   settings.feishu_domain, timeout=settings.request_timeout_seconds, **kw)

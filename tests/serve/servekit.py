"""Helpers for the serve/doctor tests (polling with a deadline, settings on the sandbox)."""
from __future__ import annotations

import time

from pydantic import SecretStr


def wait_for(pred, timeout: float = 10.0, every: float = 0.05):
    """Poll `pred` until it returns something truthy or the deadline passes (no fixed sleeps)."""
    deadline = time.monotonic() + timeout
    while True:
        value = pred()
        if value or time.monotonic() >= deadline:
            return value
        time.sleep(every)


def make_settings(sandbox, seed, database_url: str, **kw):
    from gtm.schemas.settings import Settings

    values = dict(feishu_app_id=seed.app_id, feishu_app_secret=SecretStr(seed.app_secret),
                  feishu_domain=sandbox.url, database_url=database_url, chat_id=seed.chat_id,
                  http_port=0, leader_retry_seconds=0.2, request_timeout_seconds=3)
    values.update(kw)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]

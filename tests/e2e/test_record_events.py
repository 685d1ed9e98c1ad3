"""A person's edit in the Base reaches the mirror through drive.file.bitable_record_changed_v1.

The sandbox emits the event to subscribed apps over the long connection; the dispatcher refreshes
just that record (one batch_get, no table scan).
"""
from __future__ import annotations

import time

from gtm.bot.chat.dispatcher import Dispatcher
from gtm.bot.chat.transports.longconn import LongConnection
from gtm.schemas.tables import table
from gtm.sync.subscribe import ensure_subscribed, is_subscribed
from tests.support.plans import NOW
from tests.support.waiting import wait_until


def test_subscription_is_idempotent(sandbox, gateway, plan):
    app_token = plan["binding"].app_token
    assert not is_subscribed(gateway, app_token)
    mark = sandbox.journal.mark()
    assert ensure_subscribed(gateway, app_token) == (True, "")
    assert ensure_subscribed(gateway, app_token) == (True, "")
    writes = [e for e in sandbox.journal.since(mark) if e["write"]]
    assert len(writes) == 1 and writes[0]["path"].endswith("/subscribe")


def test_record_change_event_refreshes_the_mirror(sandbox, seed, runtime, plan):
    project = runtime.project("alpha")
    mirror = runtime.mirror(project)
    mirror.refresh(NOW, full=True)
    b = plan["binding"]
    ensure_subscribed(runtime.gateway, b.app_token)
    sandbox.bitable.add_member(b.app_token, "openchat", seed.chat_id, "edit")  # the team may edit
    d = Dispatcher(runtime, clock=lambda: NOW, bot_open_id=seed.bot_open_id)
    conn = LongConnection(seed.app_id, seed.app_secret, d.dispatch, domain=sandbox.url,
                          bot_open_id=d.bot_open_id).start(wait=10)
    try:
        task_id = plan["tasks"][0]
        mark = sandbox.journal.mark()
        started = time.monotonic()
        sandbox.bitable.act_update(seed.users["王芳"], b.app_token, b.table_ids["task"], task_id,
                                   {table("task").field("progress").name: 0.9})

        def refreshed():
            t = next(t for t in mirror.snapshot().tasks if t.record_id == task_id)
            return t.progress == 0.9

        wait_until(refreshed, timeout=10, message="the mirror to see the edit")
        latency = time.monotonic() - started
        calls = [e["path"] for e in sandbox.journal.since(mark)]
        assert any(p.endswith("/records/batch_get") for p in calls), calls
        assert not any(p.endswith("/records/search") for p in calls), "refreshed by a scan, not by the event"
        print(f"edit → mirror via event: {latency * 1000:.0f} ms")
    finally:
        conn.stop()
        d.close()

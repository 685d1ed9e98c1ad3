"""The delivery-health watchdog (issue #16.6): a failed delivery reaches someone who can fix it —
one `delivery_failed` alert per cause per day, by direct message, to the PM and the admins (to the
admins only when the PM is the unreachable one)."""
from __future__ import annotations

from datetime import timedelta

from tests.support.plans import NOW, create_plan, task


def _alerts(run, cause=None):
    return [o for o in run.outcomes if o.rule == "delivery_failed" and (cause is None or cause in o.key)]


def _plan(runtime, seed, owner):
    day = NOW.date()
    return create_plan(runtime, slug="alpha", name="Alpha", chat_ids=[seed.chat_id], pm=seed.users["pm"],
                       management=[seed.users["management"]],
                       tasks=[task("T1", "发布会物料", owner, day - timedelta(days=3))])


def _with_admin(runtime, admin):
    from gtm.sync.store.registry import get_project

    with runtime.store.session() as s:
        get_project(s, "alpha").policy_overrides = {"admins": [admin]}


def test_owner_who_left_alerts_pm_and_admins_once_a_day(runtime, seed, sandbox):
    from gtm.bot.checks.check import run_check

    owner, admin = seed.users["王芳"], seed.users["杨帆"]
    _plan(runtime, seed, owner)
    _with_admin(runtime, admin)
    sandbox.control.update_user(owner, resigned=True)
    run = run_check(runtime, runtime.project("alpha"), NOW)
    assert any(o.recipient == owner and o.status == "failed" for o in run.outcomes)
    alerts = _alerts(run, "recipient_left")
    assert {a.recipient for a in alerts} == {seed.users["pm"], admin} and {a.status for a in alerts} == {"sent"}
    [left] = [i for i in run.health if i.cause == "recipient_left"]
    assert left.unreachable == (owner,) and left.count == 1
    again = run_check(runtime, runtime.project("alpha"), NOW + timedelta(hours=2))
    assert [a for a in _alerts(again) if a.status == "sent"] == []  # once per cause per day


def test_unreachable_pm_alerts_go_to_the_admins_only(runtime, seed, sandbox):
    from gtm.bot.checks.check import run_check

    pm, admin = seed.users["pm"], seed.users["杨帆"]
    _plan(runtime, seed, pm)  # the PM owns the late task, and the PM has left
    _with_admin(runtime, admin)
    sandbox.control.update_user(pm, resigned=True)
    run = run_check(runtime, runtime.project("alpha"), NOW)
    alerts = [a for a in _alerts(run, "recipient_left") if a.status == "sent"]
    assert [a.recipient for a in alerts] == [admin]

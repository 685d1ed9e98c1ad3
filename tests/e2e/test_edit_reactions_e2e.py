"""Rules react to edits (real long connection ↔ sandbox): a person sets a risk to 高×高 and the
service writes 风险评分 after the record-change event, without a check; a burst of edits is
coalesced into one run; the periodic check afterwards sends nothing twice."""
from __future__ import annotations

import json

import pytest

from gtm.bot.checks.check import run_check
from gtm.bot.chat.dispatcher import Dispatcher
from gtm.bot.chat.transports.longconn import LongConnection
from gtm.schemas.plan import Person
from gtm.schemas.tables import table
from gtm.sync.subscribe import ensure_subscribed
from tests.support import plans
from tests.support.plans import NOW, add_rows, create_plan, task
from tests.support.waiting import wait_until


@pytest.fixture
def live(sandbox, seed, runtime, monkeypatch):
    """Project live with a 风险 table, subscribed to record changes, the team allowed to edit."""
    monkeypatch.setattr(plans, "BOT_TABLES", (*plans.BOT_TABLES, "risk"))
    u = seed.users
    plan = create_plan(runtime, slug="live", name="实时项目", chat_ids=[seed.chat_id], pm=u["pm"],
                       management=[u["management"]], tasks=[task("T-1", "物料", u["王芳"], NOW.date())])
    b = plan["binding"]
    gw = runtime.gateway
    [risk] = add_rows(gw, b, "risk", [{"risk": "渠道伙伴签约延迟", "likelihood": "低", "impact": "低",
                                       "owner": Person(open_id=u["王芳"]), "status": "开放"}])
    project = runtime.project("live")
    runtime.mirror(project).refresh(NOW, full=True)
    ensure_subscribed(gw, b.app_token)
    sandbox.bitable.add_member(b.app_token, "openchat", seed.chat_id, "edit")
    d = Dispatcher(runtime, clock=lambda: NOW, bot_open_id=seed.bot_open_id, edit_debounce=0.3)
    conn = LongConnection(seed.app_id, seed.app_secret, d.dispatch, domain=sandbox.url,
                          bot_open_id=d.bot_open_id).start(wait=10)
    yield {"binding": b, "risk": risk, "dispatcher": d, "project": project}
    conn.stop()
    d.close()


def score(sandbox, b, risk):
    rec = sandbox.bitable.record(b.app_token, b.table_ids["risk"], risk)
    return rec["fields"].get(table("risk").field("score").name)


def test_risk_score_is_written_after_the_edit_event(sandbox, seed, runtime, live):
    b, risk, d = live["binding"], live["risk"], live["dispatcher"]
    assert score(sandbox, b, risk) is None
    name = {a: table("risk").field(a).name for a in ("likelihood", "impact")}
    sandbox.bitable.act_update(seed.users["王芳"], b.app_token, b.table_ids["risk"], risk, {name["likelihood"]: "高"})
    sandbox.bitable.act_update(seed.users["王芳"], b.app_token, b.table_ids["risk"], risk, {name["impact"]: "高"})
    wait_until(lambda: score(sandbox, b, risk) == 9, timeout=10, message="风险评分 written after the edit")
    wait_until(lambda: d.reactor.idle() and d.reactor.runs, timeout=10, message="the reaction run")
    assert all(("risk", risk) in r.records for r in d.reactor.runs)
    assert len(d.reactor.runs) <= 2  # two quick edits: coalesced (one run, or two when they straddle)
    # the periodic check then finds nothing left to write for that risk
    mark = sandbox.journal.mark()
    run_check(runtime, live["project"], NOW)
    risk_writes = [e for e in sandbox.journal.since(mark) if e["write"] and b.table_ids["risk"] in e["path"]]
    assert risk_writes == []
    resent = [e for e in sandbox.journal.since(mark) if e["path"].endswith("/im/v1/messages")
              and "渠道伙伴签约延迟" in json.dumps(e.get("body"), ensure_ascii=False)]
    assert resent == []  # whatever the reaction sent about the risk is not sent again

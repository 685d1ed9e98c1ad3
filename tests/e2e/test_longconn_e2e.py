"""An @mention over the real lark_oapi.ws.Client long connection gets exactly one correct reply."""
from __future__ import annotations

from gtm.bot.chat.dispatcher import Dispatcher
from gtm.bot.chat.transports.longconn import LongConnection
from tests.support.inbox import card_text
from tests.support.plans import NOW


def test_mention_over_long_connection_gets_one_reply(sandbox, seed, runtime, plan):
    d = Dispatcher(runtime, clock=lambda: NOW)
    conn = LongConnection(seed.app_id, seed.app_secret, d.dispatch, domain=sandbox.url,
                          bot_open_id=d.bot_open_id).start(wait=10)
    try:
        sandbox.control.post_message(seed.chat_id, seed.users["王芳"], "我的任务")
        msgs = sandbox.control.wait_for_messages(seed.chat_id, 1, timeout=10)
        assert d.drain(5)
        text = card_text(msgs[0]["card"] if "card" in msgs[0] else msgs[0])
        assert "准备发布会物料" in text and "渠道培训" not in text
        assert len(sandbox.control.messages(seed.chat_id, bots_only=True)) == 1
    finally:
        conn.stop()
        d.close()

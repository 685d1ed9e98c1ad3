"""A command's log lines without `--debug`: one line each, never a traceback (`gtm.bot.logs`)."""
from __future__ import annotations

import io
import logging
import sys

from gtm.bot.logs import EXPLAINED, CommandHandler, command_logging, service_logging


def _record(msg: str, exc: BaseException | None, **extra: object) -> logging.LogRecord:
    rec = logging.LogRecord("gtm.x", logging.ERROR, __file__, 1, msg, (), (type(exc), exc, None) if exc else None)
    rec.__dict__.update(extra)
    return rec


def test_one_line_keeps_an_explained_message_and_names_another_exception():
    fmt = CommandHandler().formatter
    assert fmt.format(_record("reading failed [E1]: gone;\nrestore it", ValueError("raw\nbody"), **{EXPLAINED: True})) \
        == "reading failed [E1]: gone; restore it（加 --debug 查看详情 / add --debug for details）"
    assert fmt.format(_record("portfolio: project x failed", KeyError("k"))).startswith(
        "portfolio: project x failed: KeyError: 'k'（加 --debug")
    assert fmt.format(_record("plain warning", None)) == "plain warning"


def test_command_logging_writes_to_the_current_stderr_and_is_undone(monkeypatch):
    undo = command_logging(debug=False)
    err = io.StringIO()
    monkeypatch.setattr(sys, "stderr", err)
    try:
        try:
            raise RuntimeError("boom")
        except RuntimeError:
            logging.getLogger("gtm.test").exception("it failed")
        logging.getLogger("gtm.test").info("not shown")
    finally:
        undo()
    assert err.getvalue().splitlines() == ["it failed: RuntimeError: boom（加 --debug 查看详情 / add --debug for details）"]
    assert not any(isinstance(h, CommandHandler) for h in logging.getLogger().handlers)


def test_the_service_drops_the_one_line_handler():
    command_logging(debug=False)
    service_logging("INFO")
    assert not any(isinstance(h, CommandHandler) for h in logging.getLogger().handlers)

"""How a `gtm` command logs. Without `--debug`, warnings and errors are one line each on stderr:
the message (`gtm.bot.failures.log_failure` puts the log id and the cause in it) and, when the
message does not already say it, the exception's own first line; never a traceback. With
`--debug`, everything from DEBUG up with tracebacks. `gtm serve` swaps the one-line handler for
the service's log format (`service_logging`), whose records keep their tracebacks.

Only the standard library is imported: `gtm.bot.cli.main` loads this for every command (`gtm --help` stays light).
"""
from __future__ import annotations

import logging
import sys
from typing import Callable, TextIO

SERVICE_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
CAUSE_CHARS = 300  # longest exception text quoted on a one-line log record
EXPLAINED = "gtm_explained"  # set by `gtm.bot.failures.log_failure`: the message has the log id and the cause
DEBUG_HINT = "（加 --debug 查看详情 / add --debug for details）"


class OneLine(logging.Formatter):
    """The record's message on one line. With an exception: its type and first line unless the
    message is already explained (`EXPLAINED`), and where the traceback is; never the traceback."""

    def format(self, record: logging.LogRecord) -> str:
        text = record.getMessage()
        exc = record.exc_info[1] if record.exc_info else None
        if exc is not None:
            if not getattr(record, EXPLAINED, False):
                cause = (str(exc).splitlines() or [""])[0][:CAUSE_CHARS]
                text = f"{text}: {exc.__class__.__name__}" + (f": {cause}" if cause else "")
            text += DEBUG_HINT
        return " ".join(text.split())


class CommandHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to the current `sys.stderr` (click's test runner swaps it per invocation)."""

    def __init__(self) -> None:
        logging.Handler.__init__(self, logging.WARNING)
        self.setFormatter(OneLine())

    @property  # type: ignore[override]
    def stream(self) -> TextIO:
        return sys.stderr


def command_logging(debug: bool) -> Callable[[], None]:
    """Set up logging for one command; returns what undoes it when the command ends."""
    if debug:
        logging.basicConfig(level=logging.DEBUG, format=SERVICE_FORMAT)
        return lambda: None
    handler = CommandHandler()
    root = logging.getLogger()
    root.addHandler(handler)
    return lambda: root.removeHandler(handler)


def service_logging(level: str) -> None:
    """The long-running service logs in full (time, level, logger, traceback) at `level`."""
    root = logging.getLogger()
    for h in [h for h in root.handlers if isinstance(h, CommandHandler)]:
        root.removeHandler(h)
    logging.basicConfig(level=getattr(logging, level.upper(), logging.INFO), format=SERVICE_FORMAT)

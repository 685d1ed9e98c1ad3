"""The error boundary of each chat entry kind, over the one exception → message map.

Every exception that leaves the work of a chat event passes through `gtm.bot.failures`
(`log_failure`: the operator message, a log id and the traceback in the log; `Failure.for_people`:
what people may see — no Feishu error body, SQL or path reaches a chat):
- a message: the asker gets the error card (`templates/error.json.j2`) with the log id, the
  project's PM the 系统问题 card (`message`);
- a card action: the clicker gets an error toast with the log id, the PM of the clicked project
  the 系统问题 card (`card_action`);
- what runs after the answer (a reply queued on a timer, a late card update, a record-change
  event, a pool worker): logged with its log id and counted (`background`); nobody is waiting.
The dispatcher calls these and nothing else turns an exception into text.
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

from gtm.bot.cards import views as V
from gtm.bot.cards.button_values import ActionError, parse_action
from gtm.bot.cards.render import render
from gtm.bot.chat.action_effects import toast
from gtm.bot.chat.transports import Incoming
from gtm.bot.checks.check import notify_failure
from gtm.bot.failures import Failure, log_failure
from gtm.bot.failures import ProjectNotFound
from gtm.bot.runtime import ProjectRuntime, Runtime

log = logging.getLogger("gtm.bot.chat.dispatcher")


def error_card(zh: str, en: str = "") -> dict[str, Any]:
    """The card answering a question that failed: `zh`, then `en` (rendered from `error.json.j2`)."""
    return render("error", V.MessageView(title="出错了 / Error", title_en="出错了 / Error", text=zh, text_en=en,
                                         color="red"))


class ErrorBoundary:
    """The boundaries of one dispatcher: `count` bumps its stats, `clock` dates the PM's card."""

    def __init__(self, runtime: Runtime, clock: Callable[[], datetime], count: Callable[[str], None]) -> None:
        self.runtime = runtime
        self._clock = clock
        self._count = count

    def message(self, inc: Incoming, exc: BaseException, project: ProjectRuntime | None) -> dict[str, Any]:
        """The card answering a message whose answer failed; the PM is told."""
        self._count("failed")
        f = log_failure(f"answer to {inc.event_id}", exc, logger=log)
        card = error_card(f"没能回答：{f.for_people('zh')}", f"Could not answer: {f.for_people('en')}")
        self._tell_pm(project, exc, "answer", f.log_id)
        return card

    def card_action(self, inc: Incoming, exc: BaseException) -> dict[str, Any]:
        """The callback answer to a click whose handling failed; the clicked project's PM is told."""
        self._count("failed")
        f = log_failure(f"card action {inc.event_id}", exc, logger=log)
        self._tell_pm(self._clicked_project(inc), exc, "card_action", f.log_id)
        return {"toast": toast("error", f"处理失败：{f.for_people('zh')}", f"Failed: {f.for_people('en')}")}

    def background(self, where: str, exc: BaseException) -> Failure:
        """Work after the answer failed (nobody is waiting): logged with a log id and counted."""
        self._count("failed")
        return log_failure(where, exc, logger=log)

    def _clicked_project(self, inc: Incoming) -> ProjectRuntime | None:
        try:
            slug = parse_action(inc.action_value, inc.form_value, inc.action_option or None).p
            return self.runtime.project(slug)
        except (ActionError, ProjectNotFound):
            return None
        except Exception:  # noqa: BLE001 - in a failure report: the click's project is unknown, the log has it
            log.debug("no project to tell about the click %s", inc.event_id)
            return None

    def _tell_pm(self, project: ProjectRuntime | None, exc: BaseException, job: str, log_id: str) -> None:
        """The project's PM gets the 系统问题 card (once a day per kind; the ledger dedups)."""
        if project is not None:  # `notify_failure` never raises: it reports a failure itself
            notify_failure(self.runtime, project, exc, self._clock(), job=job, log_id=log_id)

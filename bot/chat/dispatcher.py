"""One dispatcher for every transport: dedup, fast ack, routing by chat, replies.

Feishu wants an answer within 3 s and redelivers otherwise (15 s, 5 min, 1 h, 6 h), and delivery is
at-least-once anyway. So `dispatch`:
- claims the event id in the store (`ledger.claim_event`) before anything else: a redelivery, a
  duplicate, or the same event after a restart finds the claim and does nothing. A message is
  claimed provisionally — claim → answer → mark done: the claim is leased to this process
  (`host:pid:token`, wall clock); if the process dies while answering, the redelivery finds a
  dead holder (or an expired lease) and answers, and the reply's uuid keeps a retried answer single;
- for messages and record changes returns at once and does the work on a small thread pool;
- for card actions computes the answer on the pool but waits at most `callback_budget` (2.5 s): the
  callback then carries the toast and the new card; if slower, it answers "处理中" and the worker
  PATCHes the card when done.

Routing: the bot answers in a project's configured chats only, and only people of its own tenant.
A group bound to no project gets a short "not linked" card; in p2p no mention is needed and the
asker's items are gathered across all their projects (see `gtm.bot.chat.ask`).

Failures: each entry kind has one error boundary (`gtm.bot.chat.boundary.ErrorBoundary`, over
the one exception → message map of `gtm.bot.failures`): an error card for a message, an error
toast for a click, a log line with a log id for work after the answer.

Replies go through `Im.reply_card` with `uuid` derived from the event id, so even a reply
retried after a crash is deduplicated by Feishu itself. Feishu accepts 5 messages/s per group and
per user (230020) and 50/s and 1,000/min per app (99991400, answered with a reset of at least 1 s,
up to a minute); a reply that would exceed any of them is sent when its slot comes
(`Im.reply_delay` books one time in the chat's and the app's logs of the gateway's rate limiter;
the reply goes out on a timer, so no worker sleeps) instead of being refused and queued until the
reset. The app-wide reply pace keeps a 10 % margin below im.send's limits (50 per 1.1 s, 900 per
61 s): the limiter's blocking im.send family (50 per 1.05 s, 1,000 per 61 s) then never has to
hold a worker, and the send times' jitter on their way to the server cannot tip a window over the
limit.
"""
from __future__ import annotations

import logging
import threading
import time
import uuid as uuidlib
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from datetime import datetime, timezone
from typing import Any, Protocol

from gtm.bot.chat.action_effects import ActionResult, toast
from gtm.bot.chat.actions import handle_action
from gtm.bot.chat.answers import not_linked_card
from gtm.bot.chat.ask import answer_incoming
from gtm.bot.chat.boundary import ErrorBoundary
from gtm.bot.chat.transports import Incoming
from gtm.bot.checks.reactor import EditReactor
from gtm.bot.runtime import ProjectRuntime, Runtime
from gtm.sync.feishu.errors import RateLimited
from gtm.sync.store.ledger import claim_event, mark_event_done, release_event

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]
ANSWER_LEASE_SECONDS = 60.0  # longer than any answer takes; Feishu redelivers after 15 s, 5 min, 1 h
CHAT_MAX_WAIT = 2.0  # seconds a reply may spend waiting on retries; a later rate-limit reset is queued
MAX_DEFERRALS = 3  # queued attempts of one reply before it counts as failed


def reply_uuid(event_id: str, salt: str = "reply") -> str:
    """A stable ≤50-char uuid for the reply to one event (Feishu dedups sends by uuid for 1 h)."""
    return str(uuidlib.uuid5(uuidlib.NAMESPACE_URL, f"gtm:{salt}:{event_id}"))


class Answerer(Protocol):
    """Computes the card answering a message (default: `gtm.bot.chat.ask.answer_incoming`;
    unit tests pass a stub)."""

    def __call__(self, runtime: Runtime, inc: Incoming, project: ProjectRuntime | None,
                 now: datetime) -> dict[str, Any]: ...


class Dispatcher:
    """Receives every `Incoming`; thread-safe; one per process (several are fine: the store dedups)."""

    def __init__(self, runtime: Runtime, *, workers: int = 4, callback_budget: float = 2.5,
                 snapshot_max_age: float = 120.0, bot_open_id: str | None = None,
                 clock: Clock | None = None,
                 answer: Answerer | None = None,
                 edit_debounce: float | None = None) -> None:
        self.runtime = runtime
        self.callback_budget = callback_budget
        self.snapshot_max_age = snapshot_max_age
        self._bot_open_id = bot_open_id
        self._bot_lookup_done = bot_open_id is not None
        self._clock = clock or (lambda: datetime.now(timezone.utc))
        self._answer = answer  # override for unit tests; default: gtm.bot.chat.ask.answer_incoming
        # a message's claim lasts this long (wall clock) unless its holder is provably dead
        self.answer_lease_seconds = ANSWER_LEASE_SECONDS
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="gtm-dispatch")
        self._inflight: set[Future] = set()
        self._lock = threading.Lock()
        self.stats: dict[str, int] = {"received": 0, "duplicates": 0, "replied": 0, "ignored": 0,
                                      "failed": 0, "late_cards": 0, "queued": 0, "paced": 0}
        if edit_debounce is None:
            edit_debounce = runtime.settings.edit_debounce_seconds
        self.reactor = EditReactor(runtime, self._clock, edit_debounce)
        self.boundary = ErrorBoundary(runtime, self._clock, self._bump)

    # -- identity ------------------------------------------------------------------------
    def bot_open_id(self) -> str | None:
        """The bot's own open_id (to tell "@bot" from other mentions); looked up once."""
        if not self._bot_lookup_done:
            self._bot_lookup_done = True
            try:
                self._bot_open_id = self.runtime.gateway.im.bot_open_id()
            except Exception as exc:  # noqa: BLE001 - fall back to "every group delivery is for us"
                log.warning("could not look up the bot's open_id: %s", exc)
        return self._bot_open_id

    # -- entry point ---------------------------------------------------------------------
    def dispatch(self, inc: Incoming) -> dict[str, Any] | None:
        """Called by the transports. Returns the card-callback answer, or None. Never raises."""
        self._bump("received")
        try:
            own_app = getattr(self.runtime.gateway, "app_id", "")
            if inc.app_id and own_app and inc.app_id != own_app:
                self._bump("ignored")
                return None
            if not self._claim(inc):
                self._bump("duplicates")
                if inc.kind == "card_action":
                    return {"toast": toast("info", "已处理", "Already handled")}
                return None
            if inc.kind == "message":
                self._submit(self._handle_message, inc)
                return None
            if inc.kind == "record_changed":
                self._submit(self._handle_record_changed, inc)
                return None
            if inc.kind == "card_action":
                return self._handle_card_action(inc)
        except Exception as exc:  # noqa: BLE001 - a transport must always get an answer
            if inc.kind == "card_action":
                return self.boundary.card_action(inc, exc)
            self.boundary.background(f"event {inc.event_id} ({inc.kind})", exc)
        return None

    def _claim(self, inc: Incoming) -> bool:
        """Claim the event. A message is claimed provisionally (claim → answer → mark done): if
        this process dies while answering, the redelivery finds a dead holder's claim and answers
        (the reply uuid keeps a retried answer single)."""
        if not inc.event_id:
            return True
        lease = self.answer_lease_seconds if inc.kind == "message" else None
        with self.runtime.store.session() as s:
            return bool(claim_event(s, inc.event_id, lease_seconds=lease))

    def _finish(self, inc: Incoming, *, answered: bool) -> None:
        """Mark a claimed message done (answered or deliberately ignored), or release the claim
        after a failure here so the next redelivery tries again."""
        if not inc.event_id or inc.kind != "message":
            return
        try:
            with self.runtime.store.session() as s:
                (mark_event_done if answered else release_event)(s, inc.event_id)
        except Exception:  # noqa: BLE001 - the lease still runs out on the wall clock
            log.warning("could not update the claim of %s", inc.event_id, exc_info=True)

    # -- messages ------------------------------------------------------------------------
    def _handle_message(self, inc: Incoming) -> None:
        try:
            replying = self._answer_message(inc)
        except BaseException:
            self._finish(inc, answered=False)
            raise
        if not replying:
            self._finish(inc, answered=True)  # ignored on purpose: nothing to redo

    def _answer_message(self, inc: Incoming) -> bool:
        """Answer (or ignore) a message; True when a reply is on its way (it marks the event done)."""
        if inc.sender_tenant_key and inc.tenant_key and inc.sender_tenant_key != inc.tenant_key:
            log.info("ignoring %s: sender of another tenant", inc.event_id)
            self._bump("ignored")
            return False
        if not inc.open_id or not (inc.text or inc.mentioned_bot):
            self._bump("ignored")
            return False
        project = None
        if not inc.is_p2p:
            bot = self.bot_open_id()
            if bot and not inc.mentioned_bot:
                self._bump("ignored")  # a group message not addressed to the bot
                return False
            project = self.runtime.project_for_chat(inc.chat_id)
            if project is None:
                self._reply_paced(inc, not_linked_card(inc.chat_id))
                return True
        try:
            card = self.answer(inc, project)
        except Exception as exc:  # noqa: BLE001 - the boundary of messages: a short card, the PM told
            card = self.boundary.message(inc, exc, project)
        self._reply_paced(inc, card)
        return True

    def _reply_paced(self, inc: Incoming, card: dict[str, Any]) -> None:
        """`reply` now, or — when the chat already had its 5 messages this second, or the app its
        replies of this second or minute — from a timer at its next slot (tracked like pool work,
        so `drain` waits for it)."""
        delay = self.runtime.gateway.im.reply_delay(inc.chat_id or inc.open_id)
        if delay <= 0:
            self.reply(inc, card)
            return
        self._bump("paced")  # waits for a send slot (the group's 5/s, the app's 50/s or 1,000/min)
        self._later(delay, lambda: self.reply(inc, card), inc)

    def answer(self, inc: Incoming, project: ProjectRuntime | None) -> dict[str, Any]:
        """The card answering `inc.text` (in `project`, or across the asker's projects in p2p)."""
        now = self._clock()
        if self._answer is not None:
            return self._answer(self.runtime, inc, project, now)
        return answer_incoming(self.runtime, inc, project, now, max_age=self.snapshot_max_age)

    def reply(self, inc: Incoming, card: dict[str, Any], *, deferrals: int = 0) -> str:
        """Reply to the message of `inc` with a card; returns the new message id ("" when queued).

        The chat path never waits long: retries share a budget of `CHAT_MAX_WAIT` seconds; a rate
        limit that resets later (e.g. `x-ogw-ratelimit-reset: 45`) queues the reply on a timer for
        that moment instead of holding a worker (and the asker's claim) for the whole wait. The
        reply's uuid keeps the queued retry single."""
        try:
            message_id = self.runtime.gateway.im.reply_card(inc.message_id, card, reply_uuid(inc.event_id),
                                                            context=inc.chat_id, max_wait=CHAT_MAX_WAIT)
        except RateLimited as exc:
            if deferrals >= MAX_DEFERRALS:
                raise
            delay = max(CHAT_MAX_WAIT, float(exc.reset_after or 0.0))
            log.info("reply to %s rate limited (reset in %.0fs): queued", inc.event_id, delay)
            self._bump("queued")
            self._later(delay, lambda: self.reply(inc, card, deferrals=deferrals + 1), inc)
            return ""
        self._bump("replied")
        self._finish(inc, answered=True)
        return message_id

    def _later(self, delay: float, fn: Callable[[], Any], inc: Incoming) -> None:
        """Run `fn` after `delay` seconds on a timer, tracked like pool work (`drain` waits)."""
        fut: Future = Future()
        with self._lock:
            self._inflight.add(fut)
        fut.add_done_callback(self._done)

        def run() -> None:
            try:
                fut.set_result(fn())
            except Exception as exc:  # noqa: BLE001 - a timer's work: through the boundary, the claim released
                self.boundary.background(f"delayed reply to {inc.event_id}", exc)
                self._finish(inc, answered=False)
                fut.set_exception(exc)

        timer = threading.Timer(delay, run)
        timer.daemon = True
        timer.start()

    def patch_card(self, message_id: str, card: dict[str, Any]) -> None:
        self.runtime.gateway.im.patch_card(message_id, card)

    # -- card actions --------------------------------------------------------------------
    def _handle_card_action(self, inc: Incoming) -> dict[str, Any]:
        if inc.sender_tenant_key and inc.tenant_key and inc.sender_tenant_key != inc.tenant_key:
            return {"toast": toast("error", "只有本企业成员可以操作", "Only members of this organisation")}
        now = self._clock()
        fut = self._submit(handle_action, self.runtime, inc, now)
        try:
            result = fut.result(timeout=self.callback_budget)
        except FutureTimeout:
            # Too slow for the callback: ack now, put the new card in place when it is ready.
            fut.add_done_callback(lambda f: self._late_card(inc, f))
            return {"toast": toast("info", "处理中…", "Working on it…")}
        except Exception as exc:  # noqa: BLE001 - the boundary of card actions: a toast, the PM told
            return self.boundary.card_action(inc, exc)
        return result.callback_answer()

    def _late_card(self, inc: Incoming, fut: Future[ActionResult]) -> None:
        """A click answered "处理中": put the new card in place once it is ready."""
        if fut.exception() is not None:
            return  # the worker's failure went through the boundary already (`_submit`)
        res = fut.result()
        if res.card and inc.message_id:
            try:
                self.patch_card(inc.message_id, res.card)
            except Exception as exc:  # noqa: BLE001 - a done-callback: through the boundary, nobody waits
                self.boundary.background(f"late card update for {inc.event_id}", exc)
                return
            self._bump("late_cards")

    # -- record changes ------------------------------------------------------------------
    def _handle_record_changed(self, inc: Incoming) -> None:
        for project in self.runtime.projects():
            if project.binding.app_token != inc.file_token:
                continue
            table_key = project.binding.table_key(inc.table_id)
            if not table_key:
                return
            mirror = self.runtime.mirror(project)
            mirror.refresh_records(table_key, list(inc.record_ids))
            self.reactor.changed(project, table_key, list(inc.record_ids))  # rules, debounced
            return

    # -- pool ----------------------------------------------------------------------------
    def _submit(self, fn: Callable[..., Any], *args: Any) -> Future:
        def run() -> Any:
            try:
                return fn(*args)
            except Exception as exc:  # work after the ack: through the boundary, then kept on the future
                self.boundary.background(f"worker {getattr(fn, '__name__', fn)}", exc)
                raise

        fut = self._pool.submit(run)
        with self._lock:
            self._inflight.add(fut)
        fut.add_done_callback(self._done)
        return fut

    def _done(self, fut: Future) -> None:
        with self._lock:
            self._inflight.discard(fut)

    def drain(self, timeout: float = 10.0) -> bool:
        """Wait until the work in flight is done (shutdown, tests). True when idle."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                pending = list(self._inflight)
            if not pending:
                return True
            for f in pending:
                try:
                    f.result(timeout=max(0.0, deadline - time.monotonic()))
                except Exception:  # noqa: BLE001 - waiting only: each failure went through the boundary
                    pass
        with self._lock:
            return not self._inflight

    def close(self, timeout: float = 10.0) -> None:
        self.reactor.close()
        self.drain(timeout)
        self._pool.shutdown(wait=False, cancel_futures=True)

    def _bump(self, key: str) -> None:
        with self._lock:
            self.stats[key] = self.stats.get(key, 0) + 1


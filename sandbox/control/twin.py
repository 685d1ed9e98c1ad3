"""`Control`, the Python twin of the control API (`sb.control`): the same operations as the
`/_sandbox/…` routes, callable from any thread (tests, the console, `gtm sandbox`, the demo).
"""
from __future__ import annotations

import asyncio
import json
import time
from typing import TYPE_CHECKING, Any

from gtm.sandbox import im
from gtm.sandbox.cards import CardError, validate_card
from gtm.sandbox.control.acting import callback_value, card_buttons, label_of, receive_event
from gtm.sandbox.state import App, User

if TYPE_CHECKING:
    from gtm.sandbox.server import Sandbox


class ControlError(Exception):
    """Bad control request (unknown id, user not in chat…); HTTP 400/404 on the wire."""

    def __init__(self, msg: str, status: int = 400) -> None:
        super().__init__(msg)
        self.status = status


class Control:
    """Python methods mirroring the control routes. Safe to call from any thread."""

    def __init__(self, sb: "Sandbox") -> None:
        self.sb = sb

    # -- lookups --------------------------------------------------------------------------
    def app(self, app_id: str | None = None) -> App:
        w = self.sb.world
        seed = getattr(self.sb, "seed", None)
        app_id = app_id or (seed.app_id if seed is not None else None) or next(iter(w.apps), None)
        if app_id not in w.apps:
            raise ControlError(f"unknown app {app_id}", 404)
        return w.apps[app_id]

    def user(self, open_id: str) -> User:
        u = self.sb.world.users.get(open_id)
        if u is None:
            raise ControlError(f"unknown user {open_id}", 404)
        return u

    def _run(self, coro):
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is not None and running is self.sb.loop:
            coro.close()
            raise RuntimeError("call the async variant (a*) from the sandbox loop")
        return self.sb.run_coro(coro)

    # -- world ----------------------------------------------------------------------------
    def create_tenant(self, name: str, tenant_key: str | None = None, domain: str = "sandbox") -> dict:
        t = self.sb.world.add_tenant(name, tenant_key, domain)
        return {"tenant_key": t.tenant_key, "name": t.name, "domain": t.domain}

    def create_app(self, tenant_key: str, name: str = "GTM 计划助手", app_id: str | None = None,
                   app_secret: str | None = None) -> dict:
        if tenant_key not in self.sb.world.tenants:
            raise ControlError(f"unknown tenant {tenant_key}", 404)
        a = self.sb.world.add_app(tenant_key, app_id, app_secret, name=name)
        return self.app_json(a, secret=True)

    def create_user(self, tenant_key: str, name: str, open_id: str | None = None, **kw: Any) -> dict:
        if tenant_key not in self.sb.world.tenants:
            raise ControlError(f"unknown tenant {tenant_key}", 404)
        allowed = {"en_name", "email", "user_id", "union_id", "mobile", "resigned", "stopped_bot"}
        u = self.sb.world.add_user(tenant_key, name, open_id, **{k: v for k, v in kw.items() if k in allowed})
        return self.user_json(u)

    def update_user(self, open_id: str, resigned: bool | None = None, stopped_bot: bool | None = None,
                    available: bool | None = None, app_id: str | None = None) -> dict:
        """Flip the IM error switches: resigned (230029), stopped_bot (230053), available (230013)."""
        u = self.user(open_id)
        with self.sb.world.lock:
            if resigned is not None:
                u.resigned = resigned
            if stopped_bot is not None:
                u.stopped_bot = stopped_bot
            if available is not None:
                s = im.store(self.sb).unavailable.setdefault(self.app(app_id).app_id, set())
                (s.discard if available else s.add)(open_id)
        return self.user_json(u)

    def create_chat(self, tenant_key: str, name: str, members: list[str] | None = None,
                    bots: list[str] | None = None, chat_id: str | None = None) -> dict:
        if tenant_key not in self.sb.world.tenants:
            raise ControlError(f"unknown tenant {tenant_key}", 404)
        c = self.sb.world.add_chat(tenant_key, name, members, bots, chat_id)
        return self.chat_json(c.chat_id)

    def _chat(self, chat_id: str):
        c = self.sb.world.chats.get(chat_id)
        if c is None:
            raise ControlError(f"unknown chat {chat_id}", 404)
        return c

    def add_member(self, chat_id: str, open_id: str) -> dict:
        c, _ = self._chat(chat_id), self.user(open_id)
        with self.sb.world.lock:
            if open_id not in c.members:
                c.members.append(open_id)
        return self.chat_json(chat_id)

    def remove_member(self, chat_id: str, open_id: str) -> dict:
        c = self._chat(chat_id)
        with self.sb.world.lock:
            c.members = [m for m in c.members if m != open_id]
        return self.chat_json(chat_id)

    def add_bot(self, chat_id: str, app_id: str | None = None) -> dict:
        c, a = self._chat(chat_id), self.app(app_id)
        with self.sb.world.lock:
            if a.app_id not in c.bots:
                c.bots.append(a.app_id)
        return self.chat_json(chat_id)

    def remove_bot(self, chat_id: str, app_id: str | None = None) -> dict:
        c, a = self._chat(chat_id), self.app(app_id)
        with self.sb.world.lock:
            c.bots = [b for b in c.bots if b != a.app_id]
        return self.chat_json(chat_id)

    def dissolve_chat(self, chat_id: str) -> dict:
        c = self._chat(chat_id)
        c.dissolved = True
        return self.chat_json(chat_id)

    def set_event_mode(self, mode: str, webhook_url: str | None = None, encrypt_key: str | None = None,
                       verification_token: str | None = None, card_webhook_url: str | None = None,
                       app_id: str | None = None) -> dict:
        """Switch an app between long connection ("ws") and webhook delivery."""
        if mode not in ("ws", "webhook"):
            raise ControlError("mode must be ws or webhook")
        a = self.app(app_id)
        if mode == "webhook" and not (webhook_url or a.webhook_url):
            raise ControlError("webhook mode needs webhook_url")
        with self.sb.world.lock:
            a.event_mode = mode
            for attr, value in (("webhook_url", webhook_url), ("encrypt_key", encrypt_key),
                                ("verification_token", verification_token), ("card_webhook_url", card_webhook_url)):
                if value is not None:
                    setattr(a, attr, value)
        return self.app_json(a)

    def verify_url(self, app_id: str | None = None) -> bool:
        return self._run(self.sb.events.verify_url(self.app(app_id).app_id))  # type: ignore[attr-defined]

    def disconnect(self, app_id: str | None = None) -> int:
        """Drop every long connection of the app (the SDK client reconnects by itself)."""
        return self._run(self.sb.ws.disconnect(self.app(app_id).app_id))  # type: ignore[attr-defined]

    def ws_connections(self, app_id: str | None = None) -> list[str]:
        return [c.device_id for c in self.sb.ws.connections(self.app(app_id).app_id)]  # type: ignore[attr-defined]

    # -- acting as a user -----------------------------------------------------------------
    def post_message(self, chat_id: str | None, open_id: str, text: str, mention_bot: bool = True,
                     app_id: str | None = None) -> str:
        """Post a text message as a user; returns its message_id. `chat_id=None` → p2p with the bot.

        The bot mention becomes `@_user_1` in the content, with a mention of the bot; group
        messages reach the bots they mention, p2p messages always reach the app.
        """
        user = self.user(open_id)
        st = im.store(self.sb)
        if chat_id is None:
            chat_id = im.p2p_chat_id(self.sb, self.app(app_id).app_id, open_id)
        if chat_id in st.p2p_chats:
            p = st.p2p_chats[chat_id]
            if p["open_id"] != open_id:
                raise ControlError(f"{open_id} is not in p2p chat {chat_id}")
            targets = [self.sb.world.apps[p["app_id"]]]
        else:
            chat = self._chat(chat_id)
            if open_id not in chat.members:
                raise ControlError(f"user {open_id} is not a member of chat {chat_id}")
            if chat.dissolved:
                raise ControlError(f"chat {chat_id} is dissolved")
            targets = [self.sb.world.apps[b] for b in chat.bots if b in self.sb.world.apps]
        raw = text
        if mention_bot:
            bot = self.app(app_id) if app_id or len(targets) != 1 else targets[0]
            raw = f'<at user_id="{bot.bot_open_id}">{bot.name}</at> {text}'
        content, mentions = im.rewrite_mentions(self.sb, "text", {"text": raw})
        rec = im.add_message(self.sb, chat_id, "text", json.dumps(content, ensure_ascii=False), mentions, user=user)
        group = rec["chat_type"] == "group"
        for a in targets:
            if group and self.sb.config.group_needs_mention and not any(m["open_id"] == a.bot_open_id for m in mentions):
                continue
            self.sb.emit_event(a.app_id, "im.message.receive_v1", receive_event(rec, user))  # type: ignore[attr-defined]
        return rec["message_id"]

    def click(self, message_id: str, open_id: str, value: Any = None, form_value: dict | None = None,
              button_text: str | None = None, option: str | None = None, tag: str | None = None) -> dict:
        """Click a card button as a user; returns the app's callback answer (toast/card) as a dict."""
        return self._run(self.aclick(message_id, open_id, value, form_value, button_text, option, tag))["answer"]

    async def aclick(self, message_id: str, open_id: str, value: Any = None, form_value: dict | None = None,
                     button_text: str | None = None, option: str | None = None, tag: str | None = None) -> dict:
        user = self.user(open_id)
        st = im.store(self.sb)
        rec = st.messages.get(message_id)
        if rec is None or rec["msg_type"] != "interactive" or not rec.get("app_id"):
            raise ControlError(f"message {message_id} is not a bot card", 404)
        card = json.loads(rec["body"]["content"])
        buttons = list(card_buttons(card.get("body", {}).get("elements", [])))
        name = None
        if value is None and tag in (None, "button"):
            pick = next((b for b in buttons if button_text is None or label_of(b) == button_text), None)
            if pick is None:
                raise ControlError(f"no button {button_text!r} on message {message_id}")
            value, name = callback_value(pick), pick.get("name")
        elif button_text is not None:
            pick = next((b for b in buttons if label_of(b) == button_text), None)
            name = pick.get("name") if pick else None
        action: dict[str, Any] = {"tag": tag or "button", "value": value if value is not None else {},
                                  "timezone": "Asia/Shanghai"}
        if form_value is not None:
            action["form_value"] = form_value
        if name:
            action["name"] = name
        if option is not None:
            action["option"] = option
        app = self.sb.world.apps[rec["app_id"]]
        event = {"operator": {"open_id": user.open_id, "user_id": user.user_id, "union_id": user.union_id,
                              "tenant_key": user.tenant_key},
                 "token": im.new_callback_token(self.sb, app.app_id, message_id),
                 "action": action, "host": "im_message",
                 "context": {"open_message_id": message_id, "open_chat_id": rec["chat_id"]}}
        answer = await self.sb.events.call(app.app_id, "card.action.trigger", event)  # type: ignore[attr-defined]
        updated, error = False, None
        new_card = answer.get("card") if isinstance(answer, dict) else None
        if isinstance(new_card, dict) and new_card.get("type") == "raw" and isinstance(new_card.get("data"), dict):
            try:
                validate_card(new_card["data"], lambda uid: uid in self.sb.world.users, self.sb.config.card_max_elements)
                im.replace_card(self.sb, message_id, new_card["data"])
                updated = True
            except CardError as err:
                error = err.api_error().msg
        return {"answer": answer, "card_updated": updated, "card_error": error}

    # -- reading --------------------------------------------------------------------------
    def messages(self, chat_id: str, bots_only: bool = False) -> list[dict]:
        """Messages of a chat, oldest first, with `content`/`card` parsed."""
        st = im.store(self.sb)
        with self.sb.world.lock:
            recs = [st.messages[m] for m in st.by_chat.get(chat_id, []) if m in st.messages]
        return [im.view(r) for r in recs if not bots_only or r["sender"]["sender_type"] == "app"]

    def p2p_messages(self, open_id: str, app_id: str | None = None, bots_only: bool = False) -> list[dict]:
        return self.messages(im.p2p_chat_id(self.sb, self.app(app_id).app_id, open_id), bots_only)

    def wait_for_messages(self, chat_id: str, n: int, timeout: float = 5.0, bots_only: bool = True) -> list[dict]:
        """Poll until the chat holds ≥ n messages (by default: sent by bots); TimeoutError otherwise."""
        end = time.monotonic() + timeout
        while True:
            msgs = self.messages(chat_id, bots_only)
            if len(msgs) >= n:
                return msgs
            if time.monotonic() > end:
                raise TimeoutError(f"chat {chat_id} has {len(msgs)} messages, expected {n}")
            time.sleep(0.02)

    def message(self, message_id: str) -> dict:
        rec = im.store(self.sb).messages.get(message_id)
        if rec is None:
            raise ControlError(f"unknown message {message_id}", 404)
        return im.view(rec)

    def journal(self, since: int = 0) -> list[dict]:
        return self.sb.journal.since(since)

    def deliveries(self, since: int = 0) -> list[dict]:
        return self.sb.events.deliveries[since:]  # type: ignore[attr-defined]

    def inject(self, path_contains: str, kind: str, count: int = 1, **kw: Any) -> dict:
        f = self.sb.inject(path_contains, kind, count, **kw)
        return {"path_contains": f.path_contains, "kind": f.kind, "count": f.count}

    def clear_faults(self) -> None:
        self.sb.clear_faults()

    def expire_tokens(self) -> None:
        self.sb.expire_tokens()  # type: ignore[attr-defined]

    # -- JSON views -----------------------------------------------------------------------
    def app_json(self, a: App, secret: bool = True) -> dict:
        d = {"app_id": a.app_id, "tenant_key": a.tenant_key, "name": a.name, "bot_open_id": a.bot_open_id,
             "event_mode": a.event_mode, "webhook_url": a.webhook_url, "card_webhook_url": a.card_webhook_url,
             "encrypt_key": a.encrypt_key, "verification_token": a.verification_token}
        if secret:
            d["app_secret"] = a.app_secret
        return d

    @staticmethod
    def user_json(u: User) -> dict:
        return {"open_id": u.open_id, "user_id": u.user_id, "union_id": u.union_id, "name": u.name,
                "en_name": u.en_name, "email": u.email, "tenant_key": u.tenant_key, "resigned": u.resigned,
                "stopped_bot": u.stopped_bot}

    def chat_json(self, chat_id: str) -> dict:
        c = self._chat(chat_id)
        return {"chat_id": c.chat_id, "name": c.name, "tenant_key": c.tenant_key, "members": list(c.members),
                "bots": list(c.bots), "dissolved": c.dissolved, "chat_type": "group"}

    def info(self) -> dict:
        """What `gtm sandbox` prints: url, the default app's credentials, users, chats."""
        w = self.sb.world
        with w.lock:
            apps = [self.app_json(a) for a in w.apps.values()]
            users = [self.user_json(u) for u in w.users.values()]
            chats = [self.chat_json(c) for c in w.chats]
            st = im.store(self.sb)
            p2p = [{"chat_id": cid, "chat_type": "p2p", "app_id": p["app_id"], "open_id": p["open_id"],
                    "name": w.users[p["open_id"]].name if p["open_id"] in w.users else p["open_id"]}
                   for cid, p in st.p2p_chats.items()]
        out: dict[str, Any] = {"url": self.sb.url, "console": f"{self.sb.url}/console", "apps": apps,
                               "users": users, "chats": chats, "p2p_chats": p2p}
        if w.apps:
            a = self.app()
            out.update(app_id=a.app_id, app_secret=a.app_secret, tenant_key=a.tenant_key, bot_open_id=a.bot_open_id)
        return out

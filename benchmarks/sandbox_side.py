"""The sandbox in a process of its own, and the helpers that run inside it.

Real Feishu is another machine: its JSON encoding and filtering must not share our GIL, or every
figure would mostly measure the emulator. So the sandbox runs in a spawned child process and the
bench talks to it over HTTP (the product) and a pipe (setup and sandbox-side timestamps):
`SandboxProcess.call(fn, ...)` runs a module-level `fn(sb, ...)` of this module in the sandbox
process. The child imports only this module, so it imports nothing of the product: keep it so.
"""
from __future__ import annotations

import gc
import multiprocessing as mp
import threading
import warnings
from typing import Any, Callable

from gtm.sandbox import Sandbox, SandboxConfig, im
from gtm.sandbox.bitable.values import write_record
from gtm.sandbox.seed import APP_ID, PEOPLE, TENANT_KEY, seed_default


def _sandbox_main(conn, config: dict[str, Any]) -> None:
    warnings.filterwarnings("ignore")

    sb = Sandbox(SandboxConfig(**config))
    seed = seed_default(sb.world)
    url = sb.start(port=0)
    conn.send((url, seed))
    while True:
        try:
            msg = conn.recv()
        except EOFError:
            break
        if msg is None:
            break
        fn, args, kw = msg
        try:
            conn.send(("ok", fn(sb, *args, **kw)))
        except Exception as exc:  # noqa: BLE001 - hand the error to the parent
            conn.send(("err", f"{exc.__class__.__name__}: {exc}"))
    sb.stop()


class SandboxProcess:
    """`gtm.sandbox.Sandbox` in a spawned process; `url`, `seed`, `call(fn, *args)`, `pid`."""

    def __init__(self, **config: Any) -> None:
        ctx = mp.get_context("spawn")
        self._conn, child = ctx.Pipe()
        self.proc = ctx.Process(target=_sandbox_main, args=(child, config), name="gtm-bench-sandbox", daemon=True)
        self.proc.start()
        if not self._conn.poll(60):
            raise RuntimeError("the sandbox process did not start within 60 s")
        self.url, self.seed = self._conn.recv()
        self._lock = threading.Lock()

    @property
    def pid(self) -> int:
        return int(self.proc.pid or 0)

    def call(self, fn: Callable[..., Any], *args: Any, **kw: Any) -> Any:
        with self._lock:
            self._conn.send((fn, args, kw))
            status, value = self._conn.recv()
        if status != "ok":
            raise RuntimeError(f"sandbox-side {getattr(fn, '__name__', fn)} failed: {value}")
        return value

    def stop(self) -> None:
        try:
            with self._lock:
                self._conn.send(None)
        except (OSError, BrokenPipeError):
            pass
        self.proc.join(10)
        if self.proc.is_alive():
            self.proc.terminate()
            self.proc.join(5)


# -- sandbox-side helpers (run inside the sandbox process through `SandboxProcess.call`) ----------
def sb_load(sb, app_token: str, table_id: str, rows: list[dict[str, Any]], by: str,
            modified: list[int] | None) -> list[str]:
    """Store write-format rows straight into a table, converted by the sandbox's own codec."""
    svc = sb.bitable
    ids = []
    with sb.world.lock:
        base, table = svc.table(app_token, table_id)
        ctx = svc.ctx(base)
        names = {f.name: f for f in table.fields.values()}
        now = svc.clock()
        for i, fields in enumerate(rows):
            stored = {k: v for k, v in write_record(fields, table.fields, ctx, names).items() if v is not None}
            ids.append(svc.store.new_record(table, stored, by, now=modified[i] if modified else now).record_id)
    # The loaded records live as long as the sandbox: move them out of the cyclic GC's way, or its
    # full collections (hundreds of ms over 100k records) show up as random slow pages.

    gc.collect()
    gc.freeze()
    return ids


def sb_clock(sb) -> int:
    return sb.bitable.clock()


def sb_limited(sb) -> dict[str, int]:
    """429s answered so far, by API family."""
    return dict(getattr(sb, "rate_limited", {}))


def sb_journal_mark(sb) -> int:
    return sb.journal.mark()


def sb_journal(sb, mark: int) -> list[dict[str, Any]]:
    """Journal entries since `mark` without bodies (method, path, status, code, time)."""
    return [{k: e.get(k) for k in ("method", "path", "status", "code", "time")} for e in sb.journal.since(mark)]


def sb_act_update(sb, open_id: str, app_token: str, table_id: str, record_id: str, fields: dict[str, Any]) -> None:
    sb.bitable.act_update(open_id, app_token, table_id, record_id, fields)


def sb_add_member(sb, app_token: str, open_id: str) -> None:
    sb.bitable.add_member(app_token, "openid", open_id, "edit")


def sb_people_and_groups(sb, n_askers: int, n_groups: int) -> dict[str, Any]:
    """n_askers new people of the demo tenant, spread over n_groups new groups with the bot in each,
    plus one big group holding everybody."""
    w = sb.world
    askers = [w.add_user(TENANT_KEY, f"提问者{i:02d}", f"ou_bench_asker_{i:02d}").open_id for i in range(n_askers)]
    base = [p[0] for p in PEOPLE]
    groups: dict[str, list[str]] = {}
    for g in range(n_groups):
        members = [a for i, a in enumerate(askers) if i % n_groups == g]
        chat = w.add_chat(TENANT_KEY, f"基准群{g:02d}", base + members, [APP_ID], f"oc_bench_group_{g:02d}")
        groups[chat.chat_id] = members
    big = w.add_chat(TENANT_KEY, "基准大群", base + askers, [APP_ID], "oc_bench_all")
    return {"askers": askers, "groups": groups, "big": big.chat_id}


def sb_post(sb, chat_id: str, open_id: str, text: str) -> str:
    return sb.control.post_message(chat_id, open_id, text)


def sb_latencies(sb, message_ids: list[str]) -> dict[str, tuple[int, int]]:
    """user message id → (event header create_time ms, bot reply create_time ms) for answered ones."""
    wanted = set(message_ids)
    emitted: dict[str, int] = {}
    for env in list(sb.events.envelopes.values()):
        if env["header"].get("event_type") != "im.message.receive_v1":
            continue
        mid = env["event"]["message"]["message_id"]
        if mid in wanted:
            emitted[mid] = int(env["header"]["create_time"])
    st = im.store(sb)
    out: dict[str, tuple[int, int]] = {}
    with sb.world.lock:
        for rec in st.messages.values():
            p = rec.get("parent_id")
            if p in emitted and rec["sender"]["sender_type"] == "app" and p not in out:
                out[p] = (emitted[p], int(rec["create_time"]))
    return out


def sb_ws_connections(sb, app_id: str) -> int:
    return len(sb.control.ws_connections(app_id))


def sb_bot_replies(sb, chat_id: str) -> int:
    return len(sb.control.messages(chat_id, bots_only=True))


def sb_add_chats(sb, n: int, prefix: str) -> list[str]:
    """n new groups of the demo tenant with the bot and the demo people in each."""
    return [sb.world.add_chat(TENANT_KEY, f"{prefix}{i:02d}", [p[0] for p in PEOPLE], [APP_ID],
                              f"oc_{prefix}_{i:02d}").chat_id for i in range(n)]

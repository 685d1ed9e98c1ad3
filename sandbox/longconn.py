"""Long-connection (WebSocket) mode as lark-oapi's `lark.ws.Client` expects it (docs/feishu-api.md §9).

`POST /callback/ws/endpoint` (AppID/AppSecret in the body, no auth header) answers a URL on this
same server, `ws://127.0.0.1:PORT/callback/ws?device_id=…&service_id=…`, and a ClientConfig with
small reconnect values (`config.ws_reconnect_interval`, `ws_reconnect_nonce`) so SDK clients come
back fast after a drop. On the socket we speak pbbp2 frames built with lark-oapi's own protobuf
module: pings get a pong carrying the ClientConfig JSON, events go out as DATA frames
(type=event, message_id, sum=1, seq=0, trace_id) and the client's ACK (same SeqID) resolves the
waiting send. Cluster mode: each event goes to one random connection of the app.
`hub.disconnect(app_id)` drops every connection of an app (fault tests).
"""
from __future__ import annotations

import asyncio
import base64
import itertools
import json
import random
import secrets
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aiohttp import WSMsgType, web
from lark_oapi.ws.pb.pbbp2_pb2 import Frame

from gtm.sandbox.errors import ApiError

if TYPE_CHECKING:
    from gtm.sandbox.server import Sandbox

SERVICE_ID = 33554678
METHOD_CONTROL, METHOD_DATA = 0, 1


@dataclass
class Conn:
    app_id: str
    device_id: str
    ws: web.WebSocketResponse
    pending: dict[int, asyncio.Future] = field(default_factory=dict)
    received: int = 0  # events sent to this connection


def _headers(frame: Frame) -> dict[str, str]:
    return {h.key: h.value for h in frame.headers}


def _frame(method: int, seq: int, headers: dict[str, str], payload: bytes = b"") -> Frame:
    f = Frame()
    f.SeqID, f.LogID, f.service, f.method = seq, seq, SERVICE_ID, method
    for k, v in headers.items():
        h = f.headers.add()
        h.key, h.value = k, v
    if payload:
        f.payload = payload
    return f


class WsHub:
    """Registered device ids, live connections per app and pending ACKs. Attached as `sb.ws`."""

    def __init__(self, sb: "Sandbox") -> None:
        self.sb = sb
        self.devices: dict[str, str] = {}  # device_id -> app_id (from the endpoint call)
        self.conns: dict[str, list[Conn]] = {}
        self.connects: int = 0  # successful websocket upgrades, all apps
        self._seq = itertools.count(1)

    def client_config(self) -> dict[str, int]:
        c = self.sb.config
        return {"ReconnectCount": -1, "ReconnectInterval": c.ws_reconnect_interval,
                "ReconnectNonce": c.ws_reconnect_nonce, "PingInterval": c.ws_ping_interval}

    def connections(self, app_id: str) -> list[Conn]:
        return [c for c in self.conns.get(app_id, []) if not c.ws.closed]

    async def send(self, app_id: str, payload: bytes, message_id: str, timeout: float) -> dict[str, Any]:
        """Send one event to a random connection; wait for its ACK. LookupError without clients."""
        live = self.connections(app_id)
        if not live:
            raise LookupError("no long connection is online for this app")
        conn = random.choice(live)
        seq = next(self._seq)
        fut: asyncio.Future = asyncio.get_running_loop().create_future()
        conn.pending[seq] = fut
        frame = _frame(METHOD_DATA, seq, {"type": "event", "message_id": message_id, "sum": "1", "seq": "0",
                                          "trace_id": secrets.token_hex(8)}, payload)
        try:
            await conn.ws.send_bytes(frame.SerializeToString())
            conn.received += 1
            ack = await asyncio.wait_for(fut, timeout)
        except (ConnectionError, RuntimeError) as exc:
            raise LookupError(f"connection lost: {exc}")
        finally:
            conn.pending.pop(seq, None)
        ack["conn"] = conn.device_id
        return ack

    async def disconnect(self, app_id: str | None = None) -> int:
        """Close every connection (of one app); returns how many were closed."""
        targets = [c for a, cs in self.conns.items() if app_id in (None, a) for c in cs if not c.ws.closed]
        for c in targets:
            await c.ws.close()
        return len(targets)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        device_id = request.query.get("device_id", "")
        app_id = self.devices.get(device_id)
        if app_id is None:
            return web.json_response({"code": 403, "msg": "forbidden"}, status=403,
                                     headers={"handshake-status": "403", "handshake-msg": "unknown device_id"})
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        conn = Conn(app_id, device_id, ws)
        self.conns.setdefault(app_id, []).append(conn)
        self.connects += 1
        try:
            async for msg in ws:
                if msg.type != WSMsgType.BINARY:
                    continue
                frame = Frame()
                try:
                    frame.ParseFromString(msg.data)
                except Exception:  # noqa: BLE001 - a malformed frame is ignored, like the real gateway
                    continue
                hs = _headers(frame)
                if frame.method == METHOD_CONTROL and hs.get("type") == "ping":
                    pong = _frame(METHOD_CONTROL, 0, {"type": "pong"}, json.dumps(self.client_config()).encode())
                    await ws.send_bytes(pong.SerializeToString())
                elif frame.method == METHOD_DATA:
                    fut = conn.pending.get(frame.SeqID)
                    if fut is not None and not fut.done():
                        fut.set_result(self._ack(frame))
        finally:
            self.conns[app_id] = [c for c in self.conns.get(app_id, []) if c is not conn]
            for fut in conn.pending.values():
                if not fut.done():
                    fut.set_exception(ConnectionError("connection closed before the ACK"))
        return ws

    @staticmethod
    def _ack(frame: Frame) -> dict[str, Any]:
        try:
            resp = json.loads(frame.payload or b"{}")
        except ValueError:
            return {"code": 0, "error": "ACK payload is not JSON"}
        answer = None
        if resp.get("data"):
            try:
                answer = json.loads(base64.b64decode(resp["data"]))
            except (ValueError, TypeError):
                answer = None
        return {"code": resp.get("code"), "answer": answer, "biz_rt": _headers(frame).get("biz_rt")}


def register(app: web.Application, sb: "Sandbox") -> None:
    hub = WsHub(sb)
    sb.ws = hub  # type: ignore[attr-defined]

    async def endpoint(request: web.Request) -> web.Response:
        try:
            body = json.loads(await request.read() or b"{}")
        except ValueError:
            raise ApiError(1000040344, "no credential", 200)
        a = sb.world.apps.get(str(body.get("AppID", "")))
        if not body.get("AppID") or not body.get("AppSecret"):
            return web.json_response({"code": 1000040344, "msg": "no credential"})
        if a is None or a.app_secret != body.get("AppSecret"):
            return web.json_response({"code": 514, "msg": "auth failed"})
        if len(hub.connections(a.app_id)) >= sb.config.ws_max_connections:
            return web.json_response({"code": 1000040350, "msg": "too many connections"})
        device_id = str(random.randint(10**17, 10**18 - 1))
        hub.devices[device_id] = a.app_id
        host = sb.url.split("://", 1)[1]
        url = f"ws://{host}/callback/ws?device_id={device_id}&service_id={SERVICE_ID}"
        return web.json_response({"code": 0, "msg": "ok", "data": {"URL": url, "ClientConfig": hub.client_config()}})

    async def shutdown(_app: web.Application) -> None:
        await hub.disconnect(None)

    app.router.add_post("/callback/ws/endpoint", endpoint)
    app.router.add_get("/callback/ws", hub.handle)
    app.on_shutdown.append(shutdown)

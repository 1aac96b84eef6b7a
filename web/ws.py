"""`GET /ws`: the agent's live channel; resumes from `?epoch=…&since=…` without duplicates.

Who it is for never travels in the URL (URLs reach logs): the browser's session cookie (same
origin only), or an API client's bearer token in the `Authorization` header, or, from a
browser-like client that cannot set headers, offered as the subprotocol `bearer.<token>`
beside `callcentre` (the one the server answers with). `?token=` is refused.

The socket closes with a code and one log line, never a traceback: 4401 when its session
ends (logout, password change, deactivation: web/revocation.py), 1008 for a frame the
protocol has no place for (binary, not a JSON object), 1009 for one too big.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from dataclasses import dataclass
from urllib.parse import urlsplit

from fastapi import APIRouter, WebSocket, WebSocketDisconnect

from web.auth import COOKIE, authenticate, bearer_token
from web.events import SocketsEnded
from web.outbox import Delivery
from web.services import Services
from web.ws_messages import HelloMessage, PbxStatus

log = logging.getLogger(__name__)
router = APIRouter()

CLOSE_UNAUTHENTICATED = 4401
CLOSE_FORBIDDEN = 4403
CLOSE_POLICY_VIOLATION = 1008
CLOSE_TOO_BIG = 1009
SUBPROTOCOL = "callcentre"
BEARER_SUBPROTOCOL = "bearer."
MAX_CLIENT_MESSAGE = 4096  # characters; the browser sends nothing the server needs yet


@dataclass(frozen=True, slots=True)
class Closing:
    code: int
    reason: str


@dataclass(frozen=True, slots=True)
class Handshake:
    cookie: str | None
    bearer: str | None
    subprotocol: str | None  # the one to answer with, if the client offered any


def _handshake(websocket: WebSocket) -> Handshake:
    offered = [str(p) for p in websocket.scope.get("subprotocols", ())]
    offered_token = next((p for p in offered if p.startswith(BEARER_SUBPROTOCOL)), None)
    bearer = bearer_token(websocket.headers) or (
        offered_token[len(BEARER_SUBPROTOCOL) :] or None if offered_token else None
    )
    answer = SUBPROTOCOL if SUBPROTOCOL in offered else offered_token
    cookie = None if bearer else websocket.cookies.get(COOKIE)
    return Handshake(cookie, bearer, answer)


def _same_origin(websocket: WebSocket) -> bool:
    origin = websocket.headers.get("origin")
    return origin is None or urlsplit(origin).netloc == websocket.headers.get("host")


@router.websocket("/ws")
async def socket(websocket: WebSocket) -> None:
    svc: Services = websocket.app.state.services
    if "token" in websocket.query_params:
        log.warning(
            "refused a websocket with a token in its URL: send it in the Authorization header "
            "or the bearer subprotocol"
        )
        await websocket.close(code=CLOSE_UNAUTHENTICATED)
        return
    handshake = _handshake(websocket)
    caller = await authenticate(svc, cookie=handshake.cookie, bearer=handshake.bearer)
    if caller is None:
        await websocket.close(code=CLOSE_UNAUTHENTICATED)
        return
    if handshake.bearer is None and not _same_origin(websocket):
        await websocket.close(code=CLOSE_FORBIDDEN)  # a cookie must not open it cross-site
        return
    await websocket.accept(subprotocol=handshake.subprotocol)
    # Before the backlog: nothing falls in between; with the session, so its end closes us.
    queue = svc.outbox.listen(caller.id, caller.session_id)
    svc.metrics.clients.inc()
    closing: Closing | None = None
    try:
        since = websocket.query_params.get("since", "0")
        last = (
            int(since)
            if since.isdigit() and websocket.query_params.get("epoch") == svc.outbox.epoch
            else 0
        )
        state = await svc.agent_states.get(caller.id) if svc.agent_states is not None else None
        hello = HelloMessage(
            epoch=svc.outbox.epoch,
            last_seq=svc.outbox.last_seq(caller.id),
            server_time=svc.clock.now(),
            resumed_from=last,
            user=caller.user,
            state=state,
            pbx=PbxStatus(connected=svc.pbx_connected()),
        )
        await websocket.send_text(json.dumps(hello.model_dump(mode="json"), ensure_ascii=False))
        for delivery in svc.outbox.since(caller.id, last):
            last = await _send(websocket, svc, delivery, last)
        receiver = asyncio.create_task(_read_client(websocket))
        try:
            while not receiver.done():
                getter = asyncio.create_task(queue.get())
                done, _ = await asyncio.wait(
                    {getter, receiver}, return_when=asyncio.FIRST_COMPLETED
                )
                if getter not in done:
                    getter.cancel()
                    break
                item = getter.result()
                if isinstance(item, SocketsEnded):
                    closing = Closing(CLOSE_UNAUTHENTICATED, item.reason)
                    break
                last = await _send(websocket, svc, item, last)
            if closing is None and receiver.done():
                closing = receiver.result()
                if closing is not None:
                    log.warning("closed the websocket of user %d: %s", caller.id, closing.reason)
        finally:
            receiver.cancel()
            with contextlib.suppress(asyncio.CancelledError, WebSocketDisconnect):
                await receiver
        if closing is not None:
            with contextlib.suppress(WebSocketDisconnect, RuntimeError):
                await websocket.close(code=closing.code, reason=closing.reason)
    except WebSocketDisconnect:
        pass
    finally:
        svc.outbox.unlisten(caller.id, queue)
        svc.metrics.clients.dec()


async def _send(websocket: WebSocket, svc: Services, delivery: Delivery, last: int) -> int:
    if delivery.seq <= last:
        return last  # already delivered (backlog and live overlap)
    await websocket.send_text(json.dumps(delivery.message, ensure_ascii=False))
    if delivery.started is not None:
        svc.metrics.pop_latency.observe(svc.clock.monotonic() - delivery.started)
    return delivery.seq


async def _read_client(websocket: WebSocket) -> Closing | None:
    """Read what the client sends, so a disconnect is noticed at once: None when it left, or
    why it must be closed. JSON objects are accepted (and ignored: nothing is asked yet)."""
    while True:
        message = await websocket.receive()
        if message["type"] == "websocket.disconnect":
            return None
        text = message.get("text")
        if text is None:
            return Closing(CLOSE_POLICY_VIOLATION, "binary frames are not accepted")
        if len(text) > MAX_CLIENT_MESSAGE:
            return Closing(CLOSE_TOO_BIG, f"messages are at most {MAX_CLIENT_MESSAGE} characters")
        try:
            parsed = json.loads(text)
        except ValueError:
            parsed = None
        if not isinstance(parsed, dict):
            return Closing(CLOSE_POLICY_VIOLATION, "messages are JSON objects")

"""`GET /ws`: the agent's live channel. Authenticated by the session cookie (same origin only)
or `?token=`; resumes from `?epoch=…&since=…` without duplicates."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from urllib.parse import urlsplit

from fastapi import APIRouter, WebSocket, WebSocketDisconnect

from web.auth import COOKIE, authenticate
from web.outbox import Delivery
from web.services import Services

log = logging.getLogger(__name__)
router = APIRouter()

CLOSE_UNAUTHENTICATED = 4401
CLOSE_FORBIDDEN = 4403


def _same_origin(websocket: WebSocket) -> bool:
    origin = websocket.headers.get("origin")
    return origin is None or urlsplit(origin).netloc == websocket.headers.get("host")


@router.websocket("/ws")
async def socket(websocket: WebSocket) -> None:
    svc: Services = websocket.app.state.services
    token = websocket.query_params.get("token")
    caller = await authenticate(
        svc, cookie=None if token else websocket.cookies.get(COOKIE), bearer=token
    )
    if caller is None:
        await websocket.close(code=CLOSE_UNAUTHENTICATED)
        return
    if token is None and not _same_origin(websocket):
        await websocket.close(code=CLOSE_FORBIDDEN)  # a cookie must not open it cross-site
        return
    await websocket.accept()
    queue = svc.outbox.listen(caller.id)  # before the backlog: nothing falls in between
    svc.metrics.clients.inc()
    try:
        since = websocket.query_params.get("since", "0")
        last = (
            int(since)
            if since.isdigit() and websocket.query_params.get("epoch") == svc.outbox.epoch
            else 0
        )
        state = (
            (await svc.agent_states.get(caller.id)).model_dump(mode="json")
            if svc.agent_states is not None
            else None
        )
        pbx = svc.pbx_connected()
        await websocket.send_text(
            json.dumps(
                {
                    "type": "hello",
                    "epoch": svc.outbox.epoch,
                    "last_seq": svc.outbox.last_seq(caller.id),
                    "server_time": svc.clock.now().isoformat(),
                    "resumed_from": last,
                    "user": caller.user.model_dump(mode="json"),
                    "state": state,
                    "pbx": {"connected": pbx},
                },
                ensure_ascii=False,
            )
        )
        for delivery in svc.outbox.since(caller.id, last):
            last = await _send(websocket, svc, delivery, last)
        receiver = asyncio.create_task(_drain_client(websocket))
        try:
            while not receiver.done():
                getter = asyncio.create_task(queue.get())
                done, _ = await asyncio.wait(
                    {getter, receiver}, return_when=asyncio.FIRST_COMPLETED
                )
                if getter not in done:
                    getter.cancel()
                    break
                last = await _send(websocket, svc, getter.result(), last)
        finally:
            receiver.cancel()
            with contextlib.suppress(asyncio.CancelledError, WebSocketDisconnect):
                await receiver
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
        svc.metrics.pop_latency.observe(time.monotonic() - delivery.started)
    return delivery.seq


async def _drain_client(websocket: WebSocket) -> None:
    """Read (and ignore) what the browser sends, so a disconnect is noticed at once."""
    while True:
        await websocket.receive_text()

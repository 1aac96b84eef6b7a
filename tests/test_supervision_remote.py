"""A supervisor's listen-in asked on a web process that has no PBX connection (issue 17): the
request crosses Redis to the bridge (telephony/pbx_requests.py), which originates once, and
refuses what is not a spy call."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from types import SimpleNamespace
from typing import Any

import pytest
from redis.asyncio import Redis

from crm.clock import SystemClock
from crm.stopping import stop_task
from telephony.ami.client import AmiError
from telephony.pbx_requests import PbxCommandServer, RemotePbx, commands_stream
from telephony.supervision import SpyCall, SpyMode
from tests.support.redis import RedisServer
from tests.support.waiting import until


@pytest.fixture
async def redis(redis_server: RedisServer) -> AsyncIterator[Redis]:
    client = Redis.from_url(redis_server.url, decode_responses=True)
    try:
        yield client
    finally:
        await client.aclose()


class Bridge:
    """What the command server needs of the bridge: its PBX's id, its clock and `spy`."""

    def __init__(self, pbx_id: str) -> None:
        self.settings = SimpleNamespace(pbx_id=pbx_id)
        self.clock = SystemClock()
        self.spied: list[SpyCall] = []
        self.refuse = False

    async def spy(self, call: SpyCall) -> str:
        if self.refuse:
            raise AmiError("Originate failed")
        self.spied.append(call)
        return f"cc-test-spy-{len(self.spied)}"


async def answer(redis: Redis, reply: str) -> dict[str, Any]:
    popped = await redis.blpop([reply], timeout=2)
    assert popped is not None, f"no answer on {reply}"
    return dict(json.loads(popped[1]))


async def test_a_listen_in_goes_through_the_bridge_once(redis: Redis) -> None:
    pbx_id = f"pbx-{uuid.uuid4().hex[:8]}"
    bridge = Bridge(pbx_id)
    server = PbxCommandServer(redis, bridge, SimpleNamespace(), block_ms=100)  # type: ignore[arg-type]
    serving = asyncio.create_task(server.run())
    try:

        async def grouped() -> bool:
            return bool(await redis.exists(commands_stream(pbx_id)))

        await until(grouped)
        remote = RemotePbx(redis, pbx_id, clock=SystemClock(), action_timeout=5)
        call = SpyCall.of(
            phone="PJSIP/2001", agent_extension="1001", agent_name="坐席1001", mode=SpyMode.WHISPER
        )
        assert await remote.spy(call) == "cc-test-spy-1"
        assert bridge.spied == [call]  # the same fields, checked again on arrival

        # The same request delivered twice (a bridge died before acknowledging it): once.
        same = {"op": "spy", "args": json.dumps(call.fields()), "deadline": "9e99"}
        for reply in ("r1", "r2"):
            await server.handle({**same, "id": "fixed-id", "reply": reply})
        answers = [await answer(redis, r) for r in ("r1", "r2")]
        assert [a["ok"] for a in answers] == [True, False]
        assert answers[1]["error"] == "already handled" and len(bridge.spied) == 2

        # Not a spy call (its channel id would be tracked as a call): refused, not originated.
        forged = {**call.fields(), "channel_id": "1796600000.1"}
        await server.handle(
            {"op": "spy", "args": json.dumps(forged), "deadline": "9e99", "id": "x", "reply": "r3"}
        )
        refused = await answer(redis, "r3")
        assert refused["ok"] is False and "bad spy request" in refused["error"]
        assert len(bridge.spied) == 2

        # The PBX refusing the Originate comes back as an AmiError on the web process.
        bridge.refuse = True
        with pytest.raises(AmiError, match="Originate failed"):
            await remote.spy(call)
    finally:
        await stop_task(serving)  # redis-py may swallow one cancel

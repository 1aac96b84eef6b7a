"""Screen pops are not serialized behind one another: each agent's messages keep their order in
that agent's own lane, while a slow card for one agent delays no other agent."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from crm.calls.models import Direction
from crm.clock import FixedClock
from crm.db import Database
from crm.users import service as users
from crm.users.models import Role
from telephony.ami.framing import read_capture
from telephony.events import AgentRinging, CallAnswered, CallArrived, CallEnded, CallRecord
from telephony.tracker import CallTracker
from tests.conftest import FIXTURES
from tests.support.services import bare_services
from web.events import SocketsEnded
from web.extension_directory import KEEP_SECONDS, MISS_RELOAD_SECONDS
from web.outbox import Delivery
from web.pops import PopService
from web.services import Services
from web.ws_messages import PopCard

AT = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
USERS = {"1001": 1, "1002": 2}


class ScriptedPops(PopService):
    """Cards come from the test: a card for an extension in `held` waits for `release`."""

    def __init__(self, svc: Services) -> None:
        super().__init__(svc)
        self.release = asyncio.Event()
        self.held: set[str] = set()
        self.failing: set[str] = set()
        self.built: list[str] = []

    async def user_for(self, extension: str | None) -> int | None:
        return USERS.get(extension or "")

    async def build_card(self, event: AgentRinging) -> PopCard:
        self.built.append(event.linkedid)
        if event.extension in self.held:
            await self.release.wait()
        if event.extension in self.failing:
            raise RuntimeError("the database went away")
        return PopCard(customer=None, candidates=[], unknown_number=None, task_id=None)


@pytest.fixture
async def pops(tmp_path: Path) -> AsyncIterator[ScriptedPops]:
    database = Database(f"sqlite+aiosqlite:///{tmp_path / 'unused.db'}")  # never queried
    service = ScriptedPops(bare_services(database, FixedClock(AT)))
    yield service
    await service.close()
    await database.dispose()


def ringing(linkedid: str, extension: str) -> AgentRinging:
    return AgentRinging(
        linkedid=linkedid,
        interface=f"PJSIP/{extension}",
        extension=extension,
        caller="13800138000",
        queue="service",
        direction=Direction.INBOUND,
        at=AT,
    )


def answered(linkedid: str, extension: str) -> CallAnswered:
    return CallAnswered(
        linkedid=linkedid, interface=f"PJSIP/{extension}", extension=extension, at=AT
    )


def kinds(deliveries: list[Delivery]) -> list[tuple[str, str]]:
    return [
        (d.message["type"], d.message.get("linkedid") or d.message["call"]["linkedid"])
        for d in deliveries
    ]


async def next_message(queue: asyncio.Queue[Delivery | SocketsEnded]) -> Delivery:
    item = await asyncio.wait_for(queue.get(), timeout=10)  # a hang guard, not a timing
    assert isinstance(item, Delivery), f"a message was expected, the sockets were ended: {item}"
    return item


async def test_a_slow_card_for_one_agent_does_not_hold_back_another(pops: ScriptedPops) -> None:
    pops.held = {"1001"}
    second_agent = pops.svc.outbox.listen(USERS["1002"])
    for event in (
        ringing("call-a", "1001"),
        answered("call-a", "1001"),
        ringing("call-b", "1002"),
        answered("call-b", "1002"),
    ):
        await asyncio.wait_for(pops.handle(event), timeout=10)  # the bus is never blocked
    # Agent 1002's pop and answer arrive while 1001's card is still being built...
    got = [await next_message(second_agent), await next_message(second_agent)]
    assert kinds(got) == [("pop", "call-b"), ("answered", "call-b")]
    # ...and 1001 has nothing yet: its `answered` waits behind its own pop.
    assert pops.svc.outbox.since(USERS["1001"], 0) == []
    pops.release.set()
    await pops.drain()
    assert kinds(pops.svc.outbox.since(USERS["1001"], 0)) == [
        ("pop", "call-a"),
        ("answered", "call-a"),
    ]


async def test_one_card_per_call_for_every_agent_it_rings(pops: ScriptedPops) -> None:
    pops.held = {"1001"}
    await pops.handle(ringing("ringall", "1001"))
    await pops.handle(ringing("ringall", "1002"))
    pops.release.set()
    await pops.drain()
    assert pops.built == ["ringall"]
    for user_id in USERS.values():
        assert kinds(pops.svc.outbox.since(user_id, 0)) == [("pop", "ringall")]


async def test_a_failed_card_is_logged_and_the_agents_later_messages_still_go(
    pops: ScriptedPops, caplog: pytest.LogCaptureFixture
) -> None:
    pops.failing = {"1001"}
    await pops.handle(ringing("broken", "1001"))
    await pops.handle(answered("broken", "1001"))
    await pops.drain()
    # The phone rang all the same: the agent is popped, without a card, then the answer.
    sent = pops.svc.outbox.since(USERS["1001"], 0)
    assert kinds(sent) == [("pop", "broken"), ("answered", "broken")]
    assert sent[0].message["card_unavailable"] is True and sent[0].message["customer"] is None
    assert "building the card of call broken failed" in caplog.text
    pops.failing = set()
    await pops.handle(ringing("broken", "1001"))  # a re-ring builds the card again
    await pops.drain()
    assert pops.built == ["broken", "broken"]
    assert kinds(pops.svc.outbox.since(USERS["1001"], 0))[-1] == ("pop", "broken")


async def test_an_arriving_call_has_its_card_built_before_any_phone_rings(
    pops: ScriptedPops,
) -> None:
    arrived = CallArrived(linkedid="c9", caller="13800138000", at=AT)
    await pops.handle(arrived)
    await pops.handle(arrived)  # told again (a replayed event): built once all the same
    for _ in range(100):  # the build starts on its own task
        if pops.built:
            break
        await asyncio.sleep(0)
    assert pops.built == ["c9"]
    agent = pops.svc.outbox.listen(USERS["1001"])
    rang_at = AT + timedelta(seconds=4)
    await pops.handle(replace(ringing("c9", "1001"), at=rang_at))
    pop = (await next_message(agent)).message
    assert pop["type"] == "pop" and pop["call"]["at"] == rang_at.isoformat()  # this ring's
    assert pops.built == ["c9"]  # the card built on arrival, not again
    # Which calls are announced (inbound, with a number, before any ring) is the tracker's
    # to say: tests/test_tracker_fixtures.py, on the real captures.


async def test_agents_are_found_from_one_read_of_every_extension(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with db.session() as session:
        made = {
            extension: await users.create(
                session,
                username=f"agent{extension}",
                password="password-1",
                display_name=f"坐席{extension}",
                role=Role.AGENT,
                extension=extension,
            )
            for extension in ("3001", "3002")
        }
    clock = FixedClock(AT)
    svc = bare_services(db, clock)
    service = PopService(svc)
    reads = 0
    directory = svc.extensions
    read_users = directory._read

    async def counted() -> None:
        nonlocal reads
        reads += 1
        await read_users()

    monkeypatch.setattr(directory, "_read", counted)
    found = await asyncio.gather(service.user_for("3001"), service.user_for("3002"))
    assert found == [made["3001"].id, made["3002"].id] and reads == 1
    assert await service.user_for("3001") == made["3001"].id and reads == 1
    directory.forget()
    assert await service.user_for("9999") is None and reads == 2
    # Ages are the clock's monotonic readings: an unknown extension re-reads at most once a
    # second, and the whole map is read again after KEEP_SECONDS.
    assert await service.user_for("9999") is None and reads == 2
    clock.advance(seconds=MISS_RELOAD_SECONDS)
    assert await service.user_for("9999") is None and reads == 3
    assert await service.user_for("3001") == made["3001"].id and reads == 3
    clock.advance(seconds=KEEP_SECONDS)
    assert await service.user_for("3001") == made["3001"].id and reads == 4


async def test_background_work_waits_for_a_pop_in_progress(pops: ScriptedPops) -> None:
    """From the ring until its pop is pushed, the process's background steps (storing calls,
    the wallboard) let it go first; then they run."""
    foreground = pops.svc.foreground
    foreground.most_wait = 60.0  # only the pop's end lets the step go in this test
    pops.held = {"1001"}
    agent = pops.svc.outbox.listen(USERS["1001"])
    await pops.handle(ringing("call-a", "1001"))
    assert foreground.busy
    background = asyncio.create_task(foreground.yield_to())
    for _ in range(20):
        await asyncio.sleep(0)
    assert not background.done() and foreground.deferred == 1
    pops.release.set()
    assert kinds([await next_message(agent)]) == [("pop", "call-a")]
    await asyncio.wait_for(background, timeout=10)  # a hang guard, not a timing
    await pops.drain()
    assert not foreground.busy
    await foreground.yield_to()  # nothing in progress: no wait
    assert foreground.deferred == 1


async def test_a_failed_card_or_an_unknown_agent_still_ends_the_foreground(
    pops: ScriptedPops,
) -> None:
    pops.failing = {"1001"}
    await pops.handle(ringing("call-a", "1001"))
    await pops.handle(ringing("call-b", "9999"))  # nobody has this extension
    await pops.drain()
    assert not pops.svc.foreground.busy


async def test_a_background_step_waits_at_most_its_bound(pops: ScriptedPops) -> None:
    """A steady stream of pops never starves the background: each step waits `most_wait`."""
    foreground = pops.svc.foreground
    foreground.most_wait = 0.0
    foreground.begin()
    await asyncio.wait_for(foreground.yield_to(), timeout=10)
    foreground.end()
    assert not foreground.busy and foreground.deferred == 1


def _ends(pops: ScriptedPops, user_id: int) -> list[str]:
    return [
        d.message["linkedid"]
        for d in pops.svc.outbox.since(user_id, 0)
        if d.message["type"] == "ended"
    ]


@pytest.mark.parametrize(
    "name", ["callback_agent_first_answered", "outbound_callback_dial_bridged"]
)
async def test_an_agent_first_callback_gives_its_agent_one_ended(
    pops: ScriptedPops, name: str
) -> None:
    """Issue 19: the capture through the real tracker, a resync's list of live channels
    answered while the call hung up, then the next resync: the agent is told `ended` once."""
    messages = [m for m in read_capture((FIXTURES / f"{name}.txt").read_bytes()) if "Event" in m]
    first_hangup = next(i for i, m in enumerate(messages) if m.get("Event") == "Hangup")
    tracker = CallTracker()
    at = AT
    events = []
    for message in messages[:first_hangup]:
        at += timedelta(milliseconds=1)
        events += tracker.feed(message, at)
    tracker.resync_asked()
    listed = [
        {"Event": "CoreShowChannel", "Channel": c.name, "Uniqueid": uid, "Linkedid": linkedid}
        for linkedid, call in tracker._open.items()
        for uid, c in call.channels.items()
        if not c.hung_up
    ]
    for message in messages[first_hangup:]:
        at += timedelta(milliseconds=1)
        events += tracker.feed(message, at)
    events += tracker.resync(listed, at)
    events += tracker.resync([], at + timedelta(minutes=5))
    for event in events:
        await pops.handle(event)
    await pops.drain()
    [linkedid] = {e.record.linkedid for e in events if isinstance(e, CallEnded)}
    assert _ends(pops, USERS["1001"]) == [linkedid]


async def test_a_call_ended_twice_is_told_once_to_each_agent(pops: ScriptedPops) -> None:
    """Whatever hands the same call's end over again (a reopened call, a replayed event),
    each agent it rang gets one `ended`; another call still gets its own."""
    first = CallRecord(
        linkedid="1.1",
        direction=Direction.INBOUND,
        started_at=AT,
        ended_at=AT,
        agents_rung=("PJSIP/1001", "PJSIP/1002"),
        agent_extension="1001",
    )
    for event in (CallEnded(first), CallEnded(first), CallEnded(replace(first, linkedid="1.2"))):
        await pops.handle(event)
    await pops.drain()
    assert _ends(pops, USERS["1001"]) == ["1.1", "1.2"]
    assert _ends(pops, USERS["1002"]) == ["1.1", "1.2"]

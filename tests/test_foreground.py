"""Background steps let a screen pop in progress go first (telephony/foreground.py): the call
store's batches and the agents' state pushes wait for it, then go; nothing is lost by
waiting."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Collection, Iterable, Mapping
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest
from sqlalchemy.exc import OperationalError

from crm.agents import service as agent_service
from crm.agents.models import AgentStatus
from crm.calls import service as calls
from crm.calls.models import CallOutcome, Direction
from crm.clock import FixedClock
from crm.db import Database
from telephony.call_store import CallStore
from telephony.events import (
    AgentRinging,
    CallAnswered,
    CallEnded,
    CallRecord,
    RingStopped,
    RingStopReason,
)
from telephony.foreground import Foreground
from tests.support.agents import add_agent
from tests.support.services import bare_services
from web import agent_states as agent_states_module
from web.agent_states import AgentStates
from web.services import Services

START = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)


def _call(linkedid: str) -> CallRecord:
    return CallRecord(
        linkedid=linkedid,
        direction=Direction.INBOUND,
        started_at=START,
        caller="13911150015",
        customer_number="13911150015",
        queue="service",
        agents_rung=("PJSIP/1001",),
        agent="PJSIP/1001",
        agent_extension="1001",
        answered_at=START + timedelta(seconds=8),
    )


async def test_the_call_store_writes_after_the_pops_in_progress(db: Database) -> None:
    foreground = Foreground(most_wait=60.0)  # only the pop's end lets the batch go here
    store = CallStore(db, pbx_id="default", flush_interval=0.0)
    store.foreground = foreground
    running = asyncio.create_task(store.run())
    try:
        foreground.begin()  # a pop is being built
        store.submit(_call("c1"))
        while not foreground.deferred:  # the batch reached the gate and waits there
            await asyncio.sleep(0)
        assert store.written == 0
        foreground.end()
        await asyncio.wait_for(store.flush(), timeout=10)  # a hang guard, not a timing
        assert store.written == 1
        async with db.session() as session:
            stored = [c.linkedid for c in await calls.get_live(session, pbx_id="default")]
        assert stored == ["c1"]
    finally:
        running.cancel()
        await asyncio.gather(running, return_exceptions=True)


async def test_a_flush_does_not_wait_for_a_store_that_was_stopped(db: Database) -> None:
    """A shutdown that cancels the store's task before draining it (asyncio.run cancelling
    every task on Ctrl-C) must not leave the bridge's stop waiting for writes that will never
    come: `callcentre demo` hung on Ctrl-C when records were pending at that moment."""
    store = CallStore(db, pbx_id="default", flush_interval=60.0)  # holds what it is given
    running = asyncio.create_task(store.run())
    store.submit(_call("c1"))
    await asyncio.sleep(0)  # the store has the record and waits out its interval
    running.cancel()
    await asyncio.gather(running, return_exceptions=True)
    await asyncio.wait_for(store.flush(), timeout=10)  # a hang guard, not a timing
    store.submit(_call("c2"))  # after it stopped, too
    await asyncio.wait_for(store.flush(), timeout=10)
    assert store.written == 0


class ScriptedStates(AgentStates):
    """Agent states whose pushes are noted (which agents, in one push) instead of read and
    sent; `failures` pushes fail as a database outage would."""

    def __init__(self, svc: Services) -> None:
        super().__init__(svc, sync=None)
        self.pushed: list[set[int]] = []
        self.changed: list[set[int]] = []
        self.failures = 0

    async def _user_of(self, extension: str | None) -> int | None:
        return int(extension) if extension else None

    async def publish(
        self,
        user_ids: Iterable[int],
        *,
        changed: Collection[int] = (),
        synced: Mapping[int, bool | None] | None = None,
    ) -> None:
        if self.failures:
            self.failures -= 1
            raise OperationalError("SELECT 1", {}, ConnectionRefusedError("database away"))
        self.pushed.append(set(user_ids))
        self.changed.append(set(changed))


@pytest.fixture
async def states(tmp_path: Path) -> AsyncIterator[ScriptedStates]:
    database = Database(f"sqlite+aiosqlite:///{tmp_path / 'unused.db'}")  # never queried
    svc = bare_services(database, FixedClock(START))
    svc.foreground.most_wait = 60.0  # only the pop's end lets the pushes go here
    states = ScriptedStates(svc)
    running = asyncio.create_task(states.run_phone_pushes(retry_after=0.0))
    yield states
    running.cancel()
    await asyncio.gather(running, return_exceptions=True)
    await database.dispose()


def _phone(extension: str, kind: type[AgentRinging | CallAnswered | RingStopped]) -> object:
    if kind is AgentRinging:
        return AgentRinging(
            linkedid="c1",
            interface=f"PJSIP/{extension}",
            extension=extension,
            caller="13911150015",
            queue="service",
            direction=Direction.INBOUND,
            at=START,
        )
    if kind is CallAnswered:
        return CallAnswered(
            linkedid="c1", interface=f"PJSIP/{extension}", extension=extension, at=START
        )
    return RingStopped(
        linkedid="c1",
        interface=f"PJSIP/{extension}",
        extension=extension,
        reason=RingStopReason.ANSWERED_ELSEWHERE,
        at=START,
    )


async def test_agents_phone_moves_are_pushed_after_the_pops_in_one_push(
    states: ScriptedStates,
) -> None:
    foreground = states.svc.foreground
    foreground.begin()  # a pop is being built
    for extension, kind in [
        ("1001", AgentRinging),
        ("1002", RingStopped),
        ("1001", CallAnswered),  # the same agent again: one push, of where they are now
    ]:
        await states.handle(_phone(extension, kind))
    while not foreground.deferred:  # the push reached the gate and waits there
        await asyncio.sleep(0)
    assert states.pushed == []
    foreground.end()
    await asyncio.wait_for(states.drain_pushes(), timeout=10)  # a hang guard, not a timing
    assert states.pushed == [{1001, 1002}]

    await states.handle(_phone("1003", AgentRinging))  # no pop in progress: pushed at once
    await asyncio.wait_for(states.drain_pushes(), timeout=10)
    assert states.pushed == [{1001, 1002}, {1003}]


async def test_a_failed_push_is_tried_again_with_the_moves_since(states: ScriptedStates) -> None:
    states.failures = 2  # the database is away for two tries
    await states.handle(_phone("1001", AgentRinging))
    await asyncio.wait_for(states.drain_pushes(), timeout=10)
    assert states.pushed == [{1001}]
    assert states.failures == 0


class _HeldStore:
    """A call store whose writes are done only when released."""

    def __init__(self) -> None:
        self.released = asyncio.Event()
        self.waits = 0

    async def flush(self) -> None:
        self.waits += 1
        await self.released.wait()


def _ended(linkedid: str, extension: str) -> CallEnded:
    return CallEnded(
        replace(
            _call(linkedid),
            agent=f"PJSIP/{extension}",
            agent_extension=extension,
            outcome=CallOutcome.ANSWERED,
        )
    )


async def test_call_ends_are_not_held_behind_the_call_store(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 19's busy day: each answered call's end waited for the call store (so that the
    agent's calls to code count it) before the next end was looked at; in the peaks the ends
    queued in memory and wrap-ups began minutes late. Now each wrap-up begins at once, and the
    browsers are told once the calls are stored: every end of the moment after one wait."""
    monkeypatch.setattr(agent_states_module, "STORE_WAIT", 3600.0)  # the store never times out
    extensions = ("1001", "1002", "1003")
    async with db.session() as session:
        ids = {}
        for extension in extensions:
            # 1003 is not ready before the call: no wrap-up, still told.
            ready_at = START if extension != "1003" else None
            ids[extension] = await add_agent(session, extension, ready_at=ready_at)
    svc = bare_services(db, FixedClock(START + timedelta(minutes=1)), wrapup_seconds=30)
    store = _HeldStore()
    svc.bridge = SimpleNamespace(store=store)  # type: ignore[assignment]
    states = ScriptedStates(svc)
    running = asyncio.create_task(states.run_wrapup_pushes(retry_after=0.0))
    try:
        for n, extension in enumerate(extensions):
            await asyncio.wait_for(states.handle(_ended(f"c{n}", extension)), timeout=10)
        async with db.read() as session:
            for extension in extensions:
                state = await agent_service.get(session, ids[extension], at=svc.clock.now())
                wanted = AgentStatus.WRAPUP if extension != "1003" else AgentStatus.LOGGED_OUT
                assert state.status is wanted, extension
        while not store.waits:
            await asyncio.sleep(0)
        assert states.pushed == []  # the calls are not stored yet
        store.released.set()
        await asyncio.wait_for(states.drain_pushes(), timeout=10)  # a hang guard, not a timing
        assert states.pushed == [set(ids.values())]
        assert states.changed == [{ids["1001"], ids["1002"]}]
        assert store.waits == 1
    finally:
        running.cancel()
        await asyncio.gather(running, return_exceptions=True)

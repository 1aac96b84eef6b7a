"""Screen pops: while an agent's phone rings, the caller's customer card goes to that agent's
browser, then `answered`, `ring_stopped` and `ended` for the same call.

Each event is routed by extension to the one agent whose phone it concerns. The card is built
once per call and reused for every agent the call rings (ringall queues ring several).

Cards are built concurrently (a bounded number at a time), never one after the other: the bus
hands events over in order, and each agent's messages then go through that agent's own lane,
so an agent's `answered` never overtakes their pop, while one slow card delays nobody else.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Sequence

from crm.calls.models import Direction
from crm.customers import cards
from crm.customers import service as customers
from crm.db_outage import database_unavailable
from crm.phones import lookup_key
from telephony.channels import AgentDirectory
from telephony.events import (
    AgentRinging,
    CallAnswered,
    CallArrived,
    CallEnded,
    PbxConnection,
    RingStopped,
)
from telephony.foreground import Foreground
from web.services import Services
from web.ws_messages import (
    AnsweredMessage,
    EndedMessage,
    PbxMessage,
    PopCall,
    PopCard,
    PopMessage,
    PushedMessage,
    RingStoppedMessage,
)

log = logging.getLogger(__name__)

POP_EVENTS = (AgentRinging, CallAnswered, RingStopped, CallEnded, PbxConnection, CallArrived)
CARD_CACHE_SECONDS = 5.0  # a ringall burst shares one card; a later re-ring gets a fresh one
CARDS_BUILDING = 8  # at once: well within the database pool, enough to absorb a burst
ENDS_KEPT = 5_000  # (call, extension) pairs told `ended`: far more than end in a few minutes


class PopService:
    def __init__(self, svc: Services, *, cards_building: int = CARDS_BUILDING) -> None:
        self.svc = svc
        self.agents = AgentDirectory(svc.settings.agent_extension_pattern)
        self._cards: OrderedDict[str, tuple[asyncio.Task[PopCard], float]] = OrderedDict()
        self._building = asyncio.Semaphore(cards_building)
        self._lanes: dict[str, asyncio.Task[None]] = {}  # extension → its last message
        self._ends_told: OrderedDict[tuple[str, str], None] = OrderedDict()

    async def handle(self, event: object) -> None:
        """Route the event to its agents' lanes; returns at once (the bus's order is kept
        per agent by the lanes)."""
        if isinstance(event, AgentRinging):
            self._in_lane(event.extension, lambda: self._ringing(event), foreground=True)
        elif isinstance(event, CallAnswered):
            answered = AnsweredMessage(linkedid=event.linkedid, at=event.at)
            self._in_lane(event.extension, self._sender(event.extension, answered))
        elif isinstance(event, RingStopped):
            stopped = RingStoppedMessage(linkedid=event.linkedid, reason=event.reason, at=event.at)
            self._in_lane(event.extension, self._sender(event.extension, stopped))
        elif isinstance(event, CallEnded):
            self._ended(event)
        elif isinstance(event, CallArrived):
            self._prefetch(event)
        elif isinstance(event, PbxConnection):
            self.svc.outbox.push_to_listeners(PbxMessage(connected=event.connected, at=event.at))

    # -- lanes: one per agent, in the bus's order ----------------------------------------

    def _in_lane(
        self,
        extension: str | None,
        step: Callable[[], Awaitable[None]],
        *,
        foreground: bool = False,
    ) -> None:
        """`foreground`: a pop, which the process's background work lets go first from now
        until it is pushed (telephony/foreground.py)."""
        if not extension:
            return
        if foreground:
            self.svc.foreground.begin()
        task = asyncio.create_task(
            self._after(
                self._lanes.get(extension), step, self.svc.foreground if foreground else None
            ),
            name=f"pop-lane:{extension}",
        )
        self._lanes[extension] = task
        task.add_done_callback(lambda done: self._lane_done(extension, done))

    def _lane_done(self, extension: str, task: asyncio.Task[None]) -> None:
        if self._lanes.get(extension) is task:
            del self._lanes[extension]

    @staticmethod
    async def _after(
        previous: asyncio.Task[None] | None,
        step: Callable[[], Awaitable[None]],
        foreground: Foreground | None,
    ) -> None:
        try:
            if previous is not None:
                await asyncio.wait({previous})  # its failure was logged by its own step
            await step()
        except Exception:
            log.exception("screen-pop message failed")
        finally:
            if foreground is not None:
                foreground.end()

    async def drain(self) -> None:
        """Wait until every message handed in so far is pushed (tests, shutdown)."""
        while self._lanes:
            await asyncio.wait(set(self._lanes.values()))

    async def close(self) -> None:
        lanes = list(self._lanes.values())
        for task in lanes:
            task.cancel()
        await asyncio.gather(*lanes, return_exceptions=True)

    async def user_for(self, extension: str | None) -> int | None:
        """The active user with this extension (the process's kept directory: an agent's
        ring costs no round trip of its own)."""
        return await self.svc.extensions.user_id(extension)

    async def _to(self, extension: str | None, message: PushedMessage) -> None:
        user_id = await self.user_for(extension)
        if user_id is not None:
            self.svc.outbox.push(user_id, message)
            self.svc.metrics.messages.labels(message.type).inc()

    async def _ringing(self, event: AgentRinging) -> None:
        user_id = await self.user_for(event.extension)
        if user_id is None:
            log.debug("ringing %s: no agent has this extension", event.interface)
            return
        building = self._card_for(event)
        try:
            card = await building
        except Exception as exc:
            if self._cards.get(event.linkedid, (None, 0.0))[0] is building:
                del self._cards[event.linkedid]  # the next ring tries again
            # The database is away (or the card failed): the phone rings all the same, so
            # the agent still gets the call, with the caller's number and no card.
            if database_unavailable(exc):
                log.warning("no card for call %s (%s): popping without it", event.linkedid, exc)
            else:
                log.exception(
                    "building the card of call %s failed; popping without it", event.linkedid
                )
            card = PopCard(
                customer=None,
                candidates=[],
                unknown_number=None,
                task_id=None,
                card_unavailable=True,
            )
        # The card may predate this ring: the call is this ring's.
        pop = PopMessage(**dict(card), call=self._call_part(event))
        self.svc.outbox.push(user_id, pop, started=event.received_at)
        # The caller's number is masked on its way to the log (web/log_redaction.py).
        log.debug(
            "pop: call %s from %s rings %s (customer %s)",
            event.linkedid,
            event.caller,
            event.extension,
            card.customer.id if card.customer else "unknown",
        )
        self.svc.metrics.messages.labels("pop").inc()

    def _prefetch(self, event: CallArrived) -> None:
        """An inbound call has arrived and no phone rings yet: start building its card now,
        so that when an agent's phone rings the pop is ready or nearly so."""
        if event.linkedid in self._cards:
            return
        building = self._card_for(
            AgentRinging(
                linkedid=event.linkedid,
                interface="",
                extension=None,
                caller=event.caller,
                queue=None,
                direction=Direction.INBOUND,
                at=event.at,
            )
        )
        building.add_done_callback(lambda done: self._prefetched(event.linkedid, done))

    def _prefetched(self, linkedid: str, task: asyncio.Task[PopCard]) -> None:
        if task.cancelled() or task.exception() is None:
            return
        log.warning(
            "building the card of call %s ahead of its ring failed: %s", linkedid, task.exception()
        )
        if self._cards.get(linkedid, (None, 0.0))[0] is task:
            del self._cards[linkedid]  # the ring builds it again

    def _card_for(self, event: AgentRinging) -> asyncio.Task[PopCard]:
        """The call's card, being built or built: one build per call for all agents it rings."""
        cached = self._cards.get(event.linkedid)
        if cached is not None and self.svc.clock.monotonic() - cached[1] < CARD_CACHE_SECONDS:
            return cached[0]
        building = asyncio.create_task(
            self._build_bounded(event), name=f"pop-card:{event.linkedid}"
        )
        self._cards[event.linkedid] = (building, self.svc.clock.monotonic())
        while len(self._cards) > 500:
            self._cards.popitem(last=False)
        return building

    async def _build_bounded(self, event: AgentRinging) -> PopCard:
        with self.svc.foreground.running():  # built ahead of a ring, too: a pop's work
            async with self._building:
                return await self.build_card(event)

    async def build_card(self, event: AgentRinging) -> PopCard:
        """What the pop says of the caller: the customer's card (or the candidates, or the
        unknown number), and for a callback the task being called about."""
        area = self.svc.settings.default_area_code
        today = self.svc.today()
        async with self.svc.database.read() as session:
            task_id: int | None = None
            found: Sequence[cards.CustomerOnFile] = []
            card: cards.CustomerCard | None = None
            if event.attempt_id is not None:  # a callback: the customer it calls, by its task
                about = await customers.called_about(session, attempt_id=event.attempt_id)
                if about is not None:
                    task_id, found = about.task_id, [about.owner]
                    card = await cards.card_of(session, about.owner, today=today)
            if not found:  # who has the number and the first one's card: one round trip
                found, card = await customers.caller_card(
                    session, event.caller, default_area_code=area, today=today
                )
            candidates = [cards.summary(c) for c in found] if len(found) > 1 else []
        number = lookup_key(event.caller, default_area_code=area)
        return PopCard(
            customer=card,
            candidates=candidates,
            unknown_number=number if card is None else None,
            task_id=task_id,
        )

    @staticmethod
    def _call_part(event: AgentRinging) -> PopCall:
        return PopCall(
            linkedid=event.linkedid,
            caller=event.caller,
            queue=event.queue,
            direction=event.direction,
            attempt_id=event.attempt_id,
            at=event.at,
        )

    def _ended(self, event: CallEnded) -> None:
        record = event.record
        self._cards.pop(record.linkedid, None)
        ended = EndedMessage(
            linkedid=record.linkedid,
            outcome=record.outcome,
            talk_seconds=record.talk_seconds,
            ring_seconds=record.ring_seconds,
            wait_seconds=record.wait_seconds,
            hung_up_by=record.hung_up_by,
            answered_by=record.agent_extension,
            attempt_id=record.attempt_id,
            at=record.ended_at,
        )
        extensions = {self.agents.extension_of(i) for i in record.agents_rung}
        extensions.add(record.agent_extension)
        for extension in sorted(e for e in extensions if e):
            # Exactly one `ended` per call per agent: a call told ended twice (the tracker
            # reopening it, a replayed event) must not give the agent a second one.
            if (record.linkedid, extension) in self._ends_told:
                log.warning("call %s ended again: not told to %s twice", record.linkedid, extension)
                continue
            self._ends_told[(record.linkedid, extension)] = None
            while len(self._ends_told) > ENDS_KEPT:
                self._ends_told.popitem(last=False)
            self._in_lane(extension, self._sender(extension, ended))

    def _sender(
        self, extension: str | None, message: PushedMessage
    ) -> Callable[[], Awaitable[None]]:
        return lambda: self._to(extension, message)

"""Screen pops: while an agent's phone rings, the caller's customer card goes to that agent's
browser, then `answered`, `ring_stopped` and `ended` for the same call.

Each event is routed by extension to the one agent whose phone it concerns. The card is built
once per call and reused for every agent the call rings (ringall queues ring several).
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from typing import Any

from sqlalchemy import select

from crm.callbacks.models import CallbackAttempt, CallbackTask
from crm.customers import cards
from crm.customers import service as customers
from crm.phones import lookup_key
from crm.projects.models import Project
from crm.users.models import User
from telephony.bridge import PbxConnection
from telephony.channels import AgentDirectory
from telephony.events import AgentRinging, CallAnswered, CallEnded, RingStopped
from web.services import Services

log = logging.getLogger(__name__)

POP_EVENTS = (AgentRinging, CallAnswered, RingStopped, CallEnded, PbxConnection)
USER_CACHE_SECONDS = 30.0
CARD_CACHE_SECONDS = 5.0  # a ringall burst shares one card; a later re-ring gets a fresh one


class PopService:
    def __init__(self, svc: Services) -> None:
        self.svc = svc
        self.agents = AgentDirectory(svc.settings.agent_extension_pattern)
        self._cards: OrderedDict[str, tuple[dict[str, Any], float]] = OrderedDict()
        self._users: dict[str, tuple[int | None, float]] = {}

    async def handle(self, event: object) -> None:
        if isinstance(event, AgentRinging):
            await self._ringing(event)
        elif isinstance(event, CallAnswered):
            await self._to(event.extension, "answered",
                           {"linkedid": event.linkedid, "at": event.at.isoformat()})
        elif isinstance(event, RingStopped):
            await self._to(event.extension, "ring_stopped",
                           {"linkedid": event.linkedid, "reason": event.reason,
                            "at": event.at.isoformat()})
        elif isinstance(event, CallEnded):
            await self._ended(event)
        elif isinstance(event, PbxConnection):
            self.svc.outbox.push_to_listeners("pbx", {"connected": event.connected,
                                                      "at": event.at.isoformat()})

    async def user_for(self, extension: str | None) -> int | None:
        """The active user with this extension (cached briefly: rings come in bursts)."""
        if not extension:
            return None
        cached = self._users.get(extension)
        if cached is not None and time.monotonic() - cached[1] < USER_CACHE_SECONDS:
            return cached[0]
        async with self.svc.database.session() as session:
            user_id = await session.scalar(select(User.id).where(
                User.extension == extension, User.is_active.is_(True)))
        self._users[extension] = (user_id, time.monotonic())
        return user_id

    def forget_users(self) -> None:
        self._users.clear()

    async def _to(self, extension: str | None, kind: str, payload: dict[str, Any],
                  started: float | None = None) -> None:
        user_id = await self.user_for(extension)
        if user_id is not None:
            self.svc.outbox.push(user_id, kind, payload, started=started)
            self.svc.metrics.messages.labels(kind).inc()

    async def _ringing(self, event: AgentRinging) -> None:
        user_id = await self.user_for(event.extension)
        if user_id is None:
            log.debug("ringing %s: no agent has this extension", event.interface)
            return
        cached = self._cards.get(event.linkedid)
        if cached is not None and time.monotonic() - cached[1] < CARD_CACHE_SECONDS:
            pop = cached[0]
        else:
            pop = await self.build_pop(event)
            self._cards[event.linkedid] = (pop, time.monotonic())
            while len(self._cards) > 500:
                self._cards.popitem(last=False)
        self.svc.outbox.push(user_id, "pop", pop, started=event.received_at)
        self.svc.metrics.messages.labels("pop").inc()

    async def build_pop(self, event: AgentRinging) -> dict[str, Any]:
        """The pop: the call, the customer's card (or the candidates, or the unknown number),
        and for a callback the task being called about."""
        call = {"linkedid": event.linkedid, "caller": event.caller, "queue": event.queue,
                "direction": event.direction, "attempt_id": event.attempt_id,
                "at": event.at.isoformat()}
        area = self.svc.settings.default_area_code
        today = self.svc.today()
        async with self.svc.database.session() as session:
            task_id, customer_ids = None, []
            if event.attempt_id is not None:
                row = (await session.execute(
                    select(CallbackTask.id, Project.customer_id)
                    .join(CallbackAttempt, CallbackAttempt.task_id == CallbackTask.id)
                    .join(Project, Project.id == CallbackTask.project_id)
                    .where(CallbackAttempt.id == event.attempt_id))).first()
                if row is not None:
                    task_id, customer_ids = row[0], [row[1]]
            if not customer_ids:
                customer_ids = [c.id for c in await customers.find_by_phone(
                    session, event.caller, default_area_code=area)]
            card = (await cards.customer_card(session, customer_ids[0], today=today)
                    if customer_ids else None)
            candidates = []
            if len(customer_ids) > 1:
                for customer_id in customer_ids:
                    found = await customers.get(session, customer_id)
                    if found is not None:
                        candidates.append(cards.summary(found).model_dump(mode="json"))
        number = lookup_key(event.caller, default_area_code=area)
        return {
            "call": call,
            "customer": card.model_dump(mode="json") if card else None,
            "candidates": candidates,
            "unknown_number": number if card is None else None,
            "task_id": task_id,
        }

    async def _ended(self, event: CallEnded) -> None:
        record = event.record
        self._cards.pop(record.linkedid, None)
        payload = {"linkedid": record.linkedid, "outcome": record.outcome,
                   "talk_seconds": record.talk_seconds, "hung_up_by": record.hung_up_by,
                   "answered_by": record.agent_extension, "attempt_id": record.attempt_id,
                   "at": record.ended_at.isoformat() if record.ended_at else None}
        extensions = {self.agents.extension_of(i) for i in record.agents_rung}
        extensions.add(record.agent_extension)
        for extension in sorted(e for e in extensions if e):
            await self._to(extension, "ended", payload)

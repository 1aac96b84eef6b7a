"""Who is on the phone now: callers waiting in each queue, agents' phones ringing and the calls
connected to them. The wallboard and each agent's own state read it, so both say the same.

From the bridge's tracker when the bridge runs in this process; else from the calls the
bridge stored as live (a moment behind, and without ringing phones, which are not stored)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from crm.agents.presence import AgentPhone, PhoneCall
from crm.calls import service as calls
from crm.users import service as users
from web.services import Services


class LiveView:
    """Calls waiting in each queue and agents' phones, now."""

    def __init__(self) -> None:
        self.waiting: dict[str, list[datetime]] = defaultdict(list)
        self.phones: dict[int, AgentPhone] = {}  # agent → their phone

    def add(
        self,
        *,
        linkedid: str,
        queue: str | None,
        started_at: datetime,
        queued_at: datetime | None,
        answered_at: datetime | None,
        agent_id: int | None,
    ) -> None:
        if answered_at is None and queue:
            self.waiting[queue].append(queued_at or started_at)
        elif answered_at is not None and agent_id is not None:
            phone = self.phones.get(agent_id, AgentPhone())
            if phone.on_call is None or answered_at >= phone.on_call.since:  # the newest
                self.phones[agent_id] = AgentPhone(PhoneCall(linkedid, answered_at), phone.ringing)

    def add_ringing(self, *, linkedid: str, since: datetime, agent_id: int | None) -> None:
        if agent_id is None:
            return
        phone = self.phones.get(agent_id, AgentPhone())
        if phone.ringing is None or since < phone.ringing.since:  # the one ringing longest
            self.phones[agent_id] = AgentPhone(phone.on_call, PhoneCall(linkedid, since))

    def phone(self, agent_id: int) -> AgentPhone | None:
        return self.phones.get(agent_id)

    def oldest(self, queue: str) -> datetime | None:
        waits = self.waiting.get(queue)
        return min(waits) if waits else None

    def key(self) -> tuple[Any, ...]:
        """Changes whenever a call starts or stops waiting, or an agent's phone starts or
        stops ringing, or a call to it starts or ends."""
        return (
            tuple(sorted((q, len(v)) for q, v in self.waiting.items())),
            tuple(sorted(self.phones.items(), key=lambda item: item[0])),
        )


async def agent_extensions(svc: Services) -> dict[str, int]:
    """Extension → the active user who has it (a deactivated agent's maps to nobody)."""
    async with svc.database.session() as session:
        return await users.extension_directory(session)


async def live_view(
    svc: Services, extensions: Mapping[str, int], *, agents_only: bool = False
) -> LiveView:
    """The tracker's view when the bridge runs here, else the stored live calls.

    `agents_only`: only the phones of the agents in `extensions` (no queues), at the cost of
    their own calls: what one agent's state push needs, three times a call."""
    view = LiveView()
    agents = extensions.keys() if agents_only else None
    if svc.bridge is not None:
        tracker = svc.bridge.tracker
        for r in tracker.live_calls(agents=agents):
            view.add(
                linkedid=r.linkedid,
                queue=r.queue,
                started_at=r.started_at,
                queued_at=r.queued_at,
                answered_at=r.answered_at,
                agent_id=extensions.get(r.agent_extension or ""),
            )
        for ring in tracker.ringing_phones(agents=agents):
            view.add_ringing(
                linkedid=ring.linkedid,
                since=ring.since,
                agent_id=extensions.get(ring.extension or ""),
            )
        return view
    async with svc.database.session() as session:
        agent_ids = set(extensions.values()) if agents_only else None
        for call in await calls.get_live(session, agent_ids=agent_ids):
            view.add(
                linkedid=call.linkedid,
                queue=call.queue,
                started_at=call.started_at,
                queued_at=None,
                answered_at=call.answered_at,
                agent_id=call.agent_id,
            )
    return view

"""Keeping the PBX's queue members in line with the states agents chose."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from crm.agents.models import AgentStatus
from crm.agents.states import pbx_pause_reason
from crm.settings import Settings
from telephony.ami.client import AmiError
from telephony.bridge import Bridge
from telephony.queues import QueueMember

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class AgentTarget:
    extension: str
    name: str
    status: AgentStatus
    reason: str | None


class AgentPbxSync:
    def __init__(self, bridge: Bridge, settings: Settings) -> None:
        self.bridge = bridge
        self.settings = settings
        self.queues = tuple(dict.fromkeys((settings.queue, settings.callback_queue)))

    def interface(self, extension: str) -> str:
        return self.settings.agent_interface_template.format(extension=extension)

    async def apply(self, target: AgentTarget) -> bool:
        """Send QueueAdd/QueuePause/QueueRemove; False (logged) if the PBX could not be told,
        in which case the next resync will try again."""
        interface = self.interface(target.extension)
        pause = pbx_pause_reason(target.status, target.reason)
        try:
            if target.status is AgentStatus.LOGGED_OUT:
                for queue in self.queues:
                    await self.bridge.queue_remove(
                        queue=queue, interface=interface, missing_ok=True
                    )
                return True
            for queue in self.queues:
                await self.bridge.queue_add(
                    queue=queue,
                    interface=interface,
                    member_name=target.name,
                    paused=pause is not None,
                )
            await self.bridge.queue_pause(
                interface=interface, paused=pause is not None, reason=pause or ""
            )
            return True
        except AmiError as exc:
            log.warning(
                "PBX not updated for agent %s (%s): %s", target.extension, target.status.value, exc
            )
            return False

    def in_line(self, target: AgentTarget, members: list[QueueMember]) -> bool:
        """Whether the PBX's members for this agent already say what the agent chose."""
        mine = {m.queue: m for m in members if m.interface == self.interface(target.extension)}
        if target.status is AgentStatus.LOGGED_OUT:
            return not mine
        paused = pbx_pause_reason(target.status, target.reason) is not None
        return set(mine) >= set(self.queues) and all(mine[q].paused == paused for q in self.queues)

    async def reconcile(self, targets: list[AgentTarget]) -> int:
        """After a resync: re-apply every agent the PBX disagrees with. Returns how many."""
        fixed = 0
        for target in targets:
            members = self.bridge.queue_members.of_extension(target.extension)
            if not self.in_line(target, members) and await self.apply(target):
                fixed += 1
        return fixed

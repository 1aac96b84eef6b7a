"""Agent states across the system: the agent's choice is stored, told to the PBX, pushed to the
agent's browser; wrap-up follows each answered call; a resync puts the PBX back in line."""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Protocol

from crm.agents import service as agent_states
from crm.agents.events import AgentStateChanged
from crm.agents.models import AgentStatus
from crm.agents.states import PAUSE_REASONS
from crm.db_outage import database_unavailable, through_outage
from crm.users import service as users
from crm.users.models import Role
from telephony.agent_sync import AgentPbxSync, AgentTarget
from telephony.events import CallEnded, QueueMembersResynced
from web.agent_state_out import AgentStateOut
from web.services import Services
from web.ws_messages import StateMessage

if TYPE_CHECKING:
    from crm.agents.models import AgentState
    from crm.users.models import User

log = logging.getLogger(__name__)


class AgentSync(Protocol):
    """Telling the PBX an agent's state: AgentPbxSync, or a web process's RemotePbx."""

    async def apply(self, target: AgentTarget) -> bool: ...


class AgentStates:
    def __init__(self, svc: Services, sync: AgentSync | None) -> None:
        self.svc = svc
        self.sync = sync

    def _out(self, state: AgentState, pbx_synced: bool | None) -> AgentStateOut:
        return AgentStateOut(
            user_id=state.user_id,
            status=state.status,
            reason=state.reason,
            since=state.since,
            wrapup_until=state.wrapup_until,
            pause_reasons=list(PAUSE_REASONS),
            pbx_synced=pbx_synced,
            server_time=self.svc.clock.now(),
        )

    async def get(self, user_id: int) -> AgentStateOut:
        async with self.svc.database.session() as session:
            return self._out(
                await agent_states.get(session, user_id, at=self.svc.clock.now()), None
            )

    async def _apply(self, user: User, state: AgentState) -> bool | None:
        if self.sync is None or not user.extension:
            return None
        return await self.sync.apply(
            AgentTarget(user.extension, user.display_name, state.status, state.reason)
        )

    def _push(self, out: AgentStateOut) -> None:
        self.svc.notify_user(out.user_id, StateMessage(**out.model_dump()))
        self.svc.bus.publish(AgentStateChanged(out.user_id, out.status))

    async def change(self, user_id: int, status: AgentStatus, reason: str | None) -> AgentStateOut:
        async with self.svc.database.session() as session:
            user = await users.get_or_raise(session, user_id)
            state = await agent_states.change(
                session, user_id=user_id, status=status, reason=reason, at=self.svc.clock.now()
            )
        out = self._out(state, await self._apply(user, state))
        self._push(out)
        return out

    async def on_call_ended(self, event: CallEnded) -> None:
        record = event.record
        extension = record.agent_extension
        if record.outcome != "answered" or not extension:
            return

        async def start_wrapup() -> tuple[User | None, AgentState | None]:
            async with self.svc.database.session() as session:
                user = await users.active_user_by_extension(session, extension=extension)
                if user is None or user.role is not Role.AGENT:
                    return None, None
                return user, await agent_states.start_wrapup(
                    session,
                    user_id=user.id,
                    at=self.svc.clock.now(),
                    seconds=self.svc.settings.wrapup_seconds,
                )

        # The call's end comes once: a database outage is waited out, not the wrap-up lost.
        user, state = await through_outage(start_wrapup, what=f"wrap-up of {extension}")
        if user is not None and state is not None:
            self._push(self._out(state, await self._apply(user, state)))

    async def end_expired_wrapups(self) -> None:
        async with self.svc.database.session() as session:
            ended = await agent_states.end_expired_wrapups(session, at=self.svc.clock.now())
            agents = await users.get_by_ids(session, ids=(s.user_id for s in ended))
        for state in ended:
            self._push(self._out(state, await self._apply(agents[state.user_id], state)))

    async def run_wrapup_timer(self, interval: float = 1.0) -> None:
        outage = False
        while True:
            await asyncio.sleep(interval)
            try:
                await self.end_expired_wrapups()
            except Exception as exc:
                if not database_unavailable(exc):
                    log.exception("ending wrap-ups failed; trying again")
                elif not outage:  # one line for the whole outage, not one a second
                    log.warning("ending wrap-ups waits for the database (%s)", type(exc).__name__)
                outage = database_unavailable(exc)
            else:
                outage = False

    async def targets(self) -> list[AgentTarget]:
        async with self.svc.database.session() as session:
            on_phones = await agent_states.get_all_on_phones(session)
        return [
            AgentTarget(a.user.extension, a.user.display_name, a.state.status, a.state.reason)
            for a in on_phones
            if a.user.extension
        ]

    async def on_resynced(self, event: QueueMembersResynced) -> None:
        if not isinstance(self.sync, AgentPbxSync):
            return
        fixed = await self.sync.reconcile(await self.targets())
        if fixed:
            log.info("queue membership of %d agent(s) put back in line with their state", fixed)

    async def handle(self, event: object) -> None:
        if isinstance(event, CallEnded):
            await self.on_call_ended(event)
        elif isinstance(event, QueueMembersResynced):
            await self.on_resynced(event)

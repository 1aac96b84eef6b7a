"""Agent states across the system: the agent's choice is stored, told to the PBX, pushed to the
agent's browser; wrap-up follows each answered call (held, when dispositions are required,
until the agent has coded their calls); a resync puts the PBX back in line.

What the agent's browser is told is what the wallboard shows (crm/agents/presence.py over
web/floor.py's live view): the chosen state, unless the phone rings or a call is connected.
It is pushed on every change — the phone ringing, answered, stopped, the call ended (wrap-up),
a state chosen — and sent again with every websocket's hello."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Collection, Iterable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

from crm.agents import service as agent_states
from crm.agents.events import AgentStateChanged
from crm.agents.models import AgentStatus
from crm.agents.presence import present
from crm.agents.states import PAUSE_REASONS
from crm.calls.models import CallOutcome
from crm.clock import local_day_window
from crm.db_outage import database_unavailable, through_outage
from crm.dispositions import service as dispositions
from crm.users import service as users
from crm.users.models import Role
from telephony.agent_sync import AgentPbxSync, AgentTarget
from telephony.events import (
    AgentRinging,
    CallAnswered,
    CallEnded,
    QueueMembersResynced,
    RingStopped,
)
from web.agent_state_out import AgentStateOut
from web.floor import LiveView, live_view
from web.services import Services
from web.ws_messages import StateMessage

if TYPE_CHECKING:
    from crm.agents.models import AgentState
    from crm.users.models import User

log = logging.getLogger(__name__)

# The events after which an agent's phone, and so what they are doing, may have changed.
PHONE_EVENTS = (AgentRinging, RingStopped, CallAnswered)
STORE_WAIT = 2.0  # seconds a call's end waits for the call to be stored


class AgentSync(Protocol):
    """Telling the PBX an agent's state: AgentPbxSync, or a web process's RemotePbx."""

    async def apply(self, target: AgentTarget) -> bool: ...


class AgentStates:
    def __init__(self, svc: Services, sync: AgentSync | None) -> None:
        self.svc = svc
        self.sync = sync
        # Agents whose phone moved since their browser was last told (run_phone_pushes).
        self._phones_moved: set[int] = set()
        self._phone_moved = asyncio.Event()
        self._pushes_done = asyncio.Event()
        self._pushes_done.set()
        # Agents whose answered call ended, to be told once it is stored (run_wrapup_pushes):
        # user → (their state changed, the PBX's answer to it).
        self._calls_ended: dict[int, tuple[bool, bool | None]] = {}
        self._call_ended = asyncio.Event()
        # Held from reading a state to pushing it: a push read before a change and sent
        # after the change's own push would leave the browser showing the older state.
        self._telling = asyncio.Lock()

    def _day_start(self) -> datetime:
        """Dispositions are owed for the calls of the (local) day."""
        return local_day_window(self.svc.clock.now(), self.svc.settings.tz)[1]

    def _out(
        self, state: AgentState, owed: int, live: LiveView, pbx_synced: bool | None
    ) -> AgentStateOut:
        now = present(
            status=state.status,
            reason=state.reason,
            since=state.since,
            phone=live.phone(state.user_id),
        )
        return AgentStateOut(
            user_id=state.user_id,
            status=state.status,
            reason=state.reason,
            since=state.since,
            wrapup_until=state.wrapup_until,
            pause_reasons=list(PAUSE_REASONS),
            presence=now.presence,
            presence_since=now.since,
            linkedid=now.linkedid,
            dispositions_owed=owed,
            disposition_required=self.svc.settings.disposition_required,
            pbx_synced=pbx_synced,
            server_time=self.svc.clock.now(),
        )

    async def _live(self, user_ids: Collection[int]) -> LiveView:
        """These agents' phones. Who has which extension comes from the process's kept
        directory, and only their own calls are looked at: a phone event (three a call) reads
        no user and costs the same on a busy floor as on a quiet one."""
        extensions = await self.svc.extensions.of_users(user_ids)
        return await live_view(self.svc, extensions, agents_only=True)

    async def _stored(self, user_ids: Collection[int]) -> list[tuple[AgentState, int]]:
        """These agents' stored states and how many calls each owes a disposition: one
        statement however many agents."""
        async with self.svc.database.session() as session:
            return await dispositions.states_with_owed(
                session, user_ids, at=self.svc.clock.now(), since=self._day_start()
            )

    async def get(self, user_id: int) -> AgentStateOut:
        live = await self._live([user_id])
        ((state, owed),) = await self._stored([user_id])
        return self._out(state, owed, live, None)

    async def _apply(self, user: User, state: AgentState) -> bool | None:
        if self.sync is None or not user.extension:
            return None
        return await self.sync.apply(
            AgentTarget(user.extension, user.display_name, state.status, state.reason)
        )

    def _push(self, out: AgentStateOut, *, changed: bool = True) -> None:
        self.svc.notify_user(out.user_id, StateMessage(**out.model_dump()))
        if changed:
            self.svc.bus.publish(AgentStateChanged(out.user_id, out.status))

    async def publish(
        self,
        user_ids: Iterable[int],
        *,
        changed: Collection[int] = (),
        synced: Mapping[int, bool | None] | None = None,
    ) -> None:
        """Tell these agents' browsers what they are doing now, as stored (their phone moved,
        they coded a call, their wrap-up began): the PBX is not told again. `changed`: whose
        state changed (the bus hears of it too); `synced`: what the PBX answered when it was."""
        wanted = set(user_ids)
        if not wanted:
            return
        async with self._telling:
            live = await self._live(wanted)
            for state, owed in await self._stored(wanted):
                told = (synced or {}).get(state.user_id)
                self._push(self._out(state, owed, live, told), changed=state.user_id in changed)

    async def change(self, user_id: int, status: AgentStatus, reason: str | None) -> AgentStateOut:
        async with self.svc.database.session() as session:
            user = await users.get_or_raise(session, user_id)
            if status is AgentStatus.READY and self.svc.settings.disposition_required:
                await dispositions.check_may_go_ready(
                    session, agent_id=user_id, since=self._day_start()
                )
            state = await agent_states.change(
                session, user_id=user_id, status=status, reason=reason, at=self.svc.clock.now()
            )
        return await self._tell(user, state)

    async def _tell(self, user: User, state: AgentState) -> AgentStateOut:
        """A state just stored: told to the PBX, then pushed to the browser (and the bus);
        what the browser was told."""
        synced = await self._apply(user, state)
        async with self._telling:
            live = await self._live([user.id])
            async with self.svc.database.read() as session:
                owed = await dispositions.count_owed(
                    session, agent_id=user.id, since=self._day_start()
                )
            out = self._out(state, owed, live, synced)
            self._push(out)
        return out

    async def after_coding(self, user_id: int) -> None:
        """The agent coded a call: a wrap-up held for it ends once nothing is owed; the
        browser learns what is left to code either way."""
        async with self.svc.database.session() as session:
            owed = await dispositions.count_owed(session, agent_id=user_id, since=self._day_start())
            ended = (
                None
                if owed
                else await agent_states.end_held_wrapup(
                    session, user_id=user_id, at=self.svc.clock.now()
                )
            )
            user = await users.get_or_raise(session, user_id) if ended is not None else None
        if ended is not None and user is not None:
            await self._tell(user, ended)
        else:
            await self.publish([user_id])

    async def _user_of(self, extension: str | None) -> int | None:
        holder = await self.svc.extensions.holder(extension)
        return holder.user_id if holder is not None and holder.role is Role.AGENT else None

    async def on_phone(self, event: AgentRinging | RingStopped | CallAnswered) -> None:
        """The agent's phone moved: their browser is told by run_phone_pushes."""
        user_id = await self._user_of(event.extension)
        if user_id is not None:
            self._phones_moved.add(user_id)
            self._pushes_done.clear()
            self._phone_moved.set()

    async def run_phone_pushes(self, *, retry_after: float = 1.0) -> None:
        """Tell the browsers of the agents whose phone moved, once the screen pops in progress
        are out (telephony/foreground.py), all of them in one read.

        The burst of PBX events that rings one agent's phone also moves others' (a call
        answered, one hung up): reading and pushing their states first held the pop back by
        a third of its time (bench/screen_pops.py). An agent whose phone moved several times
        meanwhile gets one push, of where they are now; so this never falls behind, however
        long it waits for the pops."""
        while True:
            await self._phone_moved.wait()
            await self.svc.foreground.yield_to()
            self._phone_moved.clear()
            moved, self._phones_moved = self._phones_moved, set()

            def put_back(moved: set[int] = moved) -> None:
                self._phones_moved |= moved  # the next try reads where they are then
                self._phone_moved.set()

            await self._push_or_retry(
                self.publish(moved), put_back, what="states", retry_after=retry_after
            )

    async def drain_pushes(self) -> None:
        """Wait until every phone move and call end handed in so far is pushed (tests)."""
        await self._pushes_done.wait()

    async def on_call_ended(self, event: CallEnded) -> None:
        record = event.record
        extension = record.agent_extension
        if record.outcome is not CallOutcome.ANSWERED or not extension:
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
        if user is None:
            return
        # The PBX at once, so that no queue call is offered during the wrap-up; the browser
        # once the call is stored, so that it counts among the calls to code. Waiting for the
        # store here, one call's end after another, held every later end back (a busy day's
        # wrap-ups began minutes late, their events queued in memory).
        if state is not None:  # the wrap-up began: the state changed, the PBX told
            self._calls_ended[user.id] = (True, await self._apply(user, state))
        else:  # not ready before the call: told as stored, keeping a change still to tell
            self._calls_ended.setdefault(user.id, (False, None))
        self._pushes_done.clear()
        self._call_ended.set()

    async def run_wrapup_pushes(self, *, retry_after: float = 1.0) -> None:
        """Tell the browsers of the agents whose call ended, once the calls are stored: all
        the ends of a moment in one wait for the call store and one read."""
        while True:
            await self._call_ended.wait()
            await self._calls_stored()
            self._call_ended.clear()
            ended, self._calls_ended = self._calls_ended, {}

            def put_back(ended: dict[int, tuple[bool, bool | None]] = ended) -> None:
                for user, told in ended.items():  # the next try reads where they are then
                    self._calls_ended.setdefault(user, told)
                self._call_ended.set()

            push = self.publish(
                ended,
                changed={user for user, (changed, _) in ended.items() if changed},
                synced={user: synced for user, (_, synced) in ended.items()},
            )
            await self._push_or_retry(push, put_back, what="wrap-ups", retry_after=retry_after)

    async def _push_or_retry(
        self,
        push: Awaitable[None],
        put_back: Callable[[], None],
        *,
        what: str,
        retry_after: float,
    ) -> None:
        """One batch of pushes; when it fails (the database away), what it held goes back for
        the next try, after `retry_after`."""
        try:
            await push
        except Exception as exc:
            put_back()
            if database_unavailable(exc):
                log.warning("agents' %s wait for the database (%s)", what, type(exc).__name__)
            else:
                log.exception("pushing agents' %s failed; trying again", what)
            await asyncio.sleep(retry_after)
        if not self._phones_moved and not self._calls_ended:
            self._pushes_done.set()

    async def _calls_stored(self) -> None:
        """Wait (briefly) for the bridge to store the calls it has seen end, so that the call
        just ended counts among the agent's calls to code."""
        if self.svc.bridge is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.svc.bridge.store.flush(), STORE_WAIT)

    async def end_expired_wrapups(self) -> None:
        """Wrap-ups whose time is over end; when dispositions are required, those of agents
        with calls still to code are held until they have coded them."""
        now = self.svc.clock.now()
        async with self.svc.database.session() as session:
            expired = await agent_states.expired_wrapups(session, at=now)
            held: set[int] = set()
            if expired and self.svc.settings.disposition_required:
                held = await dispositions.owing_agents(
                    session, agent_ids=[s.user_id for s in expired], since=self._day_start()
                )
                await agent_states.hold_wrapups(session, [s for s in expired if s.user_id in held])
            ended = [s for s in expired if s.user_id not in held]
            await agent_states.end_wrapups(session, ended, at=now)
            agents = await users.get_by_ids(session, ids=(s.user_id for s in ended))
        if not expired:
            return
        for state in ended:
            await self._tell(agents[state.user_id], state)
        if held:
            await self.publish(held)

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
        elif isinstance(event, PHONE_EVENTS):
            await self.on_phone(event)
        elif isinstance(event, QueueMembersResynced):
            await self.on_resynced(event)

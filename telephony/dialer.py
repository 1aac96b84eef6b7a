"""The campaign dialer: dials due callbacks for running campaigns, paced to the agents.

Agent-first (progressive, the default): a ready agent of the campaign who is not on a call
gets the next task: the attempt is written, then the agent's phone rings (the console pops the
customer and the task) and then the customer's. Customer-first: customers are dialed and
answered calls join the campaign's queue, never more calls in progress than ready agents
times the pacing ratio. Starts are capped per second for the trunk.

Exactly one dialer runs per database: it dials only while it holds the dialer lock; others
wait as standbys. A task is claimed by a conditional update before it is dialed, so even two
racing dialers never dial it twice; an attempt lost with the PBX connection is failed (and
retried by its campaign's rules) only once the PBX, back and resynced, shows no call for it.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from crm.callbacks.models import Outcome
from crm.campaigns import service as campaigns
from crm.campaigns.models import DialMode
from crm.campaigns.rules import StartRate, calls_to_start
from crm.campaigns.service import ReadyAgent
from crm.clock import Clock
from crm.db import Database
from crm.locks import DatabaseLock
from crm.phones import lookup_key
from crm.settings import Settings
from crm.work_calendar import WorkCalendar, load_calendar
from telephony import contract
from telephony.ami.client import AmiError
from telephony.bridge import Bridge
from telephony.channels import AgentDirectory

if TYPE_CHECKING:
    from crm.callbacks.models import CallbackAttempt
    from crm.campaigns.models import Campaign

log = logging.getLogger(__name__)

LOCK_NAME = "callcentre-dialer"
# An attempt with no call at the PBX after this long was lost (dropped connection, refused).
LOST_AFTER = timedelta(seconds=90)


class Dialer:
    def __init__(
        self,
        settings: Settings,
        database: Database,
        bridge: Bridge,
        *,
        clock: Clock,
        calendar: WorkCalendar | None = None,
        tick_seconds: float = 0.5,
        standby_seconds: float = 2.0,
    ) -> None:
        self.settings = settings
        self.database = database
        self.bridge = bridge
        self.clock = clock
        self.calendar = calendar or load_calendar(settings.holidays_path)
        self.lock = DatabaseLock(database, LOCK_NAME)
        self.rate = StartRate(settings.dialer_calls_per_second)
        self.tick_seconds = tick_seconds
        self.standby_seconds = standby_seconds
        self.agents = AgentDirectory(settings.agent_extension_pattern)
        self.active = False
        self.started = 0  # calls started by this dialer

    async def run(self) -> None:
        """Dial while holding the lock; stand by while another dialer holds it."""
        try:
            while True:
                try:
                    acquired = await self.lock.acquire()
                except Exception as exc:  # the database is away: stand by until it is back
                    log.warning("dialer cannot reach the database for its lock: %s", exc)
                    acquired = False
                if not acquired:
                    await asyncio.sleep(self.standby_seconds)
                    continue
                self.active = True
                log.info("dialer active (this process holds the dialer lock)")
                while await self.lock.still_held():
                    try:
                        await self.tick()
                    except Exception:
                        log.exception("dialer tick failed; carrying on")
                    await asyncio.sleep(self.tick_seconds)
                self.active = False
        finally:
            self.active = False
            await self.lock.release()

    async def tick(self) -> None:
        if not self.bridge.settled:
            return  # dial (and judge attempts lost) only with a PBX we are in step with
        now = self.clock.now()
        await self.fail_lost_attempts(now)
        async with self.database.session() as session:
            running = await campaigns.get_running(session)
        for campaign in running:
            if campaigns.hours(campaign, self.settings, self.calendar).allows(now):
                await self._dial(campaign, now)

    # -- who can take a call --------------------------------------------------------------

    def _busy_extensions(self) -> set[str]:
        busy: set[str] = set()
        for call in self.bridge.tracker.live_calls():
            busy.update(e for e in map(self.agents.extension_of, call.agents_rung) if e)
            if call.agent_extension:
                busy.add(call.agent_extension)
        return busy

    async def _free_agents(self, campaign: Campaign, reserved: set[int]) -> list[ReadyAgent]:
        """The campaign's ready agents whose phone is not on a call and who have no call of
        the campaign on its way (`reserved`)."""
        async with self.database.session() as session:
            ready = await campaigns.ready_agents(session, campaign=campaign)
        busy = self._busy_extensions()
        return [a for a in ready if a.extension not in busy and a.user_id not in reserved]

    def _ready_queue_members(self, campaign: Campaign) -> int:
        queue = campaign.queue or self.settings.callback_queue
        busy = self._busy_extensions()
        return sum(
            1
            for m in self.bridge.queue_members.members(queue)
            if not m.paused and not m.in_call and m.extension not in busy
        )

    # -- dialing --------------------------------------------------------------------------

    async def _dial(self, campaign: Campaign, now: datetime) -> None:
        async with self.database.session() as session:
            flying = await campaigns.in_flight(session)
        mine = [a for a in flying if a.campaign_id == campaign.id]
        if campaign.mode is DialMode.AGENT_FIRST:
            agents = await self._free_agents(campaign, {a.agent_id for a in flying if a.agent_id})
            room = min(len(agents), campaign.max_concurrent - len(mine))
        else:
            agents = []
            room = calls_to_start(
                ready_agents=self._ready_queue_members(campaign),
                in_progress=len(mine),
                ratio=campaign.pacing_ratio,
                max_concurrent=campaign.max_concurrent,
            )
        if room <= 0:
            return
        async with self.database.session() as session:
            candidates = await campaigns.next_tasks(
                session, campaign, settings=self.settings, now=now, limit=room
            )
        for index, candidate in enumerate(candidates):
            if not self.rate.take(self.clock.monotonic()):
                return  # the trunk's call-start rate: the rest waits for the next tick
            agent = agents[index] if agents else None
            async with self.database.session() as session:
                attempt = await campaigns.claim(
                    session, campaign, candidate, agent_id=agent.user_id if agent else None, at=now
                )
            if attempt is not None:
                await self._originate(campaign, attempt, candidate.number, agent)

    async def _originate(
        self, campaign: Campaign, attempt: CallbackAttempt, number: str, agent: ReadyAgent | None
    ) -> None:
        variables = {
            contract.VAR_CALL_TYPE: contract.CallType.CALLBACK,
            contract.VAR_ATTEMPT_ID: str(attempt.id),
            contract.VAR_CUSTOMER_NUMBER: number,
        }
        if agent is not None:
            channel = self.settings.agent_phone(agent.extension)
            context, exten = contract.CONTEXT_CALLBACK, number
            caller_id = f'"{agent.name}" <{agent.extension}>'
        else:
            channel = self.settings.trunk_dial_template.format(number=number)
            context, exten = contract.CONTEXT_CALLBACK_QUEUE, "s"
            caller_id = None
        try:
            await self.bridge.originate(
                channel=channel,
                context=context,
                exten=exten,
                variables=variables,
                caller_id=caller_id,
                attempt_id=attempt.id,
                dialed=number,
            )
            self.started += 1
            log.info(
                "campaign %s: dialing %s for attempt %s%s",
                campaign.id,
                number,
                attempt.id,
                f" (agent {agent.extension})" if agent else "",
            )
        except AmiError as exc:
            log.warning("campaign %s: the PBX refused attempt %s: %s", campaign.id, attempt.id, exc)
            async with self.database.session() as session:
                await campaigns.complete_open_attempt(
                    session,
                    attempt_id=attempt.id,
                    outcome=Outcome.FAILED,
                    at=self.clock.now(),
                    notes=f"PBX refused: {exc}",
                )

    async def fail_lost_attempts(self, now: datetime) -> int:
        """Attempts whose call the PBX never made (or that vanished while the bridge was away)
        are failed, so their task is retried; an attempt with a live call is never touched,
        nor one whose call this process saw end: the PBX made it, and the bridge storing it
        may lag far behind a busy day (failing it then would reject the agent's form and dial
        the customer again)."""
        live = self.bridge.tracker.live_calls()
        live_attempts = {c.attempt_id for c in live if c.attempt_id}
        area = self.settings.default_area_code
        live_numbers = {
            lookup_key(n, default_area_code=area)
            for c in live
            for n in (c.customer_number, c.dialed, c.caller)
            if n
        }
        failed = 0
        ended: set[int] | None = None  # read once, and only when some attempt looks lost
        async with self.database.session() as session:
            for attempt in await campaigns.in_flight(session):
                if (
                    attempt.call_id is not None
                    or attempt.id in live_attempts
                    or now - attempt.started_at < LOST_AFTER
                    or lookup_key(attempt.dialed_number, default_area_code=area) in live_numbers
                ):
                    continue
                if ended is None:
                    ended = self.bridge.tracker.ended_attempts()
                if attempt.id in ended:
                    continue
                await campaigns.complete_attempt(
                    session,
                    attempt=attempt,
                    outcome=Outcome.FAILED,
                    at=now,
                    notes="no call at the PBX for this attempt (connection lost or refused)",
                )
                failed += 1
        if failed:
            log.warning(
                "%d campaign attempt(s) had no call at the PBX: failed, to be retried", failed
            )
        return failed

    def health(self) -> dict[str, object]:
        return {"active": self.active, "calls_started": self.started}

"""The bridge role: one per Asterisk. It follows the PBX over AMI, stores calls, completes
campaign attempts from each call's outcome, starts and ends wrap-up, tells each agent's browser
what their phone is doing; with Redis it also publishes what it sees for the web processes,
carries out their PBX requests and announces the transcription jobs its calls queue."""

from __future__ import annotations

from contextlib import AsyncExitStack

from starlette.datastructures import State

from crm.bus import Bus, Event, LocalBus
from telephony.agent_sync import AgentPbxSync
from telephony.attempt_outcomes import resolve_attempt
from telephony.bridge import Bridge
from telephony.events import CallEnded, QueueMembersResynced
from telephony.pbx_requests import PbxCommandServer
from telephony.speech.job_stream import JobStream, publish_jobs
from web.agent_states import PHONE_EVENTS
from web.runtime.codec import CROSSING
from web.runtime.lifetimes import start_task, subscribe
from web.services import Services


def pbx_events_bus(svc: Services) -> Bus:
    """Where the PBX's events reach the bridge role's subscribers, once each: the process's
    bus when it is in-process; with Redis, one of the bridge's own (the stream carries the
    events to the web processes, not to these subscribers)."""
    return LocalBus() if svc.bus.spans_processes else svc.bus


def open_bridge(svc: Services, state: State) -> Bridge:
    """This process's AMI bridge, built before the roles that hold it (agent states tell the
    PBX through it); `start_bridge` connects it once every role has subscribed."""
    bridge = Bridge(svc.settings, svc.database, pbx_events_bus(svc), clock=svc.clock)
    bridge.store.foreground = svc.foreground  # storing calls waits for the pops in progress
    svc.metrics.watch(bridge.health)
    state.health_probes["pbx"] = bridge.health
    state.runs_bridge = True
    return bridge


async def start_bridge(stack: AsyncExitStack, svc: Services) -> None:
    """Wrap-ups and attempt outcomes from the PBX's events, the wrap-up timer, the other
    processes' requests; then the AMI session. Without a bridge here (API tests) the same
    bookkeeping runs on what is published on the process's bus."""
    bridge = svc.bridge
    bus = bridge.bus if bridge is not None else pbx_events_bus(svc)
    if bus is not svc.bus:
        stack.push_async_callback(bus.close)
    assert svc.agent_states is not None
    subscribe(
        stack,
        bus,
        svc.agent_states.handle,
        name="agent-states",
        types=(CallEnded, QueueMembersResynced, *PHONE_EVENTS),
    )

    async def complete_attempt(event: CallEnded) -> None:
        await resolve_attempt(svc.database, event.record, at=svc.clock.now())

    subscribe(stack, bus, complete_attempt, name="attempt-outcomes", types=(CallEnded,))
    if bridge is not None:  # stopped while its subscribers still listen: its last events count
        stack.push_async_callback(bridge.stop)
    start_task(stack, svc.agent_states.run_wrapup_timer(), name="wrapup-timer")
    start_task(stack, svc.agent_states.run_phone_pushes(), name="agent-phone-pushes")
    start_task(stack, svc.agent_states.run_wrapup_pushes(), name="agent-wrapup-pushes")
    if bridge is not None and svc.redis is not None:
        serve_other_processes(stack, svc, bridge)
    if bridge is not None:
        await bridge.start()


def serve_other_processes(stack: AsyncExitStack, svc: Services, bridge: Bridge) -> None:
    """The bridge's events go on the events stream; the web processes' PBX requests are
    carried out and the PBX's status kept fresh for them; the transcription jobs its calls
    queue are announced to the workers."""
    assert svc.redis is not None

    async def forward(event: Event) -> None:
        svc.bus.publish(event)

    subscribe(stack, bridge.bus, forward, name="to-redis", types=CROSSING)
    requests = PbxCommandServer(svc.redis, bridge, AgentPbxSync(bridge, svc.settings))
    start_task(stack, requests.run(), name="pbx-commands")
    start_task(stack, requests.publish_status(), name="pbx-status")
    jobs = JobStream(svc.redis)

    async def announce(job_ids: list[int]) -> None:
        await publish_jobs(jobs, job_ids)

    bridge.store.on_jobs_queued = announce

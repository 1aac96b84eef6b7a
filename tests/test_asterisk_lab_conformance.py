"""The PBX simulator against the live PBX (tests/lab) on the same scenarios: the tracker must
conclude the same about each call, and each channel must show the tracker the same events in
the same order. Where they differ, the live Asterisk is right."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from crm.clock import SystemClock
from telephony.bridge import bridge_event_filter
from telephony.pbx_sim import PbxSimulator, SimulatorConfig
from telephony.tracker import CallTracker
from tests.lab.ami_tap import AmiTap
from tests.lab.conformance import Shape, sequences, track
from tests.lab.lab import AMI_USER, Scene
from tests.lab.render import CARRIER_ACCOUNT
from tests.lab.scripts import quiet
from tests.lab.truth import SimulatorDisagreement

pytestmark = pytest.mark.asterisk
CALLER = "13800138000"
BRIDGE_VIEW = bridge_event_filter(CallTracker())  # what the bridge lets through to the tracker


async def _queue_add(tap: AmiTap, extension: str) -> None:
    response = await tap.send(
        {"Action": "QueueAdd", "Queue": "service", "Interface": f"PJSIP/{extension}",
         "MemberName": f"Agent {extension}"}
    )  # fmt: skip
    assert response.success, dict(response)


# -- the scenarios on the live PBX ----------------------------------------------------------


async def _lab_answered(scene: Scene, tap: AmiTap, tmp_path: Path) -> None:
    agent = await scene.agent("1001", quiet(tmp_path, "agent", total=30))
    caller = await scene.customer(CALLER, quiet(tmp_path, "caller", total=7))
    await _queue_add(tap, "1001")
    await caller.dial(scene.inbound_uri())
    await agent.wait_event("CALL_INCOMING")
    await asyncio.sleep(2.0)
    await agent.accept()
    await caller.wait_event("CALL_CLOSED", timeout=20)


async def _lab_abandoned(scene: Scene, tap: AmiTap, tmp_path: Path) -> None:
    agent = await scene.agent("1001", quiet(tmp_path, "agent", total=30))
    caller = await scene.customer(CALLER, quiet(tmp_path, "caller", total=4))
    await _queue_add(tap, "1001")
    await caller.dial(scene.inbound_uri())
    await agent.wait_event("CALL_INCOMING")  # rings, never answered
    await caller.wait_event("CALL_CLOSED", timeout=20)


async def _lab_joinempty(scene: Scene, tap: AmiTap, tmp_path: Path) -> None:
    caller = await scene.customer(CALLER, quiet(tmp_path, "caller", total=20))
    await caller.dial(scene.inbound_uri())
    await caller.wait_event("CALL_CLOSED", timeout=20)  # the PBX hangs up


CALLBACK = "13900139000"


def _originate_callback() -> dict[str, str]:
    """The agent-first callback as the server sends it (Bridge.originate)."""
    return {
        "Action": "Originate", "Channel": "PJSIP/1001", "Context": "callback",
        "Exten": CALLBACK, "Priority": "1", "Async": "true", "Timeout": "30000",
        "Variable": f"CC_ATTEMPT_ID=7,CC_CUSTOMER_NUMBER={CALLBACK}",
    }  # fmt: skip


async def _lab_callback(scene: Scene, tap: AmiTap, tmp_path: Path) -> None:
    agent = await scene.agent("1001", quiet(tmp_path, "agent", total=30))
    customer = await scene.carrier(CALLBACK, quiet(tmp_path, "customer", total=5))
    assert (await tap.send(_originate_callback())).success
    await agent.wait_event("CALL_INCOMING")
    await scene.reach_carrier()
    await agent.accept()
    await customer.wait_event("CALL_INCOMING")
    await asyncio.sleep(2.0)
    await customer.accept()
    await customer.wait_event("CALL_CLOSED", timeout=20)


# -- the same scenarios on the simulator ------------------------------------------------------


async def _sim_answered(sim: PbxSimulator, tap: AmiTap) -> None:
    await _queue_add(tap, "1001")
    await sim.place_inbound_call(CALLER, answer_after=2, talk_seconds=5, hangup_by="customer")


async def _sim_abandoned(sim: PbxSimulator, tap: AmiTap) -> None:
    await _queue_add(tap, "1001")
    await sim.place_inbound_call(CALLER, abandon=4.0)


async def _sim_joinempty(sim: PbxSimulator, tap: AmiTap) -> None:
    await sim.place_inbound_call(CALLER)


async def _sim_callback(sim: PbxSimulator, tap: AmiTap) -> None:
    assert (await tap.send(_originate_callback())).success


LabScenario = Callable[[Scene, AmiTap, Path], Awaitable[None]]
SimScenario = Callable[[PbxSimulator, AmiTap], Awaitable[None]]
SCENARIOS: dict[str, tuple[LabScenario, SimScenario, dict[str, Any]]] = {
    "inbound_answered": (_lab_answered, _sim_answered, {}),
    "inbound_abandoned": (_lab_abandoned, _sim_abandoned, {"answer_delays": {"1001": None}}),
    "inbound_joinempty": (_lab_joinempty, _sim_joinempty, {}),
    "callback_agent_first_answered": (
        _lab_callback,
        _sim_callback,
        {
            "answer_delays": {"1001": 0.5},
            "customer_answer_delay": 2.0,
            "talk_seconds": (5, 5),
            "caller_hangup_ratio": 1.0,
        },
    ),
}


async def _on_lab(scene: Scene, tmp_path: Path, run: LabScenario) -> AmiTap:
    lab = scene.lab
    tap = AmiTap("127.0.0.1", lab.settings.ports.ami, AMI_USER, lab.ami_secret, BRIDGE_VIEW)
    await tap.start()
    try:
        await run(scene, tap, tmp_path)
        await asyncio.sleep(1.0)  # the last events of the call
    finally:
        await tap.stop()
    return tap


async def _on_simulator(tmp_path: Path, run: SimScenario, options: dict[str, Any]) -> AmiTap:
    sim = PbxSimulator(
        SimulatorConfig(
            port=0, user=AMI_USER, secret="sim-secret", time_scale=0.25, seed=11,
            recordings_dir=tmp_path / "sim-recordings", trunk_endpoint="carrier",
            hotline=CARRIER_ACCOUNT, **options,
        ), clock=SystemClock()
    )  # fmt: skip
    _, port = await sim.start()
    tap = AmiTap("127.0.0.1", port, AMI_USER, "sim-secret", BRIDGE_VIEW)
    try:
        await tap.start()
        await run(sim, tap)
        await sim.wait_calls()
        await asyncio.sleep(0.3)
    finally:
        await tap.stop()
        await sim.stop()
    return tap


# Known differences, reported to the simulator's owner: scenario -> what the simulator does
# wrong. Each mark is strict, so it must go when the simulator is fixed. None at present.
KNOWN: dict[str, str] = {}


@pytest.mark.parametrize(
    "scenario",
    [
        pytest.param(
            name,
            marks=[pytest.mark.xfail(raises=SimulatorDisagreement, strict=True, reason=KNOWN[name])]
            if name in KNOWN
            else [],
        )
        for name in SCENARIOS
    ],
)
async def test_the_simulator_behaves_like_the_live_pbx(
    scenario: str, scene: Scene, tmp_path: Path
) -> None:
    lab_run, sim_run, options = SCENARIOS[scenario]
    live = await _on_lab(scene, tmp_path, lab_run)
    simulated = await _on_simulator(tmp_path, sim_run, options)
    [live_call], tracker = track(live.events)
    [sim_call], _ = track(simulated.events)
    handled = tracker.handled_events
    live_steps = sequences(live.events, live_call.linkedid, handled)
    sim_steps = sequences(simulated.events, sim_call.linkedid, handled)
    print(f"\n{scenario} live: {Shape.of(live_call)}\n{scenario} sim:  {Shape.of(sim_call)}")
    for tap, call in ((live, live_call), (simulated, sim_call)):
        ends = [(m["Event"], m.get("Channel"), m.get("Cause"), m.get("Cause-txt"), m.get("Reason"))
                for _, m in tap.events if m.get("Event") in ("Hangup", "HangupRequest",
                "SoftHangupRequest", "AgentComplete", "QueueCallerAbandon")
                and m.get("Linkedid") == call.linkedid]  # fmt: skip
        print(f"  ends {'live' if tap is live else 'sim '}: {ends}")
    for channel in sorted(set(live_steps) | set(sim_steps)):
        print(f"  {channel} live: {live_steps.get(channel)}")
        print(f"  {channel} sim:  {sim_steps.get(channel)}")
    differences = []
    if Shape.of(sim_call) != Shape.of(live_call):
        differences.append(f"record: simulator {Shape.of(sim_call)} != live {Shape.of(live_call)}")
    for channel in sorted(set(live_steps) | set(sim_steps)):
        if sim_steps.get(channel) != live_steps.get(channel):
            differences.append(
                f"{channel}: simulator {sim_steps.get(channel)} != live {live_steps.get(channel)}"
            )
    if differences:
        raise SimulatorDisagreement("\n".join(differences))

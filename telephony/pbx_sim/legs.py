"""Outgoing channels: what Originate, Dial and Queue ask the channel technologies for.

`PJSIP/<extension>` is an agent's phone and `PJSIP/<number>@<trunk>` an outside number
(`devices.py` plays their answers); `Local/<exten>@<context>[/n]` is a pair of channels whose
`;2` half runs the dialplan at exten@context, so the dialplan itself plays the far end. A
request the technology refuses (an unknown endpoint, a phone with no contact, a Local channel
into an extension that does not exist) creates no channel at all.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from telephony.pbx_sim.channels import Channel
from telephony.pbx_sim.devices import phone_outcome, run_device, trunk_outcome
from telephony.pbx_sim.pbx import Pbx
from telephony.pbx_sim.scenario import Call


@dataclass
class LegRequest:
    """One outgoing channel to create, and what the PBX tells it on creation."""

    interface: str  # PJSIP/1001, PJSIP/13900139000@trunk, Local/1002@agents/n
    call: Call
    linkedid: str | None  # None: the leg starts its own call (an Originate)
    app: str  # what the new channel shows it is doing: AppDial2, AppDial, AppQueue
    caller: tuple[str, str]  # (number, name) of its CallerID
    connected: tuple[str, str] | None = None  # its connected line, when set at creation
    variables: list[tuple[str, str]] = field(default_factory=list)


def split_interface(interface: str) -> tuple[str, str]:
    """`Local/1002@agents/n` → ("Local", "1002@agents"); `PJSIP/1001` → ("PJSIP", "1001")."""
    tech, _, resource = interface.partition("/")
    if tech == "Local":
        resource = resource.split("/", 1)[0]
    return tech, resource


def dial_string(interface: str) -> str:
    """What DialBegin shows for an Originate or Dial target: the resource after the
    technology (`1001`, `13900139000@trunk`, `abandon@sim-customer/n`)."""
    return interface.partition("/")[2]


def open_leg(pbx: Pbx, request: LegRequest) -> Channel | None:
    """Create and announce the channel(s); None if the technology refuses the request."""
    tech, resource = split_interface(request.interface)
    config = pbx.config
    if pbx.shutting_down:  # ast_begin_shutdown(): no new channel is allocated
        return None
    if tech == "Local":
        exten, at, context = resource.partition("@")
        if not (at and exten and pbx.dialplan.find(context, exten)):
            return None
        leg = pbx.new_local_pair(resource, linkedid=request.linkedid, call=request.call)
    elif tech == "PJSIP":
        number, at, endpoint = resource.partition("@")
        if at and endpoint == config.trunk_endpoint and number:
            context = config.inbound_context
        elif not at and pbx.is_agent_extension(number):
            if number in config.unregistered_extensions:
                return None  # no contact registered: chan_pjsip refuses the request
            context = config.agent_context
        else:
            return None
        leg = pbx.new_channel(
            f"PJSIP/{endpoint if at else number}", context=context, exten="s",
            linkedid=request.linkedid, call=request.call,
        )  # fmt: skip
    else:
        return None
    leg.dialed = resource
    pbx.newexten(leg, request.app, "(Outgoing Line)")
    for name, value in reversed(request.variables):  # ast_set_variables walks a prepended list
        pbx.set_var(leg, name, value)
    pbx.set_caller(leg, *request.caller)
    if request.connected is not None:
        pbx.set_connected(leg, *request.connected)
    twin = leg.twin
    if twin is not None:
        for name, value in request.variables:
            pbx.set_var(twin, name, value)
        pbx.set_caller(twin, *request.caller)
        pbx.set_connected(twin, *(request.connected or request.caller))
        pbx.local_bridge(leg)
    return leg


def start_far_end(pbx: Pbx, leg: Channel, run_far_half: Callable[[Pbx, Channel], None]) -> None:
    """The far end starts answering: a Local `;2` runs its dialplan, an endpoint its device."""
    if leg.twin is not None:
        run_far_half(pbx, leg)
        return
    call = leg.call
    assert call is not None
    number, at, _ = leg.dialed.partition("@")
    outcome, delay = trunk_outcome(pbx, number) if at else phone_outcome(pbx, number, call.plan)
    pbx.spawn_far_end(leg, run_device(pbx, leg, outcome, delay))

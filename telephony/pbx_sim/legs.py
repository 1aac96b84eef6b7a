"""Outgoing channels: what Originate, Dial and Queue ask the channel technologies for.

`PJSIP/<extension>` is an agent's phone and `PJSIP/<number>@<trunk>` an outside number
(`devices.py` plays their answers); `Local/<exten>@<context>[/n]` is a pair of channels whose
`;2` half runs the dialplan at exten@context, so the dialplan itself plays the far end. A
request the technology refuses (an unknown endpoint, a phone with no contact, a Local channel
into an extension that does not exist) creates no channel at all.

Who asks decides what the new channel is told: Originate sets the CallerID it was given
(pbx.c); Dial gives it the dialling channel's extension, a caller ID if the channel has none
of its own, and the caller as connected line, all in one snapshot (app_dial's staged
snapshot); Queue gives it a caller ID if it has none (NewCallerid), then the caller's
extension and connected line silently (app_queue's ring_entry: the next snapshot shows them).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum

from telephony.pbx_sim.channels import Channel
from telephony.pbx_sim.devices import phone_outcome, run_device, trunk_outcome
from telephony.pbx_sim.pbx import Pbx
from telephony.pbx_sim.scenario import Call
from telephony.pbx_sim.technology import technology


class Requester(StrEnum):
    """Who asks for a leg, as the new channel's application shows it."""

    ORIGINATE = "AppDial2"
    DIAL = "AppDial"
    QUEUE = "AppQueue"


@dataclass
class LegRequest:
    """One outgoing channel to create, and what the PBX tells it on creation."""

    interface: str  # PJSIP/1001, PJSIP/13900139000@trunk, Local/1002@agents/n
    call: Call
    linkedid: str | None  # None: the leg starts its own call (an Originate)
    app: Requester  # who asks (what the new channel shows it is doing)
    # (number, name) of its CallerID: Originate's (None: it was given none); Dial's and
    # Queue's guess, used only when the channel has no caller ID of its own.
    caller: tuple[str, str] | None
    connected: tuple[str, str] | None = None  # its connected line, when set at creation
    exten: str | None = None  # Dial's and Queue's: the dialling channel's extension
    variables: list[tuple[str, str]] = field(default_factory=list)
    # Originate's ChannelId and OtherChannelId: the uniqueids the new channel (a Local
    # channel's `;1`, and its `;2`) must have; "" lets the PBX number it.
    channel_id: str = ""
    other_channel_id: str = ""


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
    uniqueids = _assigned_ids(request, tech)
    if uniqueids and any(pbx.uniqueid_in_use(uid) for uid in uniqueids):
        return None  # channel.c: "does_id_conflict": the allocation fails
    if tech == "Local":
        exten, at, context = resource.partition("@")
        if not (at and exten and pbx.dialplan.find(context, exten)):
            return None
        leg = pbx.new_local_pair(
            resource,
            linkedid=request.linkedid,
            call=request.call,
            uniqueids=(uniqueids[0], uniqueids[1]) if uniqueids else None,
        )
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
        target = endpoint if at else number
        leg = pbx.new_channel(
            f"PJSIP/{target}", context=context, exten="s", linkedid=request.linkedid,
            call=request.call, caller=technology(tech).caller_id(pbx, target),
            uniqueid=uniqueids[0] if uniqueids else None,
        )  # fmt: skip
    else:
        return None
    leg.dialed = resource
    if request.app is not Requester.DIAL:
        pbx.newexten(leg, request.app, "(Outgoing Line)")
    for name, value in reversed(request.variables):  # ast_set_variables walks a prepended list
        pbx.set_var(leg, name, value)
    _identify(pbx, leg, request)
    twin = leg.twin
    if twin is not None:
        for name, value in request.variables:
            pbx.set_var(twin, name, value)
        if request.caller is not None:
            pbx.set_caller(twin, *request.caller)
            pbx.set_connected(twin, *(request.connected or request.caller))
        pbx.local_bridge(leg)
    return leg


def _assigned_ids(request: LegRequest, tech: str) -> tuple[str, ...]:
    """The uniqueids an Originate assigned: a Local channel's `;2` gets OtherChannelId, or
    ChannelId with `;2` appended (core_unreal.c); none without a ChannelId."""
    if not request.channel_id:
        return ()
    if tech != "Local":
        return (request.channel_id,)
    return (request.channel_id, request.other_channel_id or f"{request.channel_id};2")


def _identify(pbx: Pbx, leg: Channel, request: LegRequest) -> None:
    """The caller ID, connected line and extension the requester gives the new channel."""
    own_caller_id = leg.caller_num != "<unknown>"  # a phone's endpoint `callerid`
    if request.app is Requester.ORIGINATE:
        if request.caller is not None:  # pbx.c: ast_set_callerid, then the connected line
            pbx.set_caller(leg, *request.caller)
            pbx.set_connected(leg, *(request.connected or request.caller))
        return
    if request.app is Requester.DIAL:  # one snapshot: Newexten, NewCallerid, NewConnectedLine
        if request.exten is not None:
            leg.exten = request.exten
        if request.caller is not None and not own_caller_id:
            pbx.set_caller(leg, *request.caller, publish=False)
        if request.connected is not None:
            pbx.set_connected(leg, *request.connected, publish=False)
        pbx.newexten(leg, request.app, "(Outgoing Line)")
        pbx.publish(leg)
        return
    if request.caller is not None and not own_caller_id:
        pbx.set_caller(leg, *request.caller)
    if request.exten is not None:
        leg.exten = request.exten
    if request.connected is not None:
        pbx.set_connected(leg, *request.connected, publish=False)


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

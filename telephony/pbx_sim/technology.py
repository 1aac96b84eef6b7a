"""What depends on the channel technology, and only that: chan_pjsip (the demo's phones and
trunk) and core_local (the Local channels of the captures' PBXs). Everything else the
simulator does is Asterisk's core and applications, the same whatever the channel.

Seen on the lab's Asterisk 22.10.1 (tests/lab) for PJSIP, in the captures for Local:

- caller ID: an agent's endpoint has `callerid = "Agent 1001" <1001>` and `context =
  from-agents` (asterisk-conf/pjsip.conf), so the channel to the phone is born with both and
  neither Queue nor Dial guesses a caller ID for it (no NewCallerid); the trunk's channels and
  Local channels start without one.
- connected line: chan_pjsip's call() queues the new channel's caller ID as a connected-line
  update (update_initial_connected_line), which Dial passes to its caller at once and Queue
  when the member answers.
- hang-up requests: a BYE queues a hangup carrying the cause the channel already has
  (ast_queue_hangup: no Cause header while it has none, so a caller who leaves a queue ends
  with cause 0); a Local half passes its twin's cause (ast_queue_hangup_with_cause).
- destruction: ast_hangup() hands a PJSIP channel to its SIP session's serializer, which ends
  the session and drops the last reference, so its Hangup event comes after what the
  hanging-up thread does next (the member's Hangup after QueueCallerAbandon and the caller's
  SoftHangupRequest); a Local channel's comes at once.
- device state: an agent's endpoint has `device_state_busy_at = 1`, so it is BUSY as soon as
  one of its channels is past Down (QueueMemberStatus 3, straight back to 1); a Local device
  is INUSE while any of its channels exists.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from telephony.ami.vocabulary import ChannelState, DeviceState

if TYPE_CHECKING:
    from telephony.pbx_sim.channels import Channel
    from telephony.pbx_sim.pbx import Pbx

# asterisk-conf/pjsip.conf: every agent's endpoint inherits (agent-endpoint) and names itself.
AGENT_ENDPOINT_CONTEXT = "from-agents"
AGENT_DEVICE_STATE_BUSY_AT = 1


def agent_caller_id(extension: str) -> tuple[str, str]:
    """(number, name) of an agent's endpoint: `callerid = "Agent 1001" <1001>`."""
    return extension, f"Agent {extension}"


class Technology:
    """Asterisk's core behaviour, which a Local channel keeps: no caller ID of its own, a
    hang-up request with the cause it is given, destroyed at once."""

    name = "Local"
    sends_connected_line = False  # queues its caller ID as a connected-line update on call
    hangs_up_later = False  # its Hangup event waits for the driver's own thread

    def caller_id(self, pbx: Pbx, resource: str) -> tuple[str, str] | None:
        """The caller ID a new channel to `resource` is born with (None: none)."""
        return None

    def hangup_request_cause(self, channel: Channel, cause: int) -> int | None:
        """The Cause a HangupRequest for the far end's hang-up carries (None: no header); the
        channel's Hangup will give it (or 0)."""
        return cause

    def device_state(self, pbx: Pbx, resource: str, states: Sequence[ChannelState]) -> DeviceState:
        """A device's state from its live channels' states (core_local.c: in use while any
        exists)."""
        return DeviceState.INUSE if states else DeviceState.NOT_INUSE


class Pjsip(Technology):
    name = "PJSIP"
    sends_connected_line = True
    hangs_up_later = True

    def caller_id(self, pbx: Pbx, resource: str) -> tuple[str, str] | None:
        return agent_caller_id(resource) if pbx.is_agent_extension(resource) else None

    def hangup_request_cause(self, channel: Channel, cause: int) -> int | None:
        return channel.cause or None

    def device_state(self, pbx: Pbx, resource: str, states: Sequence[ChannelState]) -> DeviceState:
        """chan_pjsip_devicestate(): an unregistered phone is UNAVAILABLE; an agent's phone is
        BUSY with one channel past Down; the trunk is in use while it carries a call."""
        if resource in pbx.config.unregistered_extensions:
            return DeviceState.UNAVAILABLE
        if pbx.is_agent_extension(resource):
            busy = sum(state != ChannelState.DOWN for state in states) >= AGENT_DEVICE_STATE_BUSY_AT
            return DeviceState.BUSY if busy else DeviceState.NOT_INUSE
        if any(state == ChannelState.UP for state in states) or (
            states and resource == pbx.config.trunk_endpoint
        ):
            return DeviceState.INUSE
        if any(state == ChannelState.RINGING for state in states):
            return DeviceState.RINGING
        return DeviceState.NOT_INUSE


CORE = Technology()
TECHNOLOGIES: dict[str, Technology] = {tech.name: tech for tech in (CORE, Pjsip())}


def technology(name: str) -> Technology:
    """The technology called `name` (`PJSIP`, `Local`). The simulator creates channels of
    these two only, so another name (a queue member `SIP/...`) has no channel and no state
    of its own: the core's."""
    return TECHNOLOGIES.get(name, CORE)

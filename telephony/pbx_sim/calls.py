"""Inbound calls: a customer dials the hotline (into a queue) or an extension, through the trunk.

`telephony/contract.py` names the contexts and variables; the event order follows the
captures, with PJSIP phones and a SIP trunk instead of the captures' Local channels.
"""

from __future__ import annotations

from telephony.contract import CALL_TYPE_INBOUND, VAR_CALL_TYPE, VAR_CUSTOMER_NUMBER
from telephony.pbx_sim.channels import RING, UP, Channel
from telephony.pbx_sim.dialing import dial_extension
from telephony.pbx_sim.pbx import Pbx
from telephony.pbx_sim.queue_calls import queue_call
from telephony.pbx_sim.scenario import Call, CallPlan, Dialplan


def start_inbound_call(
    pbx: Pbx, caller: str, plan: CallPlan, *, queue: str | None = None, extension: str | None = None
) -> str:
    """A customer calls in through the trunk; returns the call's linkedid at once."""
    config = pbx.config
    call = Call(pbx, plan)
    exten = extension or config.hotline
    channel = pbx.new_channel(
        f"PJSIP/{config.trunk_endpoint}",
        context=config.inbound_context,
        exten=exten,
        linkedid=None,
        wake=call.wake,
        state=RING,
        caller=(caller, caller),
    )
    pbx.spawn(_inbound(pbx, call, channel, caller, queue or config.inbound_queue, extension))
    return channel.linkedid


async def _inbound(
    pbx: Pbx, call: Call, channel: Channel, caller: str, queue: str, extension: str | None
) -> None:
    dialplan = Dialplan(pbx, channel, pbx.config.inbound_context, channel.exten)
    dialplan.app("NoOp", f"Inbound call from {caller}")
    dialplan.set(VAR_CALL_TYPE, CALL_TYPE_INBOUND)
    dialplan.set(VAR_CUSTOMER_NUMBER, caller)
    if extension:
        dialplan.record(call, CALL_TYPE_INBOUND, caller, customer_channel=True)
        await dial_extension(pbx, call, dialplan, extension)
        return
    dialplan.app("Answer")
    pbx.set_state(channel, UP)
    dialplan.record(call, CALL_TYPE_INBOUND, caller, customer_channel=True)
    await queue_call(pbx, call, dialplan, queue)

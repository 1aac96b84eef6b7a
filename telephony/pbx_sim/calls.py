"""Inbound calls: a customer dials the hotline (or, in the simulator only, an agent's
extension) through the PJSIP trunk, and the channel runs the dialplan's inbound context."""

from __future__ import annotations

from telephony.ami.vocabulary import ChannelState
from telephony.pbx_sim.interpreter import run_dialplan
from telephony.pbx_sim.pbx import Pbx
from telephony.pbx_sim.runtime_dialplan import SIM_DIRECT_DIAL
from telephony.pbx_sim.scenario import Call, CallPlan


def start_inbound_call(
    pbx: Pbx, caller: str, plan: CallPlan, *, queue: str | None = None, extension: str | None = None
) -> str:
    """A customer calls in through the trunk; returns the call's linkedid at once. The
    carrier sends the number without a display name (CallerIDName <unknown>, as the lab's).

    `queue` sends this call to another queue than CC_QUEUE (a channel variable shadows the
    global, without a VarSet: the trunk would not announce it); `extension` dials that agent
    without a queue, through the simulator's own direct-dial context."""
    config = pbx.config
    call = Call(pbx, plan)
    channel = pbx.new_channel(
        f"PJSIP/{config.trunk_endpoint}",
        context=config.inbound_context,
        exten=extension or config.hotline,
        linkedid=None,
        call=call,
        state=ChannelState.RING,
        caller=(caller, ""),
    )
    if queue is not None:
        channel.variables["CC_QUEUE"] = queue
    context = SIM_DIRECT_DIAL if extension else config.inbound_context
    pbx.spawn(run_dialplan(pbx, channel, context, channel.exten))
    return channel.linkedid

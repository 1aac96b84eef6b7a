"""Blind transfer, as ast_bridge_transfer_blind() runs it for a phone's SIP REFER
(res_pjsip_refer: to the extension in the phone's endpoint context) and for the AMI action
BlindTransfer (to Exten@Context, the channel's own context by default).

What the lab's Asterisk 22.10.1 sent when agent 1001 transferred a queue call to 1002
(tests/data/lab_ami/blind_transfer.txt): Unhold on the transferer, BlindTransfer (Result
Success, IsExternal Yes), a Newexten on the transferee at exten@context that still names the
application it was in, the queue's AgentComplete with Reason transfer, both leave the bridge,
the transferer's Hangup (Normal Clearing), then the transferee runs the dialplan there
(from-agents includes agents: Dial(PJSIP/1002)). When the transferee is the peer of the
application (the customer's leg of an agent-first callback, transferred by the lab's AMI
BlindTransfer), it starts a dialplan of its own there and the transferer's dialplan ends where
its Dial was (SoftHangupRequest and Hangup, Normal Clearing).

The application holding the bridge (Queue, Dial) sees the transfer when its conversation ends
(`scenario.talk` returns the transferee) and finishes it with `after_bridge`.
"""

from __future__ import annotations

import asyncio

from telephony.ami.vocabulary import TransferResult
from telephony.pbx_sim.apps import AppContext, Goto
from telephony.pbx_sim.channels import Channel, event
from telephony.pbx_sim.pbx import Pbx
from telephony.pbx_sim.wire import Fields


def blind_transfer(pbx: Pbx, transferer: Channel, exten: str, context: str) -> TransferResult:
    """The transferer's bridge peer is sent to exten@context; returns the Result."""
    bridge = transferer.bridge
    peers = [channel for channel in bridge.members if channel is not transferer] if bridge else []
    if bridge is None or not peers:  # no bridge, or nobody else in it
        pbx.emit(_event(TransferResult.INVALID, transferer, None, exten, context))
        return TransferResult.INVALID
    transferee = peers[0]
    pbx.channel_event("Unhold", transferer)  # ast_bridge_channel_write_unhold()
    for channel in bridge.members:  # set_transfer_variables_all()
        is_transferer = channel is transferer
        value = transferer.variables.get("BRIDGEPEER", "") if is_transferer else transferer.name
        pbx.set_var(channel, "BLINDTRANSFER", value)
    pbx.emit(_event(TransferResult.SUCCESS, transferer, transferee, exten, context))
    transferee.after_bridge = (context, exten, 1)
    transferee.blind_transferred = True
    transferee.context, transferee.exten, transferee.priority = context, exten, 1
    pbx.newexten(transferee, transferee.application, transferee.app_data)
    transferee.notify()
    return TransferResult.SUCCESS


def _event(
    result: TransferResult,
    transferer: Channel,
    transferee: Channel | None,
    exten: str,
    context: str,
) -> Fields:
    parts: list[Fields] = [[("Result", result)], transferer.snapshot("Transferer")]
    if transferee is not None:
        assert transferer.bridge is not None
        parts += [transferee.snapshot("Transferee"), transferer.bridge.fields()]
    tail = [("IsExternal", "Yes"), ("Context", context), ("Extension", exten)]
    return event("BlindTransfer", *parts, tail)


async def after_bridge(ctx: AppContext, transferee: Channel) -> Goto | None:
    """The transferee (or a Redirected channel) has left the bridge: where its dialplan goes
    on. The application's own channel goes to exten@context (the Goto the application
    returns), once the transferer's hang-up has gone through; the application's peer starts a
    dialplan of its own there (a new PBX thread; None)."""
    assert transferee.after_bridge is not None
    context, exten, priority = transferee.after_bridge
    transferee.after_bridge = None
    transferee.blind_transferred = False
    if transferee is ctx.channel:
        await asyncio.sleep(0)  # the bridge thread hands the channel back to its PBX thread
        return Goto(context, exten, priority)
    ctx.start_dialplan(ctx.pbx, transferee, context, exten, priority)
    return None

"""Dial(): call another channel from the dialplan, bridge when it answers, then talk.

As app_dial does: DIALSTATUS and its companions are cleared first; a new channel without a
caller ID of its own gets the dialling channel's extension as CallerID number (no `o`
option), every new channel the caller as connected line; the caller ID of a callee whose
driver sends it as a connected-line update (chan_pjsip) becomes the caller's at once;
ringing is passed back to a caller not yet answered; when the callee answers, both get
Normal Clearing as hangup cause, the callee loses its extension, the caller is answered and
both are bridged; when either hangs up after that, Dial hangs the other one up and returns
-1, so the caller's dialplan ends.
"""

from __future__ import annotations

from telephony.ami.vocabulary import CdrDisposition, ChannelState, DialStatus, HangupCause
from telephony.pbx_sim.apps import HANGUP, AppContext
from telephony.pbx_sim.channels import FAR_FAILURES, CdrSpec, Channel, FarEnd
from telephony.pbx_sim.devices import DISPOSITIONS, FAR_STATUS
from telephony.pbx_sim.dialplan import split_args
from telephony.pbx_sim.legs import LegRequest, Requester, dial_string, open_leg, start_far_end
from telephony.pbx_sim.scenario import talk
from telephony.pbx_sim.technology import technology
from telephony.pbx_sim.transfer import after_bridge

DIAL_VARS = (
    "DIALSTATUS", "DIALEDPEERNUMBER", "DIALEDPEERNAME", "ANSWEREDTIME", "ANSWEREDTIME_MS",
    "DIALEDTIME", "DIALEDTIME_MS", "RINGTIME", "RINGTIME_MS", "PROGRESSTIME", "PROGRESSTIME_MS",
)  # fmt: skip


async def dial_app(ctx: AppContext, data: str) -> object:
    """Dial(<tech/resource>[&...],<timeout>,<options>): the first target is dialled."""
    pbx, caller = ctx.pbx, ctx.channel
    args = split_args(data)
    target = args[0].split("&")[0].strip()
    timeout = float(args[1]) if len(args) > 1 and args[1].strip() else None
    for variable in DIAL_VARS:
        pbx.set_var(caller, variable, "")
    started = pbx.clock.now()
    number = dial_string(target)
    hint_name = "" if caller.connected_name == "<unknown>" else caller.connected_name
    peer = open_leg(
        pbx,
        LegRequest(
            interface=target,
            call=ctx.call,
            linkedid=caller.linkedid,
            app=Requester.DIAL,
            caller=(caller.exten, hint_name),
            connected=(caller.caller_num, caller.caller_name),
            exten=caller.exten,
            variables=[("DIALEDPEERNUMBER", number)],
        ),
    )
    if peer is None:  # the technology refused: no channel, CHANUNAVAIL
        pbx.set_var(caller, "DIALSTATUS", DialStatus.CHANUNAVAIL)
        return None
    pbx.dial_event("DialBegin", caller, peer, [("DialString", number)])
    if technology(peer.tech).sends_connected_line:
        pbx.set_connected(caller, peer.caller_num, peer.caller_name)
    start_far_end(pbx, peer, ctx.start_far_half)

    def finish(status: DialStatus, cause: int) -> None:
        pbx.dial_event("DialEnd", caller, peer, [("DialStatus", status)])
        pbx.hangup(peer, cause)
        pbx.set_var(caller, "DIALSTATUS", status)
        caller.cdrs.append(
            CdrSpec(peer, DISPOSITIONS.get(status, CdrDisposition.FAILED), "Dial", data)
        )

    rung = False
    while True:
        now = pbx.clock.now()
        if caller.hung_up:
            finish(DialStatus.CANCEL, HangupCause.NOTDEFINED)
            return HANGUP
        if caller.after_bridge is not None:  # Redirected while it rang: the dialplan goes on
            finish(DialStatus.CANCEL, HangupCause.NOTDEFINED)
            return None
        if peer.far in FAR_FAILURES:
            finish(FAR_STATUS[peer.far], peer.far_cause or HangupCause.NOTDEFINED)
            return None
        if peer.hung_up:
            finish(DialStatus.BUSY, peer.hangup_cause or HangupCause.NORMAL_CLEARING)
            return None
        if peer.rang and not rung:
            rung = True
            pbx.set_var(caller, "RINGTIME", str(int(now - started)))
            pbx.set_var(caller, "RINGTIME_MS", str(int((now - started) * 1000)))
            pbx.dial_event("DialState", caller, peer, [("DialStatus", DialStatus.RINGING)])
            if caller.state != ChannelState.UP:
                pbx.indicate_ringing(caller)
        if peer.far == FarEnd.ANSWERED:
            break
        if timeout is not None and now >= started + timeout:
            finish(DialStatus.NOANSWER, HangupCause.NO_ANSWER)
            return None
        wake_in = started + timeout - now if timeout is not None else 3600.0
        await ctx.call.pause(wake_in)
    return await _connected(ctx, peer, number, data)


async def _connected(ctx: AppContext, peer: Channel, number: str, data: str) -> object:
    """The callee answered: bridge, talk, and hang the other side up when one side ends."""
    pbx, caller = ctx.pbx, ctx.channel
    for name, value in (
        ("DIALSTATUS", DialStatus.ANSWER),
        ("DIALEDPEERNAME", peer.name),
        ("DIALEDPEERNUMBER", number),
    ):
        pbx.set_var(caller, name, value)
    pbx.dial_event("DialEnd", caller, peer, [("DialStatus", DialStatus.ANSWER)])
    caller.cause = peer.cause = (
        HangupCause.NORMAL_CLEARING
    )  # "the eventual hangup is likely normal"
    if caller.state != ChannelState.UP:
        pbx.answer(caller)
    peer.exten = ""  # the callee leaves the caller's extension behind
    pbx.newexten(peer, Requester.DIAL, "(Outgoing Line)")
    pbx.bridge(peer, caller)
    answered = pbx.clock.now()
    customer, agent = (peer, caller) if pbx.is_agent_channel(caller) else (caller, peer)
    ended = await talk(ctx.call, customer=customer, agent=agent)
    # Blind-transferred or Redirected away (transfer.py, redirect.py): a Redirect of both
    # (ExtraChannel) sends each on; a party left behind is kicked as the bridge dissolves.
    caller_goes = caller.after_bridge is not None and not caller.hung_up
    peer_goes = peer.after_bridge is not None and not peer.hung_up
    end = pbx.clock.now()
    caller.cdrs.append(CdrSpec(peer, CdrDisposition.ANSWERED, "Dial", data))
    answered_vars = [
        ("ANSWEREDTIME", str(int(end - answered))),
        ("ANSWEREDTIME_MS", str(int((end - answered) * 1000))),
        ("DIALEDTIME", str(int(end - caller.created))),
        ("DIALEDTIME_MS", str(int((end - caller.created) * 1000))),
        ("DIALSTATUS", DialStatus.ANSWER),
    ]
    if ended is peer:
        pbx.leave_bridge(peer)
        if not peer_goes:
            pbx.hangup(peer, peer.hangup_cause or HangupCause.NORMAL_CLEARING)
        pbx.leave_bridge(caller)
        for name, value in answered_vars:
            pbx.set_var(caller, name, value)
        if peer_goes:  # the callee goes on in a dialplan of its own (a new PBX thread)
            await after_bridge(ctx, peer)
        return await after_bridge(ctx, caller) if caller_goes else HANGUP
    pbx.leave_bridge(caller)
    for name, value in answered_vars:
        pbx.set_var(caller, name, value)
    pbx.leave_bridge(peer)
    if peer_goes:
        await after_bridge(ctx, peer)
    else:
        pbx.hangup(peer, HangupCause.NORMAL_CLEARING)
    return await after_bridge(ctx, caller) if caller_goes else HANGUP

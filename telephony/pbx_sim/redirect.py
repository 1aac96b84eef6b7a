"""The AMI action Redirect, as main/manager.c's action_redirect() runs it in Asterisk 22.10.1,
and the MUTEAUDIO() function the console's mute writes with Setvar (res_mutestream.c).

Redirect sends a channel (and an ExtraChannel) to exten@context,priority with
ast_async_goto(): a channel in a bridge or running the dialplan leaves its bridge or its
application and goes on there; the other party of a two-party bridge left behind is kicked as
the bridge dissolves (AST_BRIDGE_FLAG_DISSOLVE_HANGUP), which the application holding the
bridge (Dial, Queue) carries out. Nothing checks that the extension exists: a channel sent
nowhere ends its dialplan. The answers are manager.c's words.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from telephony.pbx_sim.channels import Channel
from telephony.pbx_sim.interpreter import start_dialplan
from telephony.pbx_sim.pbx import Pbx
from telephony.pbx_sim.wire import Message, error, success

if TYPE_CHECKING:
    from telephony.pbx_sim.server import AmiSession

MUTE_DIRECTIONS = {"in": {"in"}, "out": {"out"}, "all": {"in", "out"}}
_TRUE = ("yes", "true", "y", "t", "1", "on")


def async_goto(pbx: Pbx, channel: Channel, context: str, exten: str, priority: int) -> None:
    """ast_async_goto(): bridged or in the dialplan, the channel is told where to go and its
    bridge or application lets it go (AST_SOFTHANGUP_ASYNCGOTO); otherwise a PBX is started
    on it there."""
    if channel.bridge is not None or channel.in_dialplan:
        channel.after_bridge = (context, exten, priority)
        channel.blind_transferred = False
        channel.notify()
        return
    start_dialplan(pbx, channel, context, exten, priority)


def _priority(text: str) -> int:
    """sscanf %d, else a label (the simulated dialplan has none): < 1 is invalid."""
    text = text.strip()
    sign = text[:1] == "-"
    digits = text[1:] if sign else text
    count = len(digits) - len(digits.lstrip("0123456789"))
    if count == 0:
        return 0
    value = int(digits[:count])
    return -value if sign else value


def _live(
    session: AmiSession, action_id: str, name: str, header: str, words: str
) -> Channel | None:
    """The named channel, not hung up; otherwise None, refused in manager.c's words."""
    channel = session.simulator.pbx.channels.get(name)
    if channel is None:
        session.send(error(action_id, f"{header} does not exist: {name}"))
    elif channel.hung_up:
        session.send(error(action_id, f"Redirect failed, {words} not up."))
    else:
        return channel
    return None


async def redirect(session: AmiSession, message: Message) -> None:
    action_id, pbx = message.action_id, session.simulator.pbx
    name, name2 = message.get("Channel"), message.get("ExtraChannel")
    context, context2 = message.get("Context"), message.get("ExtraContext")
    exten, exten2 = message.get("Exten"), message.get("ExtraExten")
    priority_text, priority2_text = message.get("Priority"), message.get("ExtraPriority")
    for value, refusal in (
        (name, "Channel not specified"),
        (context, "Context not specified"),
        (exten, "Exten not specified"),
        (priority_text, "Priority not specified"),
    ):
        if not value:
            session.send(error(action_id, refusal))
            return
    priority = _priority(priority_text)
    if priority < 1:
        session.send(error(action_id, "Priority is invalid"))
        return
    priority2 = 0
    if name2 and context2:
        if not exten2:
            session.send(error(action_id, "ExtraExten not specified"))
            return
        if not priority2_text:
            session.send(error(action_id, "ExtraPriority not specified"))
            return
        priority2 = _priority(priority2_text)
        if priority2 < 1:
            session.send(error(action_id, "ExtraPriority is invalid"))
            return
    channel = _live(session, action_id, name, "Channel", "channel")
    if channel is None:
        return
    if not name2:
        async_goto(pbx, channel, context, exten, priority)
        session.send(success(action_id, "Redirect successful"))
        return
    extra = _live(session, action_id, name2, "ExtraChannel", "extra channel")
    if extra is None:
        return
    # AST_FLAG_BRIDGE_DUAL_REDIRECT_WAIT: both are told before either bridge lets go.
    async_goto(pbx, channel, context, exten, priority)
    if context2:
        async_goto(pbx, extra, context2, exten2, priority2)
    else:
        async_goto(pbx, extra, context, exten, priority)
    session.send(success(action_id, "Dual Redirect successful"))


def write_function(pbx: Pbx, channel: Channel | None, variable: str, value: str) -> bool:
    """ast_func_write() of the functions the server writes: MUTEAUDIO(in|out|all) on a
    channel (no event: the audio is suppressed). False as for an unknown function or bad
    arguments ("Variable not set")."""
    name, _, rest = variable.partition("(")
    argument = rest[:-1].strip() if rest.endswith(")") else None
    if name.strip().upper() != "MUTEAUDIO" or channel is None or argument is None:
        return False
    directions = MUTE_DIRECTIONS.get(argument)
    if directions is None:
        return False
    if value.strip().lower() in _TRUE:
        channel.muted |= directions
    else:
        channel.muted -= directions
    return True

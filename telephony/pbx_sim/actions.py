"""AMI actions: what the simulated Asterisk answers to each, worded as Asterisk 22 words it.

Sim* actions are the simulator's own control plane (fault injection, placing calls, a phone
transferring its call); they work without logging in and even while the PBX plays dead, so a
test in another process can drive it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING

from telephony.ami.vocabulary import TransferResult
from telephony.pbx_sim import admin_actions, redirect, transfer, variables
from telephony.pbx_sim.channels import Channel, event, parse_caller_id
from telephony.pbx_sim.originate import OriginateRequest, start_originate
from telephony.pbx_sim.queues import MemberChange
from telephony.pbx_sim.scenario import make_plan
from telephony.pbx_sim.wire import (
    AMI_VERSION,
    Message,
    encode,
    error,
    list_complete,
    list_start,
    response,
    success,
    with_action_id,
)

if TYPE_CHECKING:
    from telephony.pbx_sim.server import AmiSession

# A handler returns False when the connection must close afterwards.
Handler = Callable[["AmiSession", Message], Awaitable[bool | None]]
OPEN_ACTIONS = frozenset({"login", "logoff", "challenge"})
MAX_UNIQUEID = 149  # AST_MAX_PUBLIC_UNIQUEID: the longest ChannelId an Originate may assign


def is_true(value: str) -> bool:
    """Asterisk's ast_true()."""
    return value.strip().lower() in ("yes", "true", "y", "t", "1", "on")


async def handle(session: AmiSession, message: Message) -> bool:
    """Answer one action; False when the connection must be closed."""
    name = message.action
    key = name.lower()
    is_sim = key.startswith("sim") and key in HANDLERS
    if session.simulator.silent and not is_sim:
        return True  # a PBX that hangs answers nothing
    if not name:
        session.send(error(message.action_id, "Missing action in request"))
        return True
    if session.simulator.pbx.shutting_down and not is_sim:  # manager.c process_message
        session.send(error(message.action_id, "Asterisk is shutting down"))
        return True
    if not session.authenticated and key not in OPEN_ACTIONS and not is_sim:
        session.send(error(message.action_id, "Permission denied"))
        return True
    handler = HANDLERS.get(key)
    if handler is None:
        hint = "Use Action: ListCommands to show available commands."
        session.send(error(message.action_id, f"Invalid/unknown command: {name}. {hint}"))
        session.simulator.broadcast(encode(session.request_bad_format(name)))
        return True
    if not is_sim and not admin_actions.permitted(session.simulator.config, key):
        session.send(error(message.action_id, "Permission denied"))  # manager.c process_message
        return True
    return (await handler(session, message)) is not False


# -- session ------------------------------------------------------------------------------


async def login(session: AmiSession, message: Message) -> bool:
    simulator, action_id = session.simulator, message.action_id
    if session.authenticated:
        session.send(success(action_id, "Already authenticated"))
        return True
    config = simulator.config
    if message.get("Username") != config.user or message.get("Secret") != config.secret:
        session.send(error(action_id, "Authentication failed"))
        return False
    session.authenticated = True
    session.events = message.get("Events", "on").strip().lower() not in ("off", "no", "false", "0")
    session.send(success(action_id, "Authentication accepted"))
    uptime = str(int(simulator.pbx.clock.now() - simulator.pbx.boot_time))
    if session.events and admin_actions.reads(config, "system"):  # manager.c action_login
        session.send(encode(event("FullyBooted", [
            ("Uptime", uptime), ("LastReload", uptime), ("Status", "Fully Booted"),
        ])))  # fmt: skip
    simulator.broadcast(encode(session.successful_auth()))
    simulator.on_login(session)
    return True


async def logoff(session: AmiSession, message: Message) -> bool:
    session.send(response("Goodbye", message.action_id, [("Message", "Thanks for all the fish.")]))
    return False


async def ping(session: AmiSession, message: Message) -> None:
    now = session.simulator.pbx.clock.now()
    session.send(success(message.action_id, None, [("Ping", "Pong"), ("Timestamp", f"{now:.6f}")]))


async def core_settings(session: AmiSession, message: Message) -> None:
    version = session.simulator.config.site.version
    session.send(success(message.action_id, None, [
        ("AMIversion", AMI_VERSION), ("AsteriskVersion", version), ("SystemName", ""),
        ("CoreMaxCalls", "0"), ("CoreMaxLoadAvg", "0.000000"), ("CoreRunUser", ""),
        ("CoreRunGroup", ""), ("CoreMaxFilehandles", "0"), ("CoreRealTimeEnabled", "No"),
        ("CoreCDRenabled", "Yes"), ("CoreHTTPenabled", "No"), ("SoundsSearchCustomDir", "No"),
    ]))  # fmt: skip


# -- calls and channels -------------------------------------------------------------------


async def originate(session: AmiSession, message: Message) -> None:
    action_id, pbx = message.action_id, session.simulator.pbx
    channel_id, other_id = message.get("ChannelId"), message.get("OtherChannelId")
    if len(channel_id) > MAX_UNIQUEID or len(other_id) > MAX_UNIQUEID:  # manager.c, first
        session.send(error(action_id, f"Uniqueid length exceeds maximum of {MAX_UNIQUEID}"))
        return
    channel = message.get("Channel")
    if not channel:
        session.send(error(action_id, "Channel not specified"))
        return
    if "/" not in channel:
        session.send(error(action_id, "Invalid channel"))
        return
    priority = message.get("Priority", "1") or "1"
    if not priority.isdigit():
        session.send(error(action_id, "Invalid priority"))
        return
    context, exten = message.get("Context"), message.get("Exten")
    checked = message.get("Priority") and context and exten and not message.get("Application")
    if checked and pbx.dialplan.find(context, exten) is None:  # manager.c, before dialling
        session.send(error(action_id, "Extension does not exist."))
        return
    timeout_ms = message.get("Timeout", "30000") or "30000"
    caller_name, caller_number = parse_caller_id(message.get("CallerID"))
    request = OriginateRequest(
        channel=channel,
        context=message.get("Context"),
        exten=message.get("Exten"),
        priority=int(priority),
        caller_number=caller_number,
        caller_name=caller_name,
        variables=parse_variables(message.get_all("Variable")),
        timeout=int(timeout_ms) / 1000 if timeout_ms.isdigit() else 30.0,
        action_id=action_id,
        application=message.get("Application"),
        app_data=message.get("Data"),
        announce=is_true(message.get("Async")),
        channel_id=channel_id,
        other_channel_id=other_id,
    )
    outcome = start_originate(pbx, request, make_plan(pbx))
    if request.announce:
        session.send(success(action_id, "Originate successfully queued"))
        return
    await asyncio.wait({outcome})  # a synchronous Originate answers once the call is decided
    if not outcome.cancelled() and outcome.result().success:
        session.send(success(action_id, "Originate successfully queued"))
    else:
        session.send(error(action_id, "Originate failed"))


def parse_variables(headers: list[str]) -> list[tuple[str, str]]:
    """`Variable: A=1` headers (repeated, or comma-separated) as (name, value) pairs."""
    pairs = []
    for header in headers:
        for item in header.split(","):
            name, equals, value = item.partition("=")
            if equals and name.strip():
                pairs.append((name.strip(), value))
    return pairs


def _channel_or_error(session: AmiSession, message: Message, missing: str) -> Channel | None:
    name = message.get("Channel")
    if not name:
        session.send(error(message.action_id, missing))
        return None
    channel = session.simulator.pbx.channels.get(name)
    if channel is None:
        session.send(error(message.action_id, "No such channel"))
    return channel


async def hangup(session: AmiSession, message: Message) -> None:
    """ast_channel_softhangup_withcause_locked(): no event now; the channel's application
    stops and its dialplan ends (SoftHangupRequest, Hangup with this cause)."""
    channel = _channel_or_error(session, message, "No channel specified")
    if channel is None:
        return
    cause = message.get("Cause")
    channel.request_hangup(int(cause) if cause.isdigit() else 16)
    session.send(success(message.action_id, "Channel Hungup"))


async def blind_transfer(session: AmiSession, message: Message) -> None:
    """manager.c's action_blind_transfer(): the channel's bridge peer goes to Exten@Context
    (the channel's own context by default), as a phone's REFER would send it."""
    action_id = message.action_id
    name, exten = message.get("Channel"), message.get("Exten")
    if not name:
        session.send(error(action_id, "No channel specified"))
        return
    if not exten:
        session.send(error(action_id, "No extension specified"))
        return
    channel = session.simulator.pbx.channels.get(name)
    if channel is None:
        session.send(error(action_id, "Channel specified does not exist"))
        return
    context = message.get("Context") or channel.context
    if (
        transfer.blind_transfer(session.simulator.pbx, channel, exten, context)
        is TransferResult.SUCCESS
    ):
        session.send(success(action_id, "Transfer succeeded"))
    else:
        session.send(error(action_id, "Transfer invalid"))


async def getvar(session: AmiSession, message: Message) -> None:
    variable = message.get("Variable")
    if not variable:
        session.send(error(message.action_id, "No variable specified"))
        return
    pbx = session.simulator.pbx
    if message.get("Channel"):
        channel = _channel_or_error(session, message, "No such channel")
        if channel is None:
            return
        value = variables.read(pbx, channel, variable)
    else:
        value = pbx.global_vars.get(variable, "")
    session.send(success(message.action_id, None, [("Variable", variable), ("Value", value)]))


async def setvar(session: AmiSession, message: Message) -> None:
    variable = message.get("Variable")
    if not variable:
        session.send(error(message.action_id, "No variable specified"))
        return
    pbx = session.simulator.pbx
    channel = None
    if message.get("Channel"):
        channel = _channel_or_error(session, message, "No such channel")
        if channel is None:
            return
    if variable.endswith(")"):  # pbx_builtin_setvar_helper(): a function's write, no VarSet
        written = redirect.write_function(pbx, channel, variable, message.get("Value"))
        session.send(
            success(message.action_id, "Variable Set")
            if written
            else error(message.action_id, "Variable not set")
        )
        return
    if channel is not None:
        session.send(success(message.action_id, "Variable Set"))
        pbx.set_var(channel, variable, message.get("Value"))
        return
    pbx.global_vars[variable] = message.get("Value")
    session.send(success(message.action_id, "Variable Set"))


async def mixmonitor(session: AmiSession, message: Message) -> None:
    channel = _channel_or_error(session, message, "No channel specified")
    if channel is None:
        return
    simulator = session.simulator
    name = message.get("File") or f"{channel.uniqueid}.wav"
    path = Path(name) if Path(name).is_absolute() else simulator.pbx.recorder.directory / name
    session.send(success(message.action_id))
    simulator.pbx.start_mixmonitor(channel, str(path))


def _duration(seconds: float) -> str:
    seconds = max(0, int(seconds))
    return f"{seconds // 3600:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


async def core_show_channels(session: AmiSession, message: Message) -> None:
    action_id, pbx = message.action_id, session.simulator.pbx
    now = pbx.clock.now()
    session.send(list_start(action_id, "Channels will follow"))
    channels = list(pbx.channels)
    for channel in channels:
        session.send(encode([
            ("Event", "CoreShowChannel"), *with_action_id(action_id), *channel.snapshot(),
            ("Application", channel.application), ("ApplicationData", channel.app_data),
            ("Duration", _duration(now - channel.created)),
            ("BridgeId", channel.bridge.uniqueid if channel.bridge else ""),
        ]))  # fmt: skip
    session.send(list_complete("CoreShowChannelsComplete", action_id, len(channels)))


async def status(session: AmiSession, message: Message) -> None:
    action_id, pbx = message.action_id, session.simulator.pbx
    if message.get("Channel"):
        channel = _channel_or_error(session, message, "No such channel")
        if channel is None:
            return
        channels = [channel]
    else:
        channels = list(pbx.channels)
    now = pbx.clock.now()
    session.send(list_start(action_id, "Channel status will follow"))
    for channel in channels:
        session.send(encode([
            ("Event", "Status"), ("Privilege", "Call"), *channel.snapshot(),
            ("Type", channel.tech), ("DNID", ""),
            ("EffectiveConnectedLineNum", channel.connected_num),
            ("EffectiveConnectedLineName", channel.connected_name), ("TimeToHangup", "0"),
            ("BridgeID", channel.bridge.uniqueid if channel.bridge else ""),
            ("Application", channel.application), ("Data", channel.app_data),
            ("Nativeformats", "(ulaw)"), ("Readformat", "ulaw"), ("Readtrans", ""),
            ("Writeformat", "ulaw"), ("Writetrans", ""), ("Callgroup", "0"), ("Pickupgroup", "0"),
            ("Seconds", str(int(now - channel.created))), *with_action_id(action_id),
        ]))  # fmt: skip
    session.send(
        list_complete("StatusComplete", action_id, len(channels), [("Items", str(len(channels)))])
    )


# -- queues -------------------------------------------------------------------------------


async def queue_status(session: AmiSession, message: Message) -> None:
    action_id, pbx = message.action_id, session.simulator.pbx
    wanted, member_filter = message.get("Queue"), message.get("Member")
    now, items = pbx.clock.now(), []
    session.send(list_start(action_id, "Queue status will follow"))
    for queue in pbx.queues.values():
        if wanted and queue.name.lower() != wanted.lower():
            continue
        items.append(queue.params_item(action_id))
        for member in queue.members.values():
            if not member_filter or member_filter in (member.interface, member.name):
                items.append(member.list_item(queue.name, action_id))
        items.extend(queue.entry_item(entry, now, action_id) for entry in queue.entries)
    for item in items:
        session.send(encode(item))
    session.send(list_complete("QueueStatusComplete", action_id, len(items)))


async def queue_summary(session: AmiSession, message: Message) -> None:
    action_id, pbx = message.action_id, session.simulator.pbx
    wanted, now = message.get("Queue"), pbx.clock.now()
    session.send(list_start(action_id, "Queue summary will follow"))
    queues = [q for q in pbx.queues.values() if not wanted or q.name.lower() == wanted.lower()]
    for queue in queues:
        session.send(encode(queue.summary_item(now, action_id)))
    session.send(list_complete("QueueSummaryComplete", action_id, len(queues)))


async def queue_add(session: AmiSession, message: Message) -> None:
    action_id = message.action_id
    queue, interface = message.get("Queue"), message.get("Interface")
    if not queue:
        session.send(error(action_id, "'Queue' not specified."))
        return
    if not interface:
        session.send(error(action_id, "'Interface' not specified."))
        return
    penalty = message.get("Penalty")
    result = session.simulator.pbx.queue_add(
        queue,
        interface,
        name=message.get("MemberName"),
        penalty=int(penalty) if penalty.isdigit() else 0,
        paused=is_true(message.get("Paused")),
        state_interface=message.get("StateInterface"),
    )
    session.send({
        MemberChange.OKAY: success(action_id, "Added interface to queue"),
        MemberChange.EXISTS: error(action_id, "Unable to add interface: Already there"),
        MemberChange.NO_SUCH_QUEUE: error(
            action_id, "Unable to add interface to queue: No such queue"
        ),
    }[result])  # fmt: skip


async def queue_remove(session: AmiSession, message: Message) -> None:
    action_id = message.action_id
    queue, interface = message.get("Queue"), message.get("Interface")
    if not queue or not interface:
        session.send(error(action_id, "Need 'Queue' and 'Interface' parameters."))
        return
    result = session.simulator.pbx.queue_remove(queue, interface)
    session.send({
        MemberChange.OKAY: success(action_id, "Removed interface from queue"),
        MemberChange.NOT_THERE: error(action_id, "Unable to remove interface: Not there"),
        MemberChange.NO_SUCH_QUEUE: error(
            action_id, "Unable to remove interface from queue: No such queue"
        ),
        MemberChange.NOT_DYNAMIC: error(action_id, "Member not dynamic"),
    }[result])  # fmt: skip


async def queue_pause(session: AmiSession, message: Message) -> None:
    action_id = message.action_id
    interface, paused = message.get("Interface"), message.get("Paused")
    if not interface or not paused:
        session.send(error(action_id, "Need 'Interface' and 'Paused' parameters."))
        return
    pause = is_true(paused)
    found = session.simulator.pbx.queue_pause(
        interface, pause, queue_name=message.get("Queue"), reason=message.get("Reason")
    )
    if not found:
        session.send(error(action_id, "Interface not found"))
        return
    text = "Interface paused successfully" if pause else "Interface unpaused successfully"
    session.send(success(action_id, text))


# -- the simulator's own actions ------------------------------------------------------------


async def sim_drop_connections(session: AmiSession, message: Message) -> bool:
    session.send(success(message.action_id, "Dropping every connection"), force=True)
    await session.drain()
    session.simulator.drop_connections()
    return False


async def sim_silence(session: AmiSession, message: Message) -> None:
    silent = is_true(message.get("Silent", "on"))
    session.send(success(message.action_id, "Silent" if silent else "Talking"), force=True)
    session.simulator.set_silent(silent)


async def sim_restart(session: AmiSession, message: Message) -> bool:
    """`core restart now` (Crash: yes: the process dies instead, without a word)."""
    downtime = message.get("Downtime")
    session.send(success(message.action_id, "Restarting"), force=True)
    await session.drain()
    session.simulator.spawn_restart(
        float(downtime) if downtime else 0.0, crash=is_true(message.get("Crash"))
    )
    return False


async def sim_shutdown(session: AmiSession, message: Message) -> None:
    """`core stop|restart gracefully|now`: Graceful (yes), Restart (no), Downtime (s)."""
    downtime = _optional_float(message.get("Downtime")) or 0.0
    session.send(success(message.action_id, "Shutting down"), force=True)
    session.simulator.spawn_shutdown(
        gracefully=is_true(message.get("Graceful", "yes")),
        restart=is_true(message.get("Restart", "no")),
        downtime=downtime,
    )


def _optional_float(value: str) -> float | None:
    return float(value) if value.strip() else None


async def sim_inbound_call(session: AmiSession, message: Message) -> None:
    action_id = message.action_id
    caller = message.get("Caller")
    if not caller:
        session.send(error(action_id, "Caller not specified"), force=True)
        return
    abandon_text = message.get("Abandon").strip()
    abandon: bool | float | None = None
    if abandon_text:
        abandon = float(abandon_text) if abandon_text[0].isdigit() else is_true(abandon_text)
    try:
        linkedid = await session.simulator.place_inbound_call(
            caller,
            queue=message.get("Queue") or None,
            extension=message.get("Extension") or None,
            answer_after=_optional_float(message.get("AnswerAfter")),
            talk_seconds=_optional_float(message.get("TalkSeconds")),
            hangup_by=message.get("HangupBy") or None,
            abandon=abandon,
        )
    except ValueError as exc:
        session.send(error(action_id, str(exc)), force=True)
        return
    session.send(success(action_id, "Call placed", [("Linkedid", linkedid)]), force=True)


async def sim_blind_transfer(session: AmiSession, message: Message) -> None:
    """Agent `Extension`'s phone transfers its call to `Target` (a SIP REFER)."""
    action_id = message.action_id
    extension, target = message.get("Extension"), message.get("Target")
    if not (extension and target):
        session.send(error(action_id, "Need 'Extension' and 'Target'"), force=True)
        return
    try:
        session.simulator.blind_transfer(extension, target)
    except ValueError as exc:
        session.send(error(action_id, str(exc)), force=True)
        return
    session.send(success(action_id, "Transfer succeeded"), force=True)


async def sim_set_answer(session: AmiSession, message: Message) -> None:
    action_id, extension = message.action_id, message.get("Extension")
    if not extension:
        session.send(error(action_id, "Extension not specified"), force=True)
        return
    never = is_true(message.get("Never"))
    after = None if never else _optional_float(message.get("AnswerAfter"))
    if not never and after is None:
        session.send(error(action_id, "Need 'AnswerAfter' or 'Never'"), force=True)
        return
    session.simulator.set_answer(extension, after)
    session.send(success(action_id, "Answer delay set"), force=True)


HANDLERS: dict[str, Handler] = {
    "login": login,
    "logoff": logoff,
    "ping": ping,
    "coresettings": core_settings,
    "originate": originate,
    "hangup": hangup,
    "blindtransfer": blind_transfer,
    "redirect": redirect.redirect,
    "getvar": getvar,
    "setvar": setvar,
    "mixmonitor": mixmonitor,
    "coreshowchannels": core_show_channels,
    "status": status,
    "queuestatus": queue_status,
    "queuesummary": queue_summary,
    "queueadd": queue_add,
    "queueremove": queue_remove,
    "queuepause": queue_pause,
    "simdropconnections": sim_drop_connections,
    "simsilence": sim_silence,
    "simrestart": sim_restart,
    "simshutdown": sim_shutdown,
    "siminboundcall": sim_inbound_call,
    "simsetanswer": sim_set_answer,
    "simblindtransfer": sim_blind_transfer,
}
HANDLERS.update(admin_actions.admin_handlers(HANDLERS))

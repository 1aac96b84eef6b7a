"""What the simulated Asterisk answers to an administrator's questions (`callcentre pbx
check`): ListCommands, ShowDialPlan, Getvar of dialplan functions, the manager user's read
and write classes, the recording self-test call. Worded as Asterisk 22.10.1 words it
(main/manager.c, main/pbx.c, apps/app_queue.c, funcs/func_pjsip_endpoint.c).

The site's configuration is `config.site` (telephony/pbx_sim/site.py).
"""

from __future__ import annotations

import asyncio
import re
import wave
from collections.abc import Awaitable, Callable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from telephony import contract
from telephony.ami.vocabulary import ChannelState, HangupCause, OriginateReason
from telephony.pbx_sim.channels import event
from telephony.pbx_sim.wire import (
    Message,
    encode,
    error,
    list_complete,
    list_start,
    success,
    with_action_id,
)

if TYPE_CHECKING:
    from telephony.pbx_sim.config import SimulatorConfig
    from telephony.pbx_sim.pbx import Pbx
    from telephony.pbx_sim.server import AmiSession

Handler = Callable[["AmiSession", Message], Awaitable[bool | None]]

# manager.c's perms[] order: how Asterisk spells a set of classes (`call,reporting,all`).
CLASS_ORDER = (
    "system", "call", "log", "verbose", "command", "agent", "user", "config", "dtmf",
    "reporting", "cdr", "dialplan", "originate", "agi", "cc", "aoc", "test", "security",
    "message",
)  # fmt: skip


def _privileges(*classes: str) -> frozenset[str]:
    return frozenset(classes)


# The simulator's actions: their name, synopsis and the write classes they are registered
# with (ast_manager_register_xml in Asterisk 22.10.1).
ACTIONS: dict[str, tuple[str, str, frozenset[str]]] = {
    "blindtransfer": ("BlindTransfer", "Blind transfer channel(s) to the given destination",
                      _privileges("call")),
    "coresettings": ("CoreSettings", "Show PBX core settings (version etc).",
                     _privileges("system", "reporting")),
    "coreshowchannels": ("CoreShowChannels", "List currently active channels.",
                         _privileges("system", "reporting")),
    "getvar": ("Getvar", "Gets a channel variable or function value.",
               _privileges("call", "reporting")),
    "hangup": ("Hangup", "Hangup channel.", _privileges("system", "call")),
    "listcommands": ("ListCommands", "List available manager commands.", _privileges()),
    "login": ("Login", "Login Manager.", _privileges()),
    "logoff": ("Logoff", "Logoff Manager.", _privileges()),
    "mixmonitor": ("MixMonitor", "Record a call and mix the audio during the recording.  Use "
                   "of StopMixMonitor is required to guarantee the audio file is available for "
                   "processing during dialplan execution.", _privileges("system")),
    "originate": ("Originate", "Originate a call.", _privileges("originate")),
    "ping": ("Ping", "Keepalive command.", _privileges()),
    "queueadd": ("QueueAdd", "Add interface to queue.", _privileges("agent")),
    "queuepause": ("QueuePause", "Makes a queue member temporarily unavailable.",
                   _privileges("agent")),
    "queueremove": ("QueueRemove", "Remove interface from queue.", _privileges("agent")),
    "queuestatus": ("QueueStatus", "Show queue status.", _privileges()),
    "queuesummary": ("QueueSummary", "Show queue summary.", _privileges()),
    "redirect": ("Redirect", "Redirect (transfer) a call.", _privileges("call")),
    "setvar": ("Setvar", "Sets a channel variable or function value.", _privileges("call")),
    "showdialplan": ("ShowDialPlan", "Show dialplan contexts and extensions",
                     _privileges("config", "reporting")),
    "status": ("Status", "List channel status.", _privileges("system", "call", "reporting")),
}  # fmt: skip


def authority_text(classes: frozenset[str]) -> str:
    """manager.c authority_to_str(): the classes in perms[] order, then `all`; `<none>`."""
    if not classes:
        return "<none>"
    return ",".join([c for c in CLASS_ORDER if c in classes] + ["all"])


# -- the manager user's classes -------------------------------------------------------------


def permitted(config: SimulatorConfig, action: str) -> bool:
    """Whether the user's write classes allow an action (lower-case name). The simulator's
    own Sim* actions, and actions not in ACTIONS, are always allowed."""
    write = config.site.write_classes
    if write is None or action not in ACTIONS:
        return True
    classes = ACTIONS[action][2]
    return not classes or bool(classes & write)


def reads(config: SimulatorConfig, event_class: str) -> bool:
    read = config.site.read_classes
    return read is None or event_class in read


_PRIVILEGE = re.compile(rb"\r\nPrivilege: ([^\r]*)\r\n")


def delivered(config: SimulatorConfig, data: bytes) -> bool:
    """Whether an event reaches the user: one of its Privilege classes is in read=."""
    read = config.site.read_classes
    if read is None:
        return True
    match = _PRIVILEGE.search(data)
    if match is None:
        return True
    classes = set(match[1].decode().lower().split(",")) - {"all"}
    return bool(classes & read)


# -- ListCommands ---------------------------------------------------------------------------


async def list_commands(session: AmiSession, message: Message) -> None:
    config = session.simulator.config
    lines = [
        (name, f"{synopsis} (Priv: {authority_text(classes)})")
        for key, (name, synopsis, classes) in sorted(ACTIONS.items(), key=lambda a: a[1][0].lower())
        if permitted(config, key)
    ]
    session.send(encode([("Response", "Success"), *with_action_id(message.action_id), *lines]))


# -- ShowDialPlan ---------------------------------------------------------------------------


def _pattern(extension: str) -> re.Pattern[str] | None:
    """A dialplan pattern (`_1[3-9]XXXXXXXXX`, `_X.`) as a regex; None for a plain name."""
    if not extension.startswith("_"):
        return None
    parts, rest = [], extension[1:]
    while rest:
        char, rest = rest[0], rest[1:]
        if char == "[":
            inside, _, rest = rest.partition("]")
            parts.append(f"[{inside}]")
        else:
            parts.append(
                {"X": "[0-9]", "Z": "[1-9]", "N": "[2-9]", ".": ".+", "!": ".*"}.get(
                    char.upper(), re.escape(char)
                )
            )
    return re.compile("".join(parts))


def extension_matches(extension: str, wanted: str) -> bool:
    pattern = _pattern(extension)
    if pattern is None:
        return extension == wanted
    return pattern.fullmatch(wanted) is not None


async def show_dialplan(session: AmiSession, message: Message) -> None:
    action_id = message.action_id
    wanted_context, wanted_exten = message.get("Context"), message.get("Extension")
    dialplan = session.simulator.config.site.dialplan
    contexts = [(n, c) for n, c in dialplan.items() if not wanted_context or n == wanted_context]
    if wanted_context and not contexts:
        session.send(error(action_id, f"Did not find context {wanted_context}"))
        return
    items: list[list[tuple[str, str]]] = []
    extensions = priorities = 0
    for context_name, context in contexts:
        for exten, steps in context.extensions.items():
            if wanted_exten and not extension_matches(exten, wanted_exten):
                continue
            extensions += 1
            for step in steps:
                priorities += 1
                label = [("ExtensionLabel", step.label)] if step.label else []
                items.append([
                    ("Event", "ListDialplan"), *with_action_id(action_id),
                    ("Context", context_name), ("Extension", exten), *label,
                    ("Priority", str(step.priority)), ("Application", step.app),
                    ("AppData", step.data), ("Registrar", "pbx_config"),
                ])  # fmt: skip
        if not wanted_exten:
            items += [
                [("Event", "ListDialplan"), *with_action_id(action_id), ("Context", context_name),
                 ("IncludeContext", include), ("Registrar", "pbx_config")]
                for include in context.includes
            ]  # fmt: skip
    if wanted_exten and not extensions:
        where = f"{wanted_exten}@{wanted_context}" if wanted_context else wanted_exten
        text = f"Did not find extension {where}" + ("" if wanted_context else " in any context")
        session.send(error(action_id, text))
        return
    session.send(list_start(action_id, "DialPlan list will follow"))
    for item in items:
        session.send(encode(item))
    session.send(list_complete("ShowDialPlanComplete", action_id, len(items), [
        ("ListExtensions", str(extensions)), ("ListPriorities", str(priorities)),
        ("ListContexts", str(len(contexts))),
    ]))  # fmt: skip


# -- Getvar of globals and dialplan functions -------------------------------------------------


def site_globals(session: AmiSession) -> dict[str, str]:
    config, pbx = session.simulator.config, session.simulator.pbx
    values = config.site.globals_for(
        trunk_endpoint=config.trunk_endpoint,
        queue=config.inbound_queue,
        callback_queue=config.callback_queue,
        recordings_dir=config.recordings_dir,
    )
    values.update(pbx.global_vars)  # Setvar without a channel sets a global
    return values


_FUNCTION = re.compile(r"([A-Z_][A-Z0-9_]*)\((.*)\)", re.DOTALL)


def read_function(session: AmiSession, name: str, args: list[str]) -> str:
    """ast_func_read() on a dummy channel: an unknown function or bad arguments read ''."""
    config, pbx = session.simulator.config, session.simulator.pbx
    if name == "GLOBAL" and len(args) == 1:
        return site_globals(session).get(args[0], "")
    if name == "QUEUE_MEMBER" and len(args) >= 2:
        queue = pbx.queues.get(args[0])
        if queue is None:
            return "0"  # app_queue logs "queue ... was not found" and reads 0
        _apply_queue_settings(session.simulator.pbx, config)
        member = queue.members.get(args[2]) if len(args) > 2 else None
        option = args[1].lower()
        if option == "count":
            return str(len(queue.members))
        if option in ("ringinuse", "ignorebusy"):
            return str(int(member.ringinuse)) if member is not None else "0"
        if option == "paused":
            return str(int(member.paused)) if member is not None else "0"
        if option == "penalty":
            return str(member.penalty) if member is not None else "0"
        return "0"
    if name == "PJSIP_ENDPOINT" and len(args) == 2:
        endpoint, field_name = args
        if field_name != "context":
            return ""
        if endpoint == config.trunk_endpoint:
            return config.inbound_context
        if pbx.is_agent_extension(endpoint):
            return config.agent_context
        return ""
    return ""


def getvar(base: Handler) -> Handler:
    async def handler(session: AmiSession, message: Message) -> bool | None:
        variable = message.get("Variable")
        if not variable or message.get("Channel"):
            return await base(session, message)
        match = _FUNCTION.fullmatch(variable)
        if match is not None:
            value = read_function(session, match[1], [a.strip() for a in match[2].split(",")])
        else:
            value = site_globals(session).get(variable, "")
        session.send(success(message.action_id, None, [("Variable", variable), ("Value", value)]))
        return None

    return handler


# -- queue settings from the site ------------------------------------------------------------


def _apply_queue_settings(pbx: Pbx, config: SimulatorConfig) -> None:
    """The site's queues.conf settings on the live queues (a restart rebuilds them)."""
    for queue in pbx.queues.values():
        queue.strategy = config.site.queue_strategy(queue.name)
        for member in queue.members.values():
            if not member.dynamic:
                member.ringinuse = config.site.queue_ringinuse(queue.name)


def queue_status(base: Handler) -> Handler:
    async def handler(session: AmiSession, message: Message) -> bool | None:
        _apply_queue_settings(session.simulator.pbx, session.simulator.config)
        return await base(session, message)

    return handler


def queue_add(base: Handler) -> Handler:
    """A dynamic member takes its queue's ringinuse when added (app_queue add_to_queue)."""

    async def handler(session: AmiSession, message: Message) -> bool | None:
        pbx = session.simulator.pbx
        queue = pbx.queues.get(message.get("Queue"))
        before = set(queue.members) if queue is not None else set()
        result = await base(session, message)
        interface = message.get("Interface")
        if queue is not None and interface in queue.members and interface not in before:
            member = queue.members[interface]
            member.ringinuse = session.simulator.config.site.queue_ringinuse(queue.name)
        return result

    return handler


# -- the recording self-test call -------------------------------------------------------------

_SELFTEST_CHANNEL = re.compile(rf"Local/(\d{{7,}})@{re.escape(contract.CONTEXT_SELFTEST)}")


def originate(base: Handler) -> Handler:
    """Originate of Local/<digits>@cc-selftest runs [cc-selftest] as the site's dialplan has
    it: answer, record a second into CC_MONITOR_DIR, hang up. Everything else goes to the
    simulator's own Originate."""

    async def handler(session: AmiSession, message: Message) -> bool | None:
        match = _SELFTEST_CHANNEL.fullmatch(message.get("Channel"))
        if match is None:
            return await base(session, message)
        selftest = session.simulator.config.site.dialplan.get(contract.CONTEXT_SELFTEST)
        context, exten = message.get("Context"), message.get("Exten")
        steps = selftest.extensions if selftest is not None else {}
        if context == contract.CONTEXT_SELFTEST and not any(
            extension_matches(e, exten) for e in steps
        ):  # manager.c action_originate checks Context/Exten before dialling
            session.send(error(message.action_id, "Extension does not exist."))
            return None
        session.send(success(message.action_id, "Originate successfully queued"))
        session.simulator.pbx.spawn(_selftest_call(session, match[1], message))
        return None

    return handler


async def _selftest_call(session: AmiSession, token: str, message: Message) -> None:
    simulator = session.simulator
    pbx, config = simulator.pbx, simulator.config
    wake = asyncio.Event()
    context = contract.CONTEXT_SELFTEST
    owner = pbx.new_channel(
        f"Local/{token}@{context}", context=context, exten=token, linkedid=None, wake=wake
    )
    # The `;2` half, which runs [cc-selftest] <token>: a copy of the `;1` half.
    far = replace(
        owner, name=owner.name[:-1] + "2", uniqueid=pbx.channels.new_uniqueid(), variables={}
    )
    pbx.channels.add(far)
    pbx.channel_event("Newchannel", far)
    pbx.set_state(far, ChannelState.UP)
    pbx.newexten(far, "Answer")
    name = f"cc-selftest-{token}.wav"
    await asyncio.to_thread(_write_silence, config.recordings_dir / name, 1.0)
    monitor_dir = site_globals(session)[contract.GLOBAL_MONITOR_DIR]
    pbx.newexten(far, "MixMonitor", f"{monitor_dir}/{name}")
    pbx.start_mixmonitor(far, f"{monitor_dir}/{name}")
    pbx.set_state(owner, ChannelState.UP)
    pbx.emit(event("OriginateResponse", with_action_id(message.action_id), [
        ("Response", "Success"), ("Channel", owner.name), ("Context", message.get("Context")),
        ("Exten", message.get("Exten")), ("Reason", str(OriginateReason.ANSWER)),
        ("Uniqueid", owner.uniqueid),
        ("CallerIDNum", "<unknown>"), ("CallerIDName", "<unknown>"),
    ]))  # fmt: skip
    pbx.newexten(far, "Wait", "1")
    await pbx.clock.sleep(1.0)
    pbx.hangup(far, HangupCause.NORMAL_CLEARING)
    pbx.hangup(owner, HangupCause.NORMAL_CLEARING)


def _write_silence(path: Path, seconds: float) -> None:
    """What MixMonitor leaves of a second without audio: a WAV of silence (8 kHz, 16 bit)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(8000)
        out.writeframes(b"\0\0" * int(8000 * seconds))


def admin_handlers(base: dict[str, Handler]) -> dict[str, Handler]:
    """The handlers to add to (and wrap in) the simulator's action table."""
    return {
        "listcommands": list_commands,
        "showdialplan": show_dialplan,
        "getvar": getvar(base["getvar"]),
        "originate": originate(base["originate"]),
        "queuestatus": queue_status(base["queuestatus"]),
        "queueadd": queue_add(base["queueadd"]),
    }

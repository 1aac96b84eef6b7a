"""The simulated PBX's state: channels, devices, queues and members, and the events they raise.

The dialplan (`interpreter.py`) and the AMI server (`server.py`) drive it. Every change that
Asterisk would announce is emitted here, so the event shapes live in one place: channel
states, Local channel pairs (`;1`/`;2`) and how their halves hang each other up, bridges,
Cdrs, device states and queue members.
"""

from __future__ import annotations

import asyncio
import random
import re
from collections.abc import Callable, Coroutine
from datetime import datetime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from crm.clock import Clock
from telephony.ami.vocabulary import (
    CdrDisposition,
    ChannelState,
    DeviceState,
    HangupCause,
    SoftHangup,
)
from telephony.contract import VAR_MIXMONITOR_FILENAME
from telephony.pbx_sim.channels import (
    CAUSE_TEXT,
    Bridge,
    CdrSpec,
    Channel,
    ChannelRegistry,
    FarEnd,
    caller_id_text,
    event,
)
from telephony.pbx_sim.clock import SimClock
from telephony.pbx_sim.config import SimulatorConfig, StaticMember
from telephony.pbx_sim.queues import (
    IDLE,
    CallQueue,
    MemberChange,
    QueueMember,
    endpoint_of,
    extension_of,
    state_interface_of,
)
from telephony.pbx_sim.recordings import Recorder
from telephony.pbx_sim.runtime_dialplan import build_dialplan, dialplan_globals
from telephony.pbx_sim.technology import technology
from telephony.pbx_sim.wire import Fields, FieldSeq

if TYPE_CHECKING:
    from telephony.pbx_sim.rooms import Room
    from telephony.pbx_sim.scenario import Call

Emit = Callable[[Fields], None]


class Pbx:
    """One running PBX: what a restart throws away lives here."""

    def __init__(self, config: SimulatorConfig, emit: Emit, clock: Clock) -> None:
        self.config = config
        self.clock = SimClock(clock, config.time_scale)
        self.rng = random.Random(config.seed)
        self.channels = ChannelRegistry(self.clock)
        self.dialplan = build_dialplan(config)
        self.recorder = Recorder(config.recordings_dir)
        self._emit = emit
        self._agent_pattern = re.compile(config.agent_extension_pattern)
        self._cdr_zone = ZoneInfo(config.cdr_timezone)
        self.tasks: set[asyncio.Task[Any]] = set()
        self._far_ends: dict[Channel, asyncio.Task[Any]] = {}  # PJSIP endpoints' answers
        self.boot()

    def boot(self) -> None:
        """The state of a freshly started Asterisk (static members only, nothing live)."""
        self.boot_time = self.clock.now()
        self.shutting_down = False
        self.answer_delays: dict[str, float | None] = dict(self.config.answer_delays)
        self.device_states: dict[str, DeviceState] = {}
        self.global_vars: dict[str, str] = dialplan_globals(self.config, self.dialplan)
        self.queues: dict[str, CallQueue] = {}
        self.rooms: dict[str, Room] = {}  # ConfBridge conferences by name (rooms.py)
        for name in self.config.queues:
            queue = CallQueue(name, wrapuptime=int(self.config.wrapup_seconds))
            for spec in self.config.static_members.get(name, []):
                member = self._static_member(spec)
                queue.members[member.interface] = member
            self.queues[name] = queue
            # The queues' own devices start in their current state, unannounced.
            free = any(self.member_ready(member) for member in queue.members.values())
            self.device_states[f"Queue:{name}"] = DeviceState.NOT_INUSE
            self.device_states[f"Queue:{name}_avail"] = (
                DeviceState.NOT_INUSE if free else DeviceState.INUSE
            )

    def _static_member(self, spec: str | StaticMember) -> QueueMember:
        if isinstance(spec, str):
            interface = spec
            if self._agent_pattern.match(spec):
                interface = self.config.agent_interface_template.format(extension=spec)
            spec = StaticMember(interface, name=f"Agent {extension_of(interface)}")
        member = QueueMember(
            interface=spec.interface,
            name=spec.name or spec.interface,
            state_interface=spec.state_interface or state_interface_of(spec.interface),
            dynamic=False,
            login_time=int(self.boot_time),
            penalty=spec.penalty,
        )
        member.status = self.device_state(member.state_interface)
        return member

    async def shutdown(self) -> None:
        """Cancel every call and generator task without a word on the AMI (a crash)."""
        tasks = [task for task in self.tasks if not task.done()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self.tasks.clear()
        self._far_ends.clear()
        self.recorder.forget()

    async def restart(self) -> None:
        await self.shutdown()
        self.channels.reset()
        self.boot()

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        task = asyncio.get_running_loop().create_task(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        return task

    def spawn_far_end(self, channel: Channel, coro: Coroutine[Any, Any, Any]) -> None:
        """Run an endpoint's answers for `channel`; they stop when the channel is hung up."""
        self._far_ends[channel] = self.spawn(coro)

    # -- events ---------------------------------------------------------------------------

    def emit(self, fields: Fields) -> None:
        self._emit(fields)

    def channel_event(self, name: str, channel: Channel, extra: FieldSeq = ()) -> None:
        self.emit(event(name, channel.snapshot(), list(extra)))

    def dial_event(self, name: str, caller: Channel | None, dest: Channel, extra: Fields) -> None:
        caller_part = caller.snapshot() if caller is not None else []
        self.emit(event(name, caller_part, dest.snapshot("Dest"), extra))

    # -- channels -------------------------------------------------------------------------

    def new_channel(
        self,
        interface: str,
        *,
        context: str,
        exten: str,
        linkedid: str | None,
        wake: asyncio.Event | None = None,
        call: Call | None = None,
        state: ChannelState = ChannelState.DOWN,
        caller: tuple[str, str] | None = None,
        uniqueid: str | None = None,
    ) -> Channel:
        """Allocate a channel for `PJSIP/1001` (or `PJSIP/trunk`) and announce it, with the
        caller ID it is born with (a phone's endpoint's, an inbound call's). `uniqueid`: the
        one an Originate assigned (ChannelId), else the next of the PBX's own."""
        tech, resource = endpoint_of(interface)
        uniqueid = uniqueid or self.channels.new_uniqueid()
        number, name = caller or ("", "")
        caller_id = (number or "<unknown>", name or "<unknown>")
        channel = Channel(
            name=self.channels.new_name(tech, resource),
            uniqueid=uniqueid,
            linkedid=linkedid or uniqueid,
            endpoint=resource,
            tech=tech,
            context=context,
            exten=exten,
            created=self.clock.now(),
            state=state,
            caller_num=caller_id[0],
            caller_name=caller_id[1],
            shown_caller=caller_id,
            call=call,
            wake=wake,
        )
        self.channels.add(channel)
        self.channel_event("Newchannel", channel)
        self.refresh_device(channel.device)
        return channel

    def new_local_pair(
        self,
        resource: str,
        *,
        linkedid: str | None,
        call: Call,
        uniqueids: tuple[str, str] | None = None,
    ) -> Channel:
        """`Local/<exten>@<context>`: the `;1` half (returned) faces whoever asked for it, its
        twin `;2` will run the dialplan at exten@context. Both are announced. `uniqueids`:
        the halves' as an Originate assigned them (ChannelId, OtherChannelId)."""
        exten, _, context = resource.partition("@")
        first_name, second_name = self.channels.new_pair_names(resource)
        halves: list[Channel] = []
        for half, name in ((1, first_name), (2, second_name)):
            uniqueid = uniqueids[half - 1] if uniqueids else self.channels.new_uniqueid()
            halves.append(
                Channel(
                    name=name,
                    uniqueid=uniqueid,
                    linkedid=linkedid or (halves[0].linkedid if halves else uniqueid),
                    endpoint=resource,
                    tech="Local",
                    context=context,
                    exten=exten,
                    created=self.clock.now(),
                    state=ChannelState.DOWN if half == 1 else ChannelState.RING,
                    call=call,
                    half=half,
                )
            )
        first, second = halves
        first.twin, second.twin = second, first
        for channel in halves:
            self.channels.add(channel)
            self.channel_event("Newchannel", channel)
        return first

    def local_bridge(self, first: Channel) -> None:
        """The LocalBridge event that ties a Local channel's halves together."""
        second = first.twin
        assert second is not None
        exten, _, context = first.endpoint.partition("@")  # the pair's own, not the channel's
        self.emit(
            event(
                "LocalBridge",
                first.snapshot("LocalOne"),
                second.snapshot("LocalTwo"),
                [("Context", context), ("Exten", exten), ("LocalOptimization", "No")],
            )
        )

    def set_state(self, channel: Channel, state: ChannelState) -> None:
        channel.state = state
        if state == ChannelState.UP and channel.answered is None:
            channel.answered = self.clock.now()
        self.channel_event("Newstate", channel)
        self.publish(channel)
        self.refresh_device(channel.device)

    def newexten(self, channel: Channel, application: str, data: str = "") -> None:
        channel.application, channel.app_data = application, data
        self.channel_event(
            "Newexten",
            channel,
            [("Extension", channel.exten), ("Application", application), ("AppData", data)],
        )

    def set_var(self, channel: Channel, name: str, value: str) -> None:
        channel.variables[name] = value
        self.channel_event("VarSet", channel, [("Variable", name), ("Value", value)])

    def set_caller(self, channel: Channel, number: str, name: str, *, publish: bool = True) -> None:
        """Change the caller ID; published at once (ast_channel_set_caller_event) or, with
        `publish=False`, in the channel's next snapshot."""
        channel.caller_num, channel.caller_name = number or "<unknown>", name or "<unknown>"
        if publish:
            self.publish(channel)

    def set_connected(
        self, channel: Channel, number: str, name: str, *, publish: bool = True
    ) -> None:
        """Change the connected line; published at once or in the channel's next snapshot
        (app_queue copies the caller's silently: the member's Newstate Ringing shows it)."""
        channel.connected_num, channel.connected_name = number or "<unknown>", name or "<unknown>"
        if publish:
            self.publish(channel)

    def publish(self, channel: Channel) -> None:
        """A new snapshot of the channel: the manager announces a changed caller ID, then a
        changed connected line (manager_channels.c's monitors, in their order)."""
        caller = (channel.caller_num, channel.caller_name)
        if caller != channel.shown_caller:
            channel.shown_caller = caller
            self.channel_event(
                "NewCallerid",
                channel,
                [("CID-CallingPres", "0 (Presentation Allowed, Not Screened)")],
            )
        connected = (channel.connected_num, channel.connected_name)
        if connected != channel.shown_connected:
            channel.shown_connected = connected
            self.channel_event("NewConnectedLine", channel)

    # -- what the far end of a channel says ------------------------------------------------

    def indicate_ringing(self, channel: Channel) -> None:
        """`channel` rings at its far end: an endpoint's 180, or Ringing() on a Local channel's
        `;2` (its `;1` shows it). A channel in the dialplan tells its caller instead."""
        if channel.half == 2 and channel.twin is not None:
            target = channel.twin
        elif channel.in_dialplan:
            if channel.state == ChannelState.RING:
                self.set_state(channel, ChannelState.RINGING)
            return
        else:
            target = channel
        if target.destroyed or target.far is not None:
            return
        target.far, target.rang = FarEnd.RINGING, True
        if target.state != ChannelState.RINGING:
            self.set_state(target, ChannelState.RINGING)
        target.notify()

    def answer(self, channel: Channel) -> None:
        """The channel answers: Answer() in its dialplan or its endpoint's 200 OK; a Local
        channel's `;2` answering answers its `;1`."""
        if channel.state != ChannelState.UP:
            self.set_state(channel, ChannelState.UP)
        if channel.half == 2 and channel.twin is not None:
            self.answer(channel.twin)
            return
        if not channel.in_dialplan and channel.far != FarEnd.ANSWERED:
            channel.far = FarEnd.ANSWERED
            channel.notify()

    def far_failure(self, channel: Channel, far: FarEnd, cause: int) -> None:
        """The far end refuses the call: an endpoint's 486/503/404, or Busy()/Congestion() on
        a Local channel's `;2` (which keeps the cause; its `;1` hears only the refusal)."""
        if channel.half == 2 and channel.twin is not None:
            channel.own_cause = cause
            self.set_state(channel, ChannelState.BUSY)
            target = channel.twin
        else:
            target = channel
            target.far_cause = cause
        if not target.destroyed:
            target.far = far
            target.notify()

    def far_hangup(self, channel: Channel, cause: int) -> None:
        """The far end hung up (a BYE, or a Local channel's other half with `cause`):
        HangupRequest, with the Cause the channel's technology reports."""
        if channel.destroyed or channel.hangup_announced:
            return
        channel.hangup_announced = True
        said = technology(channel.tech).hangup_request_cause(channel, cause)
        self.channel_event(
            "HangupRequest", channel, [("Cause", str(said))] if said is not None else []
        )
        channel.request_hangup(HangupCause.NOTDEFINED if said is None else said)

    def soft_hangup_request(self, channel: Channel, flag: SoftHangup) -> None:
        """ast_softhangup(): SoftHangupRequest whose Cause is the soft-hangup flag; the
        channel keeps the hangup cause it had (0 for a caller still queued: the lab's
        `core restart now`)."""
        if channel.destroyed:
            return
        self.channel_event("SoftHangupRequest", channel, [("Cause", str(flag))])
        channel.request_hangup(channel.cause)

    def hangup(self, channel: Channel, cause: int, cdrs: list[Fields | None] | None = None) -> None:
        """ast_hangup(): the channel is gone for the PBX at once; its Cdr events (as Asterisk
        often sends them first) and its Hangup come when it is destroyed, which for a PJSIP
        channel is once its SIP session's serializer has run (technology.py). A Local half
        going away hangs up its twin (HangupRequest) if that one is still up."""
        if channel.destroyed:
            return
        twin = channel.twin
        if twin is not None and not twin.destroyed and not twin.hung_up:
            self.far_hangup(twin, cause)
        far_end = self._far_ends.pop(channel, None)
        if far_end is not None:
            far_end.cancel()
        if channel.hangup_cause is None:
            channel.hangup_cause = cause
        channel.destroyed = True
        if technology(channel.tech).hangs_up_later:
            self.spawn(self._destroy_later(channel, cause, cdrs or []))
        else:
            self._destroy(channel, cause, cdrs or [])
        channel.notify()

    async def _destroy_later(self, channel: Channel, cause: int, cdrs: list[Fields | None]) -> None:
        self._destroy(channel, cause, cdrs)

    def _destroy(self, channel: Channel, cause: int, cdrs: list[Fields | None]) -> None:
        """The channel's last reference goes: Cdrs, Hangup, its device's new state."""
        for cdr in cdrs:
            if cdr is not None:
                self.emit(cdr)
        cause_text = CAUSE_TEXT.get(cause, "Unknown")
        self.channel_event("Hangup", channel, [("Cause", str(cause)), ("Cause-txt", cause_text)])
        self.channels.discard(channel)
        self.recorder.channel_gone(channel, self.clock.now())
        self.refresh_device(channel.device)
        hooks, channel.on_hangup = channel.on_hangup, []
        for hook in hooks:
            hook()

    def end_dialplan(self, channel: Channel) -> None:
        """__ast_pbx_run's end: SoftHangupRequest (AST_SOFTHANGUP_APPUNLOAD), the channel's
        Cdrs, then Hangup with the cause it was given (16 if none)."""
        if channel.destroyed:
            return
        cause = next(
            (c for c in (channel.own_cause, channel.hangup_cause) if c is not None),
            HangupCause.NORMAL_CLEARING,
        )
        self.soft_hangup_appunload(channel)
        self.hangup(channel, cause, self._cdrs(channel))

    def soft_hangup_appunload(self, channel: Channel) -> None:
        """ast_softhangup(AST_SOFTHANGUP_APPUNLOAD) at the dialplan's end: announced once."""
        if channel.appunload_announced or channel.destroyed:
            return
        channel.appunload_announced = True
        self.channel_event("SoftHangupRequest", channel, [("Cause", str(SoftHangup.APPUNLOAD))])

    def start_mixmonitor(self, channel: Channel, path: str) -> None:
        self.set_var(channel, VAR_MIXMONITOR_FILENAME, path)
        self.channel_event("MixMonitorStart", channel)

    # -- bridges --------------------------------------------------------------------------

    def bridge(self, first: Channel, second: Channel) -> Bridge:
        bridge = Bridge()
        self.emit(event("BridgeCreate", bridge.fields()))
        for channel in (first, second):
            bridge.members.append(channel)
            channel.bridge = bridge
            self.emit(event("BridgeEnter", bridge.fields(), channel.snapshot()))
        self.set_var(first, "BRIDGEPEER", second.name)
        self.set_var(second, "BRIDGEPEER", first.name)
        now = self.clock.now()
        for channel in (first, second):
            self.recorder.bridged(channel, now)
        return bridge

    def leave_bridge(self, channel: Channel) -> None:
        """BridgeLeave; a channel leaving a bridge without a hangup cause gets Normal Clearing
        (bridge_channel.c's channel_set_cause)."""
        bridge = channel.bridge
        if bridge is None:
            return
        channel.cause = channel.cause or HangupCause.NORMAL_CLEARING
        if channel.hangup_cause == HangupCause.NOTDEFINED:
            channel.hangup_cause = channel.cause
        self.set_var(channel, "BRIDGEPEER", "")
        bridge.members.remove(channel)
        channel.bridge = None
        self.emit(event("BridgeLeave", bridge.fields(), channel.snapshot()))
        self.recorder.unbridged(channel, self.clock.now())
        for other in bridge.members:
            self.recorder.unbridged(other, self.clock.now())
        if not bridge.members:
            self.emit(event("BridgeDestroy", bridge.fields()))

    # -- CDRs -----------------------------------------------------------------------------

    def cdr(
        self,
        channel: Channel,
        *,
        dest: Channel | None,
        disposition: CdrDisposition,
        application: str,
        data: str,
        answered: float | None = None,
    ) -> Fields | None:
        """A Cdr event; like cdr.conf's `unanswered=no`, none for unanswered single-party calls."""
        if disposition is not CdrDisposition.ANSWERED and dest is None:
            return None
        end = self.clock.now()
        answered = channel.answered if answered is None else answered
        return event(
            "Cdr",
            [
                ("AccountCode", channel.account_code),
                ("Source", "" if channel.caller_num == "<unknown>" else channel.caller_num),
                ("Destination", channel.exten),
                ("DestinationContext", channel.context),
                ("CallerID", caller_id_text(channel.caller_name, channel.caller_num)),
                ("Channel", channel.name),
                ("DestinationChannel", dest.name if dest is not None else ""),
                ("LastApplication", application),
                ("LastData", data),
                ("StartTime", self._cdr_time(channel.created)),
                ("AnswerTime", self._cdr_time(answered) if answered else ""),
                ("EndTime", self._cdr_time(end)),
                ("Duration", str(int(end - channel.created))),
                ("BillableSeconds", str(int(end - answered)) if answered else "0"),
                ("Disposition", disposition),
                ("AMAFlags", "DOCUMENTATION"),
                ("UniqueID", channel.uniqueid),
                ("UserField", ""),
            ],
        )

    def _cdrs(self, channel: Channel) -> list[Fields | None]:
        """One Cdr per party the channel's dialplan called, or its own."""
        specs = channel.cdrs or [
            CdrSpec(
                None,
                CdrDisposition.ANSWERED
                if channel.answered is not None
                else CdrDisposition.NO_ANSWER,
                channel.application,
                channel.app_data,
            )
        ]
        return [
            self.cdr(
                channel,
                dest=spec.dest,
                disposition=spec.disposition,
                application=spec.application,
                data=spec.data,
            )
            for spec in specs
        ]

    def _cdr_time(self, when: float) -> str:
        return datetime.fromtimestamp(when, self._cdr_zone).strftime("%Y-%m-%d %H:%M:%S")

    # -- devices and queue members --------------------------------------------------------

    def device_state(self, device: str) -> DeviceState:
        """NOT_INUSE / RINGING / INUSE / BUSY / UNAVAILABLE of `PJSIP/1001`, from the
        states of its live channels, as its technology counts them (technology.py)."""
        device = state_interface_of(device)
        tech, resource = endpoint_of(device)
        states = [ch.state for ch in self.channels if ch.device == device]
        return technology(tech).device_state(self, resource, states)

    def refresh_device(self, device: str) -> None:
        """Announce a device's new state and update the queue members that watch it."""
        state = self.device_state(device)
        if self.device_states.get(device, DeviceState.NOT_INUSE) == state:
            return
        self.device_states[device] = state
        self._device_state_change(device, state)
        for queue in self.queues.values():
            for member in queue.members.values():
                if state_interface_of(member.state_interface) == device:
                    member.status = state
                    self.emit(member.event("QueueMemberStatus", queue.name))
            self.refresh_queue_devices(queue)

    def refresh_queue_devices(self, queue: CallQueue) -> None:
        """`Queue:<name>` (callers waiting) and `Queue:<name>_avail` (a member free)."""
        waiting = DeviceState.RINGING if queue.entries else DeviceState.NOT_INUSE
        free = any(self.member_ready(member) for member in queue.members.values())
        for device, state in (
            (f"Queue:{queue.name}", waiting),
            (f"Queue:{queue.name}_avail", DeviceState.NOT_INUSE if free else DeviceState.INUSE),
        ):
            if self.device_states.get(device, DeviceState.NOT_INUSE) != state:
                self.device_states[device] = state
                self._device_state_change(device, state)

    def _device_state_change(self, device: str, state: DeviceState) -> None:
        """DeviceStateChange words the state by its name (ast_devstate_str)."""
        self.emit(event("DeviceStateChange", [("Device", device), ("State", state.name)]))

    def member_ready(self, member: QueueMember) -> bool:
        """Would app_queue ring this member now (ringinuse=no, wrap-up over, not paused)?"""
        return (
            not member.paused and member.status in IDLE and self.clock.now() >= member.wrapup_until
        )

    def uniqueid_in_use(self, uniqueid: str) -> bool:
        """A live channel has it: channel.c refuses to allocate another with it."""
        return any(channel.uniqueid == uniqueid for channel in self.channels)

    def is_agent_extension(self, resource: str) -> bool:
        return bool(self._agent_pattern.match(resource))

    def is_agent_channel(self, channel: Channel) -> bool:
        """An agent's phone (`PJSIP/1001`, `Local/1001@agents`), not the trunk or a customer."""
        return self.is_agent_extension(channel.endpoint.split("@", 1)[0])

    def agent_interface(self, extension: str) -> str:
        return self.config.agent_interface_template.format(extension=extension)

    def answer_delay(self, extension: str) -> float | None:
        """How long this phone rings before answering; None if it never answers."""
        if extension in self.answer_delays:
            return self.answer_delays[extension]
        return self.config.default_answer_delay

    # -- queue administration (QueueAdd / QueueRemove / QueuePause) -------------------------

    def queue_add(
        self,
        queue_name: str,
        interface: str,
        *,
        name: str = "",
        penalty: int = 0,
        paused: bool = False,
        state_interface: str = "",
    ) -> MemberChange:
        """OKAY, EXISTS or NO_SUCH_QUEUE. Without a StateInterface the interface itself is
        watched (as the captures' QueueMemberAdded shows)."""
        queue = self.queues.get(queue_name)
        if queue is None:
            return MemberChange.NO_SUCH_QUEUE
        if interface in queue.members:
            return MemberChange.EXISTS
        now = int(self.clock.now())
        member = QueueMember(
            interface=interface,
            name=name or interface,
            state_interface=state_interface or interface,
            dynamic=True,
            login_time=now,
            penalty=penalty,
            paused=paused,
            last_pause=now if paused else 0,
        )
        member.status = self.device_state(member.state_interface)
        queue.members[interface] = member
        device = f"Queue:{queue.name}_pause_{interface}"  # app_queue's pause device
        state = DeviceState.INUSE if paused else DeviceState.NOT_INUSE
        if self.device_states.get(device) != state:
            self.device_states[device] = state
            self._device_state_change(device, state)
        self.emit(member.event("QueueMemberAdded", queue.name))
        self.refresh_queue_devices(queue)
        return MemberChange.OKAY

    def queue_remove(self, queue_name: str, interface: str) -> MemberChange:
        """OKAY, NOT_THERE, NOT_DYNAMIC or NO_SUCH_QUEUE."""
        queue = self.queues.get(queue_name)
        if queue is None:
            return MemberChange.NO_SUCH_QUEUE
        member = queue.members.get(interface)
        if member is None:
            return MemberChange.NOT_THERE
        if not member.dynamic:
            return MemberChange.NOT_DYNAMIC
        del queue.members[interface]
        self.emit(member.event("QueueMemberRemoved", queue.name))
        self.refresh_queue_devices(queue)
        return MemberChange.OKAY

    def queue_pause(
        self, interface: str, paused: bool, *, queue_name: str = "", reason: str = ""
    ) -> bool:
        """Pause or unpause a member in one queue or all of them; False if it is in none."""
        found = False
        for queue in self.queues.values():
            if queue_name and queue.name.lower() != queue_name.lower():
                continue
            member = queue.members.get(interface)
            if member is None:
                continue
            found = True
            member.paused = paused
            member.paused_reason = reason if paused else ""
            if paused:
                member.last_pause = int(self.clock.now())
            self.emit(member.event("QueueMemberPause", queue.name))
            self.refresh_queue_devices(queue)
        return found

    def wrapup_seconds(self, queue: CallQueue, member: QueueMember) -> int:
        """get_wrapuptime(): the member's own wrap-up if it has one, else the queue's."""
        return member.wrapuptime or queue.wrapuptime

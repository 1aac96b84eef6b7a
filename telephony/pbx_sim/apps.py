"""The dialplan applications other than Dial and Queue: NoOp, Set, Goto, Answer, Ringing,
Wait, Busy, Congestion, Playback, Hangup and MixMonitor, as Asterisk 22's behave on the
channel that runs them (what a Local channel's `;2` does reaches its `;1`)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import PurePosixPath

from telephony.ami.vocabulary import ChannelState, HangupCause
from telephony.contract import VAR_CALL_TYPE, CallType
from telephony.pbx_sim.channels import Channel, FarEnd
from telephony.pbx_sim.dialplan import split_args
from telephony.pbx_sim.pbx import Pbx
from telephony.pbx_sim.scenario import Call

HANGUP = object()  # the application hung the channel up (or found it hung up)


@dataclass(frozen=True)
class Goto:
    context: str | None
    exten: str | None
    priority: int


@dataclass
class AppContext:
    """What an application runs with: the PBX, its channel, and how to start the far half of
    a Local channel it creates or a dialplan on another channel (the interpreter's, passed
    down to avoid a cycle)."""

    pbx: Pbx
    channel: Channel
    start_far_half: Callable[[Pbx, Channel], None]
    start_dialplan: Callable[[Pbx, Channel, str, str, int], None]

    @property
    def call(self) -> Call:
        assert self.channel.call is not None
        return self.channel.call


App = Callable[[AppContext, str], Awaitable[object]]


async def wait_or_hangup(ctx: AppContext, seconds: float | None) -> bool:
    """Sleep `seconds` (None: until hung up); True if the channel was hung up meanwhile. A
    Redirect cuts the wait short (False: the dialplan goes where it says)."""
    clock, channel = ctx.pbx.clock, ctx.channel
    end = clock.now() + seconds if seconds is not None else None
    while not channel.hung_up and channel.after_bridge is None:
        now = clock.now()
        if end is not None and now >= end:
            return False
        await ctx.call.pause(end - now if end is not None else 3600.0)
    return True


def _seconds(text: str) -> float | None:
    try:
        return float(text) if text.strip() else None
    except ValueError:
        return None


async def noop(ctx: AppContext, data: str) -> object:
    return None


async def set_variable(ctx: AppContext, data: str) -> object:
    name, _, value = data.partition("=")
    name = name.strip()
    if name == "CALLERID(num)":
        ctx.pbx.set_caller(ctx.channel, value, ctx.channel.caller_name)
    elif name == "CALLERID(name)":
        ctx.pbx.set_caller(ctx.channel, ctx.channel.caller_num, value)
    elif name:
        ctx.pbx.set_var(ctx.channel, name, value)
    return None


async def goto(ctx: AppContext, data: str) -> object:
    """Goto([[context,]exten,]priority)."""
    parts = [part.strip() for part in split_args(data)]
    priority = int(parts[-1]) if parts[-1].isdigit() else 1
    exten = parts[-2] if len(parts) >= 2 else None
    context = parts[-3] if len(parts) >= 3 else None
    return Goto(context, exten, priority)


MEDIA_WAIT = 0.5  # __ast_answer() waits this long for the first voice frame after answering


async def answer(ctx: AppContext, data: str) -> object:
    """Answer a channel not yet up; a Local channel gets no voice frame, so the 500 ms
    __ast_answer() waits for one pass in full (the captures' next Newexten comes late)."""
    channel = ctx.channel
    if channel.state == ChannelState.UP:
        return None
    ctx.pbx.answer(channel)
    if channel.tech == "Local" and await wait_or_hangup(ctx, MEDIA_WAIT):
        return HANGUP
    return None


async def ringing(ctx: AppContext, data: str) -> object:
    ctx.pbx.indicate_ringing(ctx.channel)
    return None


async def wait(ctx: AppContext, data: str) -> object:
    return HANGUP if await wait_or_hangup(ctx, _seconds(data) or 0.0) else None


async def _refuse(ctx: AppContext, data: str, far: FarEnd, cause: int) -> object:
    """Busy()/Congestion(): say so to the caller, wait out the timeout, hang up."""
    channel = ctx.channel
    if channel.state != ChannelState.UP:
        ctx.pbx.far_failure(channel, far, cause)
        channel.own_cause = cause
    await wait_or_hangup(ctx, _seconds(split_args(data)[0]))
    return HANGUP


async def busy(ctx: AppContext, data: str) -> object:
    return await _refuse(ctx, data, FarEnd.BUSY, HangupCause.USER_BUSY)


async def congestion(ctx: AppContext, data: str) -> object:
    return await _refuse(ctx, data, FarEnd.CONGESTION, HangupCause.NORMAL_CIRCUIT_CONGESTION)


async def playback(ctx: AppContext, data: str) -> object:
    """Plays the sound file for its length; without the file PLAYBACKSTATUS is FAILED."""
    files = split_args(data)[0].split("&")
    lengths = [ctx.pbx.config.sounds.get(name) for name in files]
    if any(length is None for length in lengths):
        ctx.pbx.set_var(ctx.channel, "PLAYBACKSTATUS", "FAILED")
        return None
    hung_up = await wait_or_hangup(ctx, sum(length or 0.0 for length in lengths))
    ctx.pbx.set_var(ctx.channel, "PLAYBACKSTATUS", "SUCCESS")
    return HANGUP if hung_up else None


async def hangup(ctx: AppContext, data: str) -> object:
    cause = data.strip()
    ctx.channel.own_cause = int(cause) if cause.isdigit() else HangupCause.NORMAL_CLEARING
    return HANGUP


async def mixmonitor(ctx: AppContext, data: str) -> object:
    """MixMonitor(<file>,<options>): MIXMONITOR_FILENAME, MixMonitorStart, and the files
    (relative names are in the monitor directory, CC_MONITOR_DIR)."""
    pbx, channel = ctx.pbx, ctx.channel
    args = split_args(data)
    monitor_dir = pbx.global_vars.get("CC_MONITOR_DIR", str(pbx.recorder.directory))

    def reported(name: str) -> str:
        return name if PurePosixPath(name).is_absolute() else f"{monitor_dir}/{name}"

    mixed = reported(args[0].strip())
    pbx.start_mixmonitor(channel, mixed)
    recorder = pbx.recorder
    recorder.start(
        channel,
        recorder.file(mixed, monitor_dir),
        args[1] if len(args) > 1 else "",
        locate=lambda name: recorder.file(reported(name), monitor_dir),
        kind=(
            CallType.CALLBACK
            if channel.variables.get(VAR_CALL_TYPE) == CallType.CALLBACK
            else CallType.INBOUND
        ),
        customer_channel=not pbx.is_agent_channel(channel),
        now=pbx.clock.now(),
        rng=pbx.rng,
    )
    return None


APPS: dict[str, App] = {
    "noop": noop,
    "set": set_variable,
    "goto": goto,
    "answer": answer,
    "ringing": ringing,
    "wait": wait,
    "busy": busy,
    "congestion": congestion,
    "playback": playback,
    "hangup": hangup,
    "mixmonitor": mixmonitor,
}

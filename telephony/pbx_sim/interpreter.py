"""Runs the dialplan on a channel, as main/pbx.c's __ast_pbx_run does: each priority is
announced (Newexten, its argument expanded), its application runs, and the channel goes on to
the next priority, a Goto's target, or its end. The end is a SoftHangupRequest whose Cause is
AST_SOFTHANGUP_APPUNLOAD (16), then the Cdrs and the Hangup.

Applications live in `apps.py` (the simple ones), `dialing.py` (Dial), `queue_calls.py`
(Queue), `chanspy.py` (ChanSpy) and `rooms.py` (MusicOnHold, ConfBridge, ConfKick); they
get an `AppContext` and return None (next priority), HANGUP or a Goto. An AMI Redirect
(`redirect.py`) ends the application the channel runs and the dialplan goes on where it says
(ast_async_goto). When the dialplan ends, the context's `h` extension runs if it has one
(ast_pbx_h_exten_run).
"""

from __future__ import annotations

import asyncio
import logging

from telephony.pbx_sim.apps import APPS, HANGUP, AppContext, Goto
from telephony.pbx_sim.channels import Channel
from telephony.pbx_sim.chanspy import chanspy
from telephony.pbx_sim.dialing import dial_app
from telephony.pbx_sim.dialplan import expand
from telephony.pbx_sim.pbx import Pbx
from telephony.pbx_sim.queue_calls import queue_app
from telephony.pbx_sim.rooms import ROOM_APPS
from telephony.pbx_sim.variables import resolver

log = logging.getLogger(__name__)

ALL_APPS = {**APPS, **ROOM_APPS, "dial": dial_app, "queue": queue_app, "chanspy": chanspy}
HANGUP_EXTEN = "h"


def exists(pbx: Pbx, context: str, exten: str) -> bool:
    """Does `exten@context` lead anywhere (a Local channel to it can be created)?"""
    return pbx.dialplan.find(context, exten) is not None


async def run_dialplan(
    pbx: Pbx, channel: Channel, context: str, exten: str, priority: int = 1
) -> None:
    """Run `channel` from exten@context,priority until it hangs up or the dialplan ends."""
    channel.in_dialplan = True
    found = pbx.dialplan.find(context, exten)
    while found is not None and not channel.hung_up:
        context_name, extension = found
        step = pbx.dialplan.step(context_name, extension, priority)
        if step is None:
            break
        channel.context, channel.exten, channel.priority = context, exten, priority
        data = expand(step.data, resolver(pbx, channel))
        result = await run_application(pbx, channel, step.app, data)
        if channel.after_bridge is not None and not channel.hung_up:  # a Redirect
            result = _redirected(channel)
        if result is HANGUP:
            break
        if isinstance(result, Goto):
            context = result.context or context
            exten, priority = result.exten or exten, result.priority
            found = pbx.dialplan.find(context, exten)
            continue
        priority += 1
    if found is None:
        log.debug("no extension %s@%s for %s", exten, context, channel.name)
    if _has_hangup_exten(pbx, channel.context):
        pbx.soft_hangup_appunload(channel)  # before `h`, as __ast_pbx_run orders them
        await _run_hangup_exten(pbx, channel)
    pbx.end_dialplan(channel)


def _redirected(channel: Channel) -> Goto:
    assert channel.after_bridge is not None
    context, exten, priority = channel.after_bridge
    channel.after_bridge = None
    channel.blind_transferred = False
    return Goto(context, exten, priority)


def _has_hangup_exten(pbx: Pbx, context: str) -> bool:
    found = pbx.dialplan.contexts.get(context)
    return found is not None and HANGUP_EXTEN in found.extensions


async def _run_hangup_exten(pbx: Pbx, channel: Channel) -> None:
    """The `h` extension of the context the channel ended in, priority by priority."""
    context = channel.context
    channel.exten, priority = HANGUP_EXTEN, 1
    while (step := pbx.dialplan.step(context, HANGUP_EXTEN, priority)) is not None:
        channel.priority = priority
        data = expand(step.data, resolver(pbx, channel))
        if await run_application(pbx, channel, step.app, data) is HANGUP:
            break
        priority += 1


async def run_application(pbx: Pbx, channel: Channel, app: str, data: str) -> object:
    """Newexten, then the application (an unknown one does nothing, as a missing module)."""
    pbx.newexten(channel, app, data)
    handler = ALL_APPS.get(app.lower())
    if handler is None:
        return None
    return await handler(AppContext(pbx, channel, start_far_half, start_dialplan), data)


def start_far_half(pbx: Pbx, first: Channel) -> None:
    """A Local channel's `;2` starts its dialplan at the exten@context it was created for."""
    second = first.twin
    assert second is not None
    pbx.spawn(run_dialplan(pbx, second, second.context, second.exten))


def start_dialplan(pbx: Pbx, channel: Channel, context: str, exten: str, priority: int = 1) -> None:
    """A channel that was no dialplan's (a Dial's callee, blind-transferred or Redirected)
    starts one at exten@context in a thread of its own (ast_pbx_start), a moment after."""

    async def run() -> None:
        await asyncio.sleep(0)
        await run_dialplan(pbx, channel, context, exten, priority)

    pbx.spawn(run())

"""Runs the dialplan on a channel, as main/pbx.c's __ast_pbx_run does: each priority is
announced (Newexten, its argument expanded), its application runs, and the channel goes on to
the next priority, a Goto's target, or its end. The end is a SoftHangupRequest whose Cause is
AST_SOFTHANGUP_APPUNLOAD (16), then the Cdrs and the Hangup.

Applications live in `apps.py` (the simple ones), `dialing.py` (Dial), `queue_calls.py`
(Queue) and `chanspy.py` (ChanSpy); they get an `AppContext` and return None (next
priority), HANGUP or a Goto.
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
from telephony.pbx_sim.variables import resolver

log = logging.getLogger(__name__)

ALL_APPS = {**APPS, "dial": dial_app, "queue": queue_app, "chanspy": chanspy}


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
    pbx.end_dialplan(channel)


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


def start_dialplan(pbx: Pbx, channel: Channel, context: str, exten: str) -> None:
    """A channel that was no dialplan's (a Dial's callee, blind-transferred) starts one at
    exten@context in a thread of its own (ast_pbx_start), a moment after."""

    async def run() -> None:
        await asyncio.sleep(0)
        await run_dialplan(pbx, channel, context, exten)

    pbx.spawn(run())

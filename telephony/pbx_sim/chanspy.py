"""ChanSpy(chanprefix,options) as Asterisk 22's app_chanspy.c runs it on the spying channel
(a supervisor's phone, originated into the dialplan's spy context).

It answers the channel (unless `N`), then looks every 100 ms for a live channel whose name
starts with `chanprefix` (case-insensitive), other than itself and not spying itself (`b`:
only one in a bridge). On one it announces ChanSpyStart (the Spyer's and the Spyee's
snapshots) and listens (and with `w` or `B` talks) through audiohooks: no bridge, no event on
the spied-on channel, which goes on as before. When the spied-on channel hangs up, ChanSpyStop;
`E` then leaves the application (the dialplan goes on), else it looks again. `S` leaves when
no channel is left to spy on. The spying channel hanging up ends it all (ChanSpyStop first).
`q` (no beep, no name spoken) changes nothing here: the simulator plays no sound.
"""

from __future__ import annotations

import asyncio
import contextlib

from telephony.ami.vocabulary import ChannelState
from telephony.pbx_sim.apps import HANGUP, AppContext, wait_or_hangup
from telephony.pbx_sim.channels import Channel, event
from telephony.pbx_sim.dialplan import split_args
from telephony.pbx_sim.pbx import Pbx

LOOK_AGAIN = 0.1  # common_exec's ast_waitfordigit(chan, 100) between looks
# Options that take an argument in parentheses: c(digit), e(ext), g(grp), n(mailbox@context),
# r(basename), v(volume), x(digit).
_WITH_ARGUMENT = frozenset("cegnrvx")


def parse_options(text: str) -> set[str]:
    """The option letters (arguments skipped): `bqESw` → {b, q, E, S, w}; `g(sales)q` →
    {g, q}."""
    letters: set[str] = set()
    i = 0
    while i < len(text):
        letter = text[i]
        i += 1
        if letter in _WITH_ARGUMENT and text[i : i + 1] == "(":
            close = text.find(")", i)
            i = len(text) if close < 0 else close + 1
        if letter.strip():
            letters.add(letter)
    return letters


def _target(pbx: Pbx, spyer: Channel, prefix: str, options: set[str]) -> Channel | None:
    """next_channel(): the first live channel by that name, not the spyer, not spying."""
    wanted = prefix.lower()
    for channel in pbx.channels:
        if channel is spyer or not channel.name.lower().startswith(wanted):
            continue
        if channel.hung_up or channel.spying:
            continue
        if "b" in options and channel.bridge is None:
            continue
        return channel
    return None


def _announce(pbx: Pbx, name: str, spyer: Channel, spyee: Channel) -> None:
    pbx.emit(event(name, spyer.snapshot("Spyer"), spyee.snapshot("Spyee")))


async def _either_changes(ctx: AppContext, spyee: Channel) -> None:
    """Until something happens in the spyer's call or in the spied-on channel's."""
    if spyee.call is None:  # a channel of no call: looked at again in a moment
        await wait_or_hangup(ctx, LOOK_AGAIN)
        return
    waits = [asyncio.ensure_future(call.next_change().wait()) for call in {ctx.call, spyee.call}]
    try:
        await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiting in waits:
            waiting.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await waiting


async def _spy_on(ctx: AppContext, spyee: Channel) -> bool:
    """channel_spy(): spy until either side hangs up; True if the spyer did."""
    pbx, spyer = ctx.pbx, ctx.channel
    _announce(pbx, "ChanSpyStart", spyer, spyee)
    while not spyer.hung_up and not spyee.hung_up:
        await _either_changes(ctx, spyee)
    _announce(pbx, "ChanSpyStop", spyer, spyee)
    return spyer.hung_up


async def chanspy(ctx: AppContext, data: str) -> object:
    args = split_args(data)
    prefix = args[0].strip()
    options = parse_options(args[1] if len(args) > 1 else "")
    pbx, channel = ctx.pbx, ctx.channel
    if "N" not in options and channel.state != ChannelState.UP:
        pbx.answer(channel)
    channel.spying = True
    try:
        while not channel.hung_up:
            if await wait_or_hangup(ctx, LOOK_AGAIN):
                return HANGUP
            spyee = _target(pbx, channel, prefix, options)  # no prefix: any channel
            if spyee is None:
                if "S" in options:
                    return None
                continue
            if await _spy_on(ctx, spyee):
                return HANGUP
            if "E" in options or "S" in options:
                return None
        return HANGUP
    finally:
        channel.spying = False

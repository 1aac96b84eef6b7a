"""What `${NAME}` means on a channel: its own variables, then the dialplan's [globals], with
the channel's built-in values (UNIQUEID, EXTEN, CALLERID(num), ...) answered first."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from telephony.pbx_sim.channels import Channel

if TYPE_CHECKING:
    from telephony.pbx_sim.pbx import Pbx


def builtin(channel: Channel, name: str) -> str | None:
    """A channel's built-in variables and functions; None when `name` is none of them."""
    caller_num = "" if channel.caller_num == "<unknown>" else channel.caller_num
    caller_name = "" if channel.caller_name == "<unknown>" else channel.caller_name
    values = {
        "CALLERID(num)": caller_num,
        "CALLERID(name)": caller_name,
        "CALLERID(all)": f'"{caller_name}" <{caller_num}>',
        "UNIQUEID": channel.uniqueid,
        "CHANNEL": channel.name,
        "CHANNEL(name)": channel.name,
        "CHANNEL(uniqueid)": channel.uniqueid,
        "CHANNEL(linkedid)": channel.linkedid,
        "CONTEXT": channel.context,
        "EXTEN": channel.exten,
        "PRIORITY": str(channel.priority),
    }
    return values.get(name)


def read(pbx: Pbx, channel: Channel, name: str) -> str:
    """`${name}` on this channel ("" when unset, as Asterisk expands it)."""
    value = builtin(channel, name)
    if value is not None:
        return value
    if name in channel.variables:
        return channel.variables[name]
    return pbx.global_vars.get(name, "")


def resolver(pbx: Pbx, channel: Channel) -> Callable[[str], str]:
    return lambda name: read(pbx, channel, name)

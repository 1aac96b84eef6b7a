"""Supervisors on an agent's live call: listen, whisper or barge (Asterisk's ChanSpy), by an
Originate that rings the supervisor's own phone into the dialplan's spy context
(contract.CONTEXT_SPY, asterisk-conf/extensions.conf [cc-spy]).

The spy call is nobody's call of the centre's: the Originate gives its channel a Uniqueid of
our own (ChannelId `cc-spy-<hex>`), which Asterisk also makes its Linkedid and passes to every
channel the call creates, so the tracker knows each of its events from the first and leaves
it out (`is_spy_leg`). ChanSpy joins no bridge: the agent's call record never sees it.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from telephony import contract

# An extension reaches the dialplan as digits only (the dialplan filters again).
_EXTENSION_RE = re.compile(r"^[0-9]{1,20}$")
# What a caller ID's name may not hold: its own quoting, and anything that would end an AMI
# header line.
_NOT_IN_NAME = re.compile(r'["<>\\\x00-\x1f\x7f]')
NAME_LENGTH = 40
ASTERISK_MAX_UNIQUEID = 149  # AST_MAX_PUBLIC_UNIQUEID: a longer ChannelId is refused


class SpyMode(StrEnum):
    """What the supervisor's phone does on the agent's call (the spy context's extensions)."""

    LISTEN = contract.SPY_LISTEN  # hears both parties; nobody hears the supervisor
    WHISPER = contract.SPY_WHISPER  # the agent hears the supervisor, the customer does not
    BARGE = contract.SPY_BARGE  # both parties hear the supervisor


def is_spy_leg(uniqueid: str | None) -> bool:
    """Whether a Uniqueid or Linkedid is one of a supervisor's spy call."""
    return bool(uniqueid) and str(uniqueid).startswith(contract.SPY_CHANNEL_ID_PREFIX)


def is_spy_event(event: Mapping[str, Any]) -> bool:
    """An AMI event about a spy call: one of its channels, or its Originate's answer."""
    for key in ("Linkedid", "DestLinkedid", "Uniqueid", "DestUniqueid"):
        value = event.get(key)
        if isinstance(value, str) and is_spy_leg(value):
            return True
    return event.get("Event") == "OriginateResponse" and event.get("Context") == (
        contract.CONTEXT_SPY
    )


def caller_id(name: str, extension: str) -> str:
    """`"<name>" <extension>`: what the supervisor's phone shows, who is being listened to."""
    clean = _NOT_IN_NAME.sub("", name).strip()[:NAME_LENGTH]
    return f'"{clean}" <{extension}>' if clean else f"<{extension}>"


@dataclass(frozen=True, slots=True)
class SpyCall:
    """The Originate that puts a supervisor's phone on an agent's call."""

    phone: str  # the supervisor's phone as Originate's Channel, e.g. PJSIP/2001
    agent_extension: str
    mode: SpyMode
    caller_id: str
    channel_id: str

    @classmethod
    def of(cls, *, phone: str, agent_extension: str, agent_name: str, mode: SpyMode) -> SpyCall:
        """ValueError when the agent's extension is not plain digits (it is put into the
        dialplan's application arguments)."""
        if not _EXTENSION_RE.match(agent_extension):
            raise ValueError(f"{agent_extension!r} is not an extension (digits only)")
        if not phone or any(c in phone for c in "\r\n"):
            raise ValueError(f"{phone!r} is not a phone to ring")
        return cls(
            phone=phone,
            agent_extension=agent_extension,
            mode=SpyMode(mode),
            caller_id=caller_id(agent_name, agent_extension),
            channel_id=f"{contract.SPY_CHANNEL_ID_PREFIX}{uuid.uuid4().hex}",
        )

    def fields(self) -> dict[str, str]:
        """What crosses between processes (telephony/pbx_requests.py)."""
        return {
            "phone": self.phone,
            "agent_extension": self.agent_extension,
            "mode": self.mode.value,
            "caller_id": self.caller_id,
            "channel_id": self.channel_id,
        }

    @classmethod
    def from_fields(cls, fields: Mapping[str, Any]) -> SpyCall:
        """The inverse of `fields`, checked again (the request came over Redis)."""
        call = cls(
            phone=str(fields["phone"]),
            agent_extension=str(fields["agent_extension"]),
            mode=SpyMode(str(fields["mode"])),
            caller_id=str(fields["caller_id"]),
            channel_id=str(fields["channel_id"]),
        )
        if not _EXTENSION_RE.match(call.agent_extension) or not is_spy_leg(call.channel_id):
            raise ValueError("not a spy call")
        if any(c in value for value in call.fields().values() for c in "\r\n"):
            raise ValueError("not a spy call")
        return call

"""Queue members as the PBX sees them: rebuilt from QueueStatus, kept current by member events."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from telephony.ami.vocabulary import DeviceState
from telephony.channels import AgentDirectory

MEMBER_EVENTS = frozenset(
    {
        "QueueMemberAdded",
        "QueueMemberRemoved",
        "QueueMemberPause",
        "QueueMemberStatus",
        "QueueMemberPenalty",
        "QueueMemberRinginuse",
    }
)


@dataclass(frozen=True, slots=True)
class QueueMember:
    queue: str
    interface: str
    name: str
    extension: str | None
    paused: bool
    paused_reason: str
    status: DeviceState
    in_call: bool


def _text(value: Any) -> str:
    if isinstance(value, list):
        value = value[0] if value else ""
    return value if isinstance(value, str) else ""


def _flag(value: Any) -> bool:
    return _text(value).strip().lower() in ("1", "yes", "true")


def _device_state(value: Any) -> DeviceState:
    """A member's Status; a number this version does not know is Asterisk's UNKNOWN."""
    text = _text(value).strip()
    try:
        return DeviceState(int(text)) if text.isdigit() else DeviceState.UNKNOWN
    except ValueError:
        return DeviceState.UNKNOWN


class QueueMembers:
    def __init__(self, agents: AgentDirectory | None = None) -> None:
        self._agents = agents or AgentDirectory()
        self._members: dict[tuple[str, str], QueueMember] = {}

    def _member(self, event: Mapping[str, Any]) -> QueueMember | None:
        queue = _text(event.get("Queue"))
        interface = _text(event.get("Interface")) or _text(event.get("Location"))
        if not (queue and interface):
            return None
        return QueueMember(
            queue=queue,
            interface=interface,
            name=_text(event.get("MemberName")) or _text(event.get("Name")) or interface,
            extension=self._agents.extension_of(interface),
            paused=_flag(event.get("Paused")),
            paused_reason=_text(event.get("PausedReason")),
            status=_device_state(event.get("Status")),
            in_call=_flag(event.get("InCall")),
        )

    def reset(self, status_list: Iterable[Mapping[str, Any]]) -> None:
        """Replace everything with a QueueStatus list (its QueueMember events)."""
        members = (self._member(m) for m in status_list if _text(m.get("Event")) == "QueueMember")
        self._members = {(m.queue, m.interface): m for m in members if m is not None}

    def apply(self, event: Mapping[str, Any]) -> QueueMember | None:
        """Apply a member event; returns the member as it now is (paused/removed included)."""
        name = _text(event.get("Event"))
        if name not in MEMBER_EVENTS:
            return None
        member = self._member(event)
        if member is None:
            return None
        key = (member.queue, member.interface)
        if name == "QueueMemberRemoved":
            self._members.pop(key, None)
            return replace(member, status=DeviceState.UNAVAILABLE)
        current = self._members.get(key)
        if name == "QueueMemberPause" and current is not None:
            member = replace(current, paused=member.paused, paused_reason=member.paused_reason)
        self._members[key] = member
        return member

    def members(self, queue: str | None = None) -> list[QueueMember]:
        return [m for m in self._members.values() if queue is None or m.queue == queue]

    def of_extension(self, extension: str) -> list[QueueMember]:
        return [m for m in self._members.values() if m.extension == extension]

"""Events as Redis stream entries: a type name, an id, and the event's fields as JSON.

Only the types listed here cross processes; each is a frozen dataclass that pydantic turns
into JSON and back, datetimes and nested records included.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field, replace
from typing import Any

from pydantic import TypeAdapter

from telephony.bridge import PbxConnection, QueueMemberChanged, QueueMembersResynced
from telephony.events import (
    AgentRinging,
    CallAnswered,
    CallBridged,
    CallEnded,
    RecordingStarted,
    RingStopped,
)
from web.revocation import SocketsEnded


@dataclass(frozen=True, slots=True)
class UserMessage:
    """A message for one user's browser, whichever web process holds their websocket."""

    user_id: int
    kind: str
    payload: dict[str, Any] = field(default_factory=dict)


FORWARDED = (
    AgentRinging,
    CallAnswered,
    RingStopped,
    CallEnded,
    CallBridged,
    RecordingStarted,
    PbxConnection,
    QueueMemberChanged,
    QueueMembersResynced,
    UserMessage,
    SocketsEnded,  # a session ended on one web process: its websockets close on all
)
_ADAPTERS: dict[str, TypeAdapter[Any]] = {cls.__name__: TypeAdapter(cls) for cls in FORWARDED}


class UnknownEvent(ValueError):
    """An entry of a type this version does not know (a newer publisher): skipped."""


def encode(event: object, event_id: str | None = None) -> dict[str, str]:
    name = type(event).__name__
    adapter = _ADAPTERS.get(name)
    if adapter is None:
        raise UnknownEvent(f"{name} is not an event that crosses processes")
    return {
        "type": name,
        "id": event_id or uuid.uuid4().hex,
        "data": adapter.dump_json(event).decode(),
    }


def decode(fields: dict[str, str]) -> tuple[str, object]:
    """The event's id and the event. A ring's arrival time is this process's monotonic clock
    (another machine's means nothing here), so pop latency is measured from here on."""
    adapter = _ADAPTERS.get(fields.get("type", ""))
    if adapter is None:
        raise UnknownEvent(f"unknown event type {fields.get('type')!r}")
    event = adapter.validate_json(fields["data"])
    if isinstance(event, AgentRinging):
        event = replace(event, received_at=time.monotonic())
    return fields["id"], event

"""Events as Redis stream entries: a type name, an id, and the event's fields as JSON.

The wire form comes from the event classes themselves: every event its producer's events
module defines crosses processes under its class name, unless it says `crosses_processes =
False`; pydantic turns each frozen dataclass into JSON and back, datetimes and nested records
included. A new event needs nothing here; a new producer's events module joins `PRODUCERS`
(tests/test_event_codec.py fails until it does).
"""

from __future__ import annotations

import uuid
from dataclasses import replace
from typing import Any

from pydantic import TypeAdapter

from crm.agents import events as agent_events
from crm.bus import Event, events_of
from telephony import events as pbx_events
from telephony.events import AgentRinging
from web import events as web_events

PRODUCERS = (pbx_events, agent_events, web_events)
EVENTS: tuple[type[Event], ...] = tuple(cls for module in PRODUCERS for cls in events_of(module))
CROSSING: tuple[type[Event], ...] = tuple(cls for cls in EVENTS if cls.crosses_processes)


def _adapters() -> dict[str, TypeAdapter[Any]]:
    adapters: dict[str, TypeAdapter[Any]] = {}
    for cls in CROSSING:
        if cls.__name__ in adapters:  # the type name is the wire's only key
            raise TypeError(f"two events named {cls.__name__} cross processes")
        adapters[cls.__name__] = TypeAdapter(cls)
    return adapters


_ADAPTERS = _adapters()


class UnknownEvent(ValueError):
    """An entry of a type this version does not know (a newer publisher): skipped."""


def encode(event: Event, event_id: str | None = None) -> dict[str, str]:
    name = type(event).__name__
    adapter = _ADAPTERS.get(name)
    if adapter is None:
        raise UnknownEvent(f"{name} is not an event that crosses processes")
    return {
        "type": name,
        "id": event_id or uuid.uuid4().hex,
        "data": adapter.dump_json(event).decode(),
    }


def decode(fields: dict[str, str], *, arrived: float) -> tuple[str, Event]:
    """The event's id and the event. A ring's arrival time is `arrived`, this process's
    monotonic reading as the entry was read (another machine's means nothing here), so pop
    latency is measured from here on."""
    adapter = _ADAPTERS.get(fields.get("type", ""))
    if adapter is None:
        raise UnknownEvent(f"unknown event type {fields.get('type')!r}")
    event = adapter.validate_json(fields["data"])
    if isinstance(event, AgentRinging):
        event = replace(event, received_at=arrived)
    return fields["id"], event

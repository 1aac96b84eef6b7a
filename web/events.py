"""What the web layer tells its processes: a message for one user's browser, and the
websockets to close. With several web processes the events stream carries both to all of
them, since any one may hold the user's websocket."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from crm.bus import Event


@dataclass(frozen=True, slots=True)
class UserMessage(Event):
    """A message for one user's browser, whichever web process holds their websocket: its
    `type` and the rest of it as JSON (web/ws_messages.py; read back into its model there)."""

    user_id: int
    kind: str
    payload: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ExtensionsChanged(Event):
    """A user was created or edited: every process reads who has which extension again
    (web/extension_directory.py), so a moved extension rings its new holder everywhere."""

    user_id: int


@dataclass(frozen=True, slots=True)
class SocketsEnded(Event):
    """Close these sessions' websockets (all of the user's when `session_ids` is empty)."""

    user_id: int
    session_ids: tuple[int, ...] = ()
    reason: str = "logged out"

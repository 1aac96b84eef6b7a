"""Per-user, sequenced messages for the browser, kept a while so a reconnecting page resumes
where it left off: it says which epoch and sequence number it saw last, and gets the rest once.
Each open websocket listens with the session it was opened with, so ending a session ends its
sockets (`end_sockets`, web/revocation.py).
"""

from __future__ import annotations

import asyncio
import uuid
from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from crm.clock import Clock
from web.events import SocketsEnded

if TYPE_CHECKING:
    from web.ws_messages import PushedMessage


@dataclass(frozen=True, slots=True)
class Delivery:
    seq: int
    message: dict[str, Any]  # what the browser receives, "seq" included
    kept_at: float
    started: float | None = None  # monotonic arrival of the PBX event behind it (latency)


class Outbox:
    def __init__(
        self,
        *,
        clock: Clock,
        retention_seconds: float = 600.0,
        max_per_user: int = 500,
    ) -> None:
        self.epoch = uuid.uuid4().hex[:12]  # a new server process starts a new sequence
        self.retention = retention_seconds
        self.max_per_user = max_per_user
        self.clock = clock
        self._seq: dict[int, int] = {}
        self._kept: dict[int, deque[Delivery]] = {}
        self._listeners: dict[int, set[asyncio.Queue[Delivery | SocketsEnded]]] = {}
        self._sessions: dict[asyncio.Queue[Delivery | SocketsEnded], int | None] = {}

    def push(
        self, user_id: int, message: PushedMessage, *, started: float | None = None
    ) -> Delivery:
        """Number the message with the user's next `seq`, keep it, hand it to their sockets."""
        seq = self._seq.get(user_id, 0) + 1
        self._seq[user_id] = seq
        sent = message.model_dump(mode="json")
        sent["seq"] = seq
        delivery = Delivery(seq, sent, self.clock.monotonic(), started)
        kept = self._kept.setdefault(user_id, deque(maxlen=self.max_per_user))
        kept.append(delivery)
        self._expire(kept)
        for queue in self._listeners.get(user_id, ()):
            queue.put_nowait(delivery)
        return delivery

    def push_to_listeners(self, message: PushedMessage) -> None:
        """A message for everyone connected now (e.g. the PBX went away)."""
        for user_id in list(self._listeners):
            self.push(user_id, message)

    def last_seq(self, user_id: int) -> int:
        return self._seq.get(user_id, 0)

    def since(self, user_id: int, seq: int) -> list[Delivery]:
        """What the user has not seen after `seq`, within the retention time."""
        kept = self._kept.get(user_id)
        if not kept:
            return []
        self._expire(kept)
        return [d for d in kept if d.seq > seq]

    def _expire(self, kept: deque[Delivery]) -> None:
        """Drop what is past the retention time: a busy agent's history holds minutes, not
        the 500 messages of half a day, so a process's memory stays flat all day."""
        horizon = self.clock.monotonic() - self.retention
        while kept and kept[0].kept_at < horizon:
            kept.popleft()

    def listen(
        self, user_id: int, session_id: int | None = None
    ) -> asyncio.Queue[Delivery | SocketsEnded]:
        """A queue of the user's deliveries; a SocketsEnded in it means: close now."""
        queue: asyncio.Queue[Delivery | SocketsEnded] = asyncio.Queue()
        self._listeners.setdefault(user_id, set()).add(queue)
        self._sessions[queue] = session_id
        return queue

    def unlisten(self, user_id: int, queue: asyncio.Queue[Delivery | SocketsEnded]) -> None:
        self._sessions.pop(queue, None)
        listeners = self._listeners.get(user_id)
        if listeners is not None:
            listeners.discard(queue)
            if not listeners:
                del self._listeners[user_id]

    def end_sockets(self, ended: SocketsEnded) -> int:
        """Tell the matching listeners to close; how many were told."""
        told = 0
        for queue in self._listeners.get(ended.user_id, ()):
            if not ended.session_ids or self._sessions.get(queue) in ended.session_ids:
                queue.put_nowait(ended)
                told += 1
        return told

    def held(self) -> int:
        """How many messages are kept for reconnecting pages, all users together."""
        return sum(len(kept) for kept in self._kept.values())

    def connected(self, user_id: int) -> bool:
        return bool(self._listeners.get(user_id))

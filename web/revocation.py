"""Ending the websockets of sessions that no longer admit anyone: a logout, a password
change, a deactivation or a new role. A websocket is authenticated once, when it opens, so
without this a logged-out browser kept receiving screen pops and the wallboard.

The process that ends the sessions closes its own sockets at once and, with Redis, puts a
`SocketsEnded` on the events stream so every other web process closes theirs.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from web.events import SocketsEnded

if TYPE_CHECKING:
    from web.services import Services

log = logging.getLogger(__name__)


def ended_by_update(*, deactivated: bool, password_changed: bool, role_changed: bool) -> str | None:
    """Why a change to a user ends their open websockets, or None when it does not. A new
    role keeps the sessions (pages ask again) but not the sockets let in under the old one."""
    if deactivated:
        return "deactivated"
    if password_changed:
        return "password changed"
    if role_changed:
        return "role changed"
    return None


def end_sockets(svc: Services, ended: SocketsEnded) -> None:
    """Close the matching websockets here now, and on every other web process."""
    closed = svc.outbox.end_sockets(ended)
    if closed:
        log.info("closed %d websocket(s) of user %d: %s", closed, ended.user_id, ended.reason)
    if svc.bus.spans_processes:
        svc.bus.publish(ended)


async def from_stream(svc: Services, ended: SocketsEnded) -> None:
    """A process ended sessions (a bus subscriber, with several processes)."""
    closed = svc.outbox.end_sockets(ended)
    if closed:
        log.info("closed %d websocket(s) of user %d: %s", closed, ended.user_id, ended.reason)

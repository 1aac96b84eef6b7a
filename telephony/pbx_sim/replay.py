"""Replaying a capture: the events a real Asterisk sent, byte for byte, without the answers to
the capture's own actions."""

from __future__ import annotations

from pathlib import Path

from telephony.pbx_sim.wire import parse_message, split_messages

# Events that belong to the answer of a list action (QueueStatus, Status, ...).
LIST_EVENTS = frozenset({
    "QueueParams", "QueueMember", "QueueEntry", "QueueStatusComplete", "QueueSummary",
    "QueueSummaryComplete", "Status", "StatusComplete", "CoreShowChannel",
    "CoreShowChannelsComplete",
})  # fmt: skip


def capture_events(path: Path) -> list[bytes]:
    """The capture's events after the login answer, each with its closing blank line.

    Responses (login, the capture's actions, the final Goodbye) are left out, and so are list
    items answering the capture's own actions, found through `<name>.sent.txt` when present.
    """
    own_ids = _list_action_ids(path)
    events = []
    for raw in split_messages(path.read_bytes()):
        fields = parse_message(raw)
        if not fields or fields[0][0] != "Event":
            continue
        action_id = dict(fields).get("ActionID")
        if action_id and (action_id in own_ids if own_ids else fields[0][1] in LIST_EVENTS):
            continue
        events.append(raw)
    return events


def _list_action_ids(path: Path) -> set[str]:
    """ActionIDs of the capture's own actions, except Originate (its OriginateResponse is an
    ordinary event every client receives)."""
    sent = path.with_name(path.name.removesuffix(".txt") + ".sent.txt")
    if not sent.exists():
        return set()
    ids = set()
    for raw in split_messages(sent.read_bytes()):
        fields = dict(parse_message(raw))
        if fields.get("ActionID") and fields.get("Action", "").lower() != "originate":
            ids.add(fields["ActionID"])
    return ids

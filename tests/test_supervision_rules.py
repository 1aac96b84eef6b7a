"""Supervisors on the floor, the parts without a PBX (issue 17): the spy call's Originate
fields are safe to hand to the dialplan, a resync adopts no spy call, and what a supervisor may
do to an agent's state."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from crm.agents.models import AgentStatus
from crm.agents.states import check_supervisor_change
from telephony.channels import AgentDirectory
from telephony.supervision import SpyCall, SpyMode, is_spy_event
from telephony.tracker import CallTracker


def test_a_resync_adopts_no_spy_call() -> None:
    """CoreShowChannels while a supervisor listens: the agent's call is adopted, the spy
    channel is not (it would become a call of its own, and a stored one)."""
    at = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
    tracker = CallTracker(AgentDirectory())

    def channel(name: str, uniqueid: str, linkedid: str, **more: str) -> dict[str, str]:
        return {"Event": "CoreShowChannel", "Channel": name, "Uniqueid": uniqueid,
                "Linkedid": linkedid, "Duration": "00:00:20", **more}  # fmt: skip

    tracker.resync(
        [
            channel("PJSIP/trunk-00000000", "1796600000.0", "1796600000.0", BridgeId="b1"),
            channel("PJSIP/1001-00000001", "1796600000.1", "1796600000.0", BridgeId="b1"),
            channel("PJSIP/2001-00000002", "cc-spy-1", "cc-spy-1", Application="ChanSpy"),
        ],
        at,
    )
    assert [r.linkedid for r in tracker.live_calls()] == ["1796600000.0"]
    assert [linkedid for linkedid, _, _ in tracker.adopted] == ["1796600000.0"]


def test_a_spy_call_carries_only_digits_and_a_plain_caller_id() -> None:
    call = SpyCall.of(
        phone="PJSIP/2001", agent_extension="1001", agent_name='王"丽"<x>\r\n', mode=SpyMode.BARGE
    )
    assert (call.caller_id, call.mode) == ('"王丽x" <1001>', "barge")
    assert call.channel_id.startswith("cc-spy-") and len(call.channel_id) <= 149
    assert SpyCall.from_fields(call.fields()) == call
    for bad in ("1001,B", "", "1001)", "PJSIP/1001"):
        with pytest.raises(ValueError):
            SpyCall.of(phone="PJSIP/2001", agent_extension=bad, agent_name="x", mode=SpyMode.LISTEN)
    forged = {**call.fields(), "channel_id": "1796600000.5"}  # not a spy leg: never tracked out
    with pytest.raises(ValueError):
        SpyCall.from_fields(forged)
    with pytest.raises(ValueError):
        SpyCall.from_fields({**call.fields(), "phone": "PJSIP/2001\r\nAction: Originate"})


def test_spy_events_are_told_by_their_ids_or_their_originate_context() -> None:
    assert is_spy_event({"Event": "Newchannel", "Uniqueid": "cc-spy-1", "Linkedid": "cc-spy-1"})
    assert is_spy_event({"Event": "DialBegin", "DestLinkedid": "cc-spy-1"})
    assert is_spy_event(
        {"Event": "OriginateResponse", "Context": "cc-spy", "Uniqueid": "<unknown>"}
    )
    assert not is_spy_event({"Event": "Hangup", "Uniqueid": "17.1", "Linkedid": "17.0"})
    assert not is_spy_event({"Event": "OriginateResponse", "Context": "callback"})


@pytest.mark.parametrize(
    ("current", "target", "code"),
    [
        (AgentStatus.READY, AgentStatus.PAUSED, None),
        (AgentStatus.WRAPUP, AgentStatus.PAUSED, None),
        (AgentStatus.PAUSED, AgentStatus.PAUSED, None),  # another reason
        (AgentStatus.LOGGED_OUT, AgentStatus.PAUSED, "agent_logged_out"),
        (AgentStatus.PAUSED, AgentStatus.READY, None),
        (AgentStatus.WRAPUP, AgentStatus.READY, None),
        (AgentStatus.READY, AgentStatus.READY, "agent_not_paused"),
        (AgentStatus.LOGGED_OUT, AgentStatus.READY, "agent_not_paused"),  # never logs one in
        (AgentStatus.READY, AgentStatus.LOGGED_OUT, None),
        (AgentStatus.LOGGED_OUT, AgentStatus.LOGGED_OUT, None),
        (AgentStatus.READY, AgentStatus.WRAPUP, "wrapup_is_automatic"),
    ],
)
def test_what_a_supervisor_may_do_to_an_agent(
    current: AgentStatus, target: AgentStatus, code: str | None
) -> None:
    problems = check_supervisor_change(current, target)
    assert [p.code for p in problems] == ([code] if code else [])

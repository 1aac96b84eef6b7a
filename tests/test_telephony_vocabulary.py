"""The closed sets the PBX speaks in are enums, each value the wire's own: the tracker maps
every one it can be given, the simulator writes the same ones, and records carrying them cross
processes (the events stream, the browser's JSON) as the plain words and numbers they were."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from crm.calls.models import CallOutcome, Direction, HungUpBy
from telephony.ami.vocabulary import DeviceState, DialStatus, HangupCause, OriginateReason
from telephony.events import (
    AgentRinging,
    CallEnded,
    CallRecord,
    QueueMemberChanged,
    RingStopped,
    RingStopReason,
)
from telephony.pbx_sim.devices import FAILURES, Reaction
from telephony.queues import QueueMembers
from telephony.tracker import (
    DIAL_OUTCOMES,
    DIAL_STATUS_CAUSES,
    ORIGINATE_OUTCOMES,
    ORIGINATE_REASON_CAUSES,
    CallTracker,
)
from web.catalogues import LANGUAGES, catalogue
from web.runtime.codec import decode, encode

ROOT = Path(__file__).resolve().parents[1]
AT = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)


def test_every_originate_reason_has_its_outcome() -> None:
    assert set(ORIGINATE_OUTCOMES) == set(OriginateReason)
    assert set(ORIGINATE_REASON_CAUSES) <= set(OriginateReason)


@pytest.mark.parametrize(
    ("reason", "outcome", "cause"),
    [
        ("0", CallOutcome.FAILED, None),
        ("1", CallOutcome.FAILED, None),
        ("3", CallOutcome.NO_ANSWER, HangupCause.NO_ANSWER),
        ("5", CallOutcome.BUSY, HangupCause.USER_BUSY),
        ("8", CallOutcome.CONGESTION, HangupCause.NORMAL_CIRCUIT_CONGESTION),
        ("14", CallOutcome.FAILED, None),  # a reason this version does not know: no answer
    ],
)
def test_a_refused_originate_gets_the_outcome_its_reason_says(
    reason: str, outcome: CallOutcome, cause: HangupCause | None
) -> None:
    tracker = CallTracker()
    tracker.expect_originate("dial-1", attempt_id=7, dialed="13900139000")
    response = {
        "Event": "OriginateResponse",
        "ActionID": "dial-1",
        "Response": "Failure",
        "Channel": "PJSIP/13900139000@trunk",
        "Reason": reason,
        "Uniqueid": "<unknown>",
    }
    [record] = [e.record for e in tracker.feed(response, AT) if isinstance(e, CallEnded)]
    assert record.outcome is outcome and record.hangup_cause == cause
    assert record.direction is Direction.OUTBOUND and record.attempt_id == 7


def test_dial_statuses_map_to_outcomes_and_causes_from_the_vocabulary() -> None:
    assert set(DIAL_OUTCOMES) <= set(DialStatus)
    assert set(DIAL_STATUS_CAUSES) <= set(DialStatus)
    assert all(isinstance(cause, HangupCause) for cause in DIAL_STATUS_CAUSES.values())


def test_the_dialplan_hangs_up_with_the_causes_the_tracker_reads_back() -> None:
    """asterisk-conf's `dialstatus-<DIALSTATUS>` extensions end a failed outside leg with the
    Q.850 cause the tracker infers from the same dial status."""
    conf = (ROOT / "asterisk-conf" / "extensions.conf").read_text(encoding="utf-8")
    found = re.findall(r"^exten => dialstatus-([A-Z]+),1,Hangup\((\d+)\)", conf, re.MULTILINE)
    assert found, "no dialstatus-* extensions in extensions.conf"
    for status, cause in found:
        assert DIAL_STATUS_CAUSES[DialStatus(status)] == int(cause), status


@pytest.mark.parametrize("reaction", [r for r in Reaction if r is not Reaction.ANSWER])
def test_the_simulators_failures_read_back_as_the_outcome_they_imitate(
    reaction: Reaction,
) -> None:
    """Each way the simulator fails a call says the same thing in its dial status and its
    Originate reason, in the words the tracker reads."""
    failure = FAILURES[reaction]
    by_dial = DIAL_OUTCOMES[failure.dial_status]
    assert ORIGINATE_OUTCOMES[failure.originate_reason] is by_dial
    expected = {
        Reaction.BUSY: CallOutcome.BUSY,
        Reaction.CONGESTION: CallOutcome.CONGESTION,
        Reaction.UNREACHABLE: CallOutcome.FAILED,
        Reaction.NO_ANSWER: CallOutcome.NO_ANSWER,
    }
    assert by_dial is expected[reaction]


def test_every_ring_stop_reason_the_console_can_show_is_worded_in_both_languages() -> None:
    for language in LANGUAGES:
        worded = {
            key.removeprefix("ring_stop.")
            for key in catalogue(language)
            if key.startswith("ring_stop.")
        }
        assert {r.value for r in RingStopReason} - {RingStopReason.UNKNOWN} <= worded, language


def test_a_record_with_enums_crosses_processes_as_plain_words() -> None:
    record = CallRecord(
        "1.1",
        Direction.OUTBOUND,
        AT,
        dialed="13900139000",
        outcome=CallOutcome.BUSY,
        hung_up_by=HungUpBy.PBX,
        hangup_cause=HangupCause.USER_BUSY,
        ended_at=AT + timedelta(seconds=3),
        attempt_id=7,
    )
    entry = encode(CallEnded(record), "id-1")
    data = json.loads(entry["data"])["record"]
    assert (data["direction"], data["outcome"], data["hung_up_by"]) == ("outbound", "busy", "pbx")
    assert data["hangup_cause"] == 17
    _, decoded = decode(entry, arrived=0.0)
    assert isinstance(decoded, CallEnded) and decoded == CallEnded(record)
    assert type(decoded.record.direction) is Direction
    assert type(decoded.record.outcome) is CallOutcome
    assert type(decoded.record.hung_up_by) is HungUpBy
    # What a browser is sent of it (web/pops.py's `ended`) reads the same.
    assert json.dumps({"outcome": decoded.record.outcome}) == '{"outcome": "busy"}'


def test_ring_events_cross_processes_with_their_words() -> None:
    ringing = AgentRinging("1.1", "PJSIP/1001", "1001", "138", None, Direction.INBOUND, AT)
    stopped = RingStopped("1.1", "PJSIP/1001", "1001", RingStopReason.CALLER_HUNG_UP, AT)
    for event, key, word in (
        (ringing, "direction", "inbound"),
        (stopped, "reason", "caller_hung_up"),
    ):
        entry = encode(event)
        assert json.loads(entry["data"])[key] == word
        _, decoded = decode(entry, arrived=0.0)
        assert getattr(decoded, key) is getattr(event, key)


def test_a_queue_members_device_state_is_its_number_on_the_wire() -> None:
    members = QueueMembers()
    fields = {"Event": "QueueMemberStatus", "Queue": "service", "Interface": "PJSIP/1001"}
    member = members.apply({**fields, "Status": "6"})
    assert member is not None and member.status is DeviceState.RINGING
    entry = encode(QueueMemberChanged(member))
    assert json.loads(entry["data"])["member"]["status"] == 6
    _, decoded = decode(entry, arrived=0.0)
    assert isinstance(decoded, QueueMemberChanged) and decoded.member.status is DeviceState.RINGING
    # A state this version does not know is Asterisk's UNKNOWN, never an error.
    strange = members.apply({**fields, "Status": "42"})
    assert strange is not None and strange.status is DeviceState.UNKNOWN
    gone = members.apply({**fields, "Event": "QueueMemberRemoved", "Status": "1"})
    assert gone is not None and gone.status is DeviceState.UNAVAILABLE

"""What a real Asterisk 22.10.1 running our own dialplan showed (the shared captures), and what
the product must conclude from it: a call is answered when an agent answers it, calls lost for
want of an agent are the PBX's doing, an answered callback has its times, a call that never
connected has nothing to record or transcribe.

Where a scenario was not captured as such (a queue timeout, congestion, a no-answer, a number
the PBX cannot even dial), the nearest capture is rewritten the way Asterisk would have sent
it, header by header, and the rewrite is named in the test.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from panoramisk.message import Message
from sqlalchemy import select

from crm.callbacks.models import Outcome
from crm.calls.models import Call, CallOutcome
from crm.calls.stats import CountedCall, queue_stats
from crm.db import Database
from crm.transcripts.models import TranscriptionJob
from telephony.ami.framing import read_capture
from telephony.attempt_outcomes import attempt_outcome
from telephony.call_store import CallStore
from telephony.events import CallEnded, CallRecord
from telephony.tracker import CallTracker
from tests.conftest import FIXTURES

START = datetime(2026, 12, 6, 11, 18, tzinfo=UTC)
INBOUND = [
    "inbound_queue_answered",
    "inbound_answered_first_abandoned",
    "inbound_joinempty",
    "pbx_core_stop_and_login_during_shutdown",
]
CALLS = [*INBOUND, "live_call_queries", "outbound_callback_dial_bridged", "callback_busy",
         "callback_agent_first_answered"]  # fmt: skip


def _messages(name: str) -> list[Message]:
    return list(read_capture((FIXTURES / f"{name}.txt").read_bytes()))


Timeline = Sequence[tuple[Callable[[Message], bool], float]]


def _fold(messages: list[Message], timeline: Timeline = ()) -> tuple[list[CallRecord], list]:
    """The tracker's calls and events, messages 1 ms apart, except that the first message
    matching each (predicate, seconds) of the timeline arrives that many seconds after START
    (the capture has no timestamps; the fixtures README gives the scenario's real times)."""
    tracker, events = CallTracker(), []
    at, pending = START, list(timeline)
    for message in messages:
        at += timedelta(milliseconds=1)
        if pending and pending[0][0](message):
            at = max(at, START + timedelta(seconds=pending.pop(0)[1]))
        if "Event" in message:
            events += tracker.feed(message, at)
    assert not pending, "the timeline names an event the capture lacks"
    return tracker.recent_calls() + tracker.live_calls(), events


def _record(messages: list[Message], timeline: Timeline = ()) -> CallRecord:
    [record], _ = _fold(messages, timeline)
    return record


def _is(event: str, **headers: str) -> Callable[[Message], bool]:
    return lambda m: m.get("Event") == event and all(m.get(k) == v for k, v in headers.items())


def _rewritten(name: str, **changes: dict[str, str]) -> list[Message]:
    """The capture with some headers replaced: {header: {old value: new value}}."""
    out = []
    for message in _messages(name):
        data = dict(message)
        for header, mapping in changes.items():
            if data.get(header) in mapping:
                data[header] = mapping[data[header]]
        out.append(Message(data))
    return out


# -- 1. answered means an agent answered --------------------------------------------------


@pytest.mark.parametrize("name", CALLS)
def test_a_call_is_answered_only_when_an_agent_and_the_customer_are_connected(name: str) -> None:
    for record in _fold(_messages(name))[0]:
        answered = record.outcome == "answered"
        assert (record.answered_at is not None) == answered, record
        assert (record.talk_seconds is not None) == answered, record
        if not answered:  # MixMonitor(b) wrote header-only files: nothing is kept
            assert (record.recording, record.recording_agent, record.recording_customer) == (
                None, None, None,
            )  # fmt: skip


def test_the_wallboard_counts_the_captured_calls_as_they_ended() -> None:
    """One answered, two abandoned, one refused for want of an agent: the wallboard once said
    answered 4, abandoned 0, service level 100%."""
    facts = []
    for name in INBOUND:
        for r in _fold(_messages(name))[0]:
            facts.append(
                CountedCall(
                    r.linkedid,
                    r.started_at,
                    queue=r.queue,
                    answered_at=r.answered_at,
                    ended_at=r.ended_at,
                    outcome=r.outcome,
                    wait_seconds=r.wait_seconds,
                    talk_seconds=r.talk_seconds,
                )
            )
    [service] = queue_stats(facts, threshold_seconds=15)
    assert (service.queue, service.offered, service.answered, service.abandoned) == (
        "service", 4, 1, 2,
    )  # fmt: skip
    assert (service.no_agent, service.timed_out) == (1, 0)
    # answered within 15 s / (offered − abandoned within 15 s) = 1 / (4 − 2)
    assert service.service_level == 50.0
    assert service.abandon_rate == 50.0


def test_statistics_follow_the_outcome_even_for_rows_stored_before_the_fix() -> None:
    """Rows written by the old tracker carry the PBX's Answer() as `answered_at`."""
    old = CountedCall("x", START, queue="service", answered_at=START, ended_at=START,
                    outcome=CallOutcome.ABANDONED, wait_seconds=6)  # fmt: skip
    [stats] = queue_stats([old], threshold_seconds=15)
    assert (stats.answered, stats.abandoned) == (0, 1)
    assert old.talk(START) == 0.0


# -- 4. an answered agent-first callback has its times --------------------------------------

CALLBACK_TIMES: Timeline = [
    # The fixtures README: the agent answers, the customer answers after ~3 s, talks ~15 s.
    (_is("Newchannel", Channel="Local/13911150015@customers-00000007;1"), 2.0),
    (_is("DialEnd", DestChannel="Local/13911150015@customers-00000007;1", DialStatus="ANSWER"),
     5.0),
    (_is("SoftHangupRequest", Channel="Local/13911150015@customers-00000007;2"), 20.0),
]  # fmt: skip


def test_an_answered_agent_first_callback_has_its_talk_ring_and_wait_times() -> None:
    records, events = _fold(_messages("callback_agent_first_answered"), CALLBACK_TIMES)
    [record] = records
    assert (record.outcome, record.hung_up_by) == ("answered", "customer")
    assert record.answered_at == START + timedelta(seconds=5)  # the customer picked up
    assert (record.talk_seconds, record.ring_seconds, record.wait_seconds) == (15.0, 3.0, 0.0)
    [ended] = [e for e in events if isinstance(e, CallEnded)]
    assert ended.record.talk_seconds == 15.0  # what the websocket's `ended` message carries


# -- 5. a call that never connected has no recording and no transcription job -------------


@pytest.mark.parametrize("database_url", ["sqlite", "postgresql"], indirect=True)
async def test_only_connected_calls_are_stored_with_recordings_and_queued(db: Database) -> None:
    store = CallStore(db, pbx_id="default")
    records = [r for name in CALLS for r in _fold(_messages(name))[0]]
    await store.write(records)
    async with db.session() as session:
        calls = {c.linkedid: c for c in await session.scalars(select(Call))}
        queued = set(
            await session.scalars(
                select(Call.linkedid).join(TranscriptionJob, TranscriptionJob.call_id == Call.id)
            )
        )
    answered = {r.linkedid for r in records if r.outcome == "answered"}
    recorded_legs = {k for k, c in calls.items() if c.recording_agent or c.recording_customer}
    assert queued == recorded_legs & answered == {"1796584728.12"}
    for linkedid, call in calls.items():
        if linkedid not in answered:
            assert (call.answered_at, call.recording, call.recording_agent) == (None,) * 3


# -- 6. nobody logged in: the PBX refused the caller ---------------------------------------


def test_nobody_staffed_is_a_call_lost_for_want_of_an_agent_hung_up_by_the_pbx() -> None:
    record = _record(_messages("inbound_joinempty"))
    assert (record.outcome, record.hung_up_by, record.queue) == ("no_agent", "pbx", "service")
    assert record.wait_seconds == 0.0 and record.agents_rung == ()


def test_a_queue_timeout_is_not_an_abandon() -> None:
    """Rewrite: the queue gave up at its timeout. Asterisk still sends QueueCallerAbandon
    (queue_log EXITWITHTIMEOUT), then QUEUESTATUS=TIMEOUT, and the dialplan hangs up."""
    messages = _messages("inbound_answered_first_abandoned")
    leave = next(i for i, m in enumerate(messages) if m.get("Event") == "QueueCallerLeave")
    caller = messages[leave]
    messages.insert(
        leave + 1,
        Message(
            {
                "Event": "VarSet",
                "Channel": caller["Channel"],
                "Uniqueid": caller["Uniqueid"],
                "Linkedid": caller["Linkedid"],
                "Variable": "QUEUESTATUS",
                "Value": "TIMEOUT",
            }
        ),
    )
    record = _record(messages)
    assert (record.outcome, record.hung_up_by, record.wait_seconds) == ("no_answer", "pbx", 6)
    assert record.answered_at is None


# -- 7. the smaller ones --------------------------------------------------------------------


def test_congestion_is_its_own_attempt_outcome_with_its_cause() -> None:
    """Rewrite of callback_busy: the network said congestion instead of busy."""
    messages = _rewritten(
        "callback_busy",
        DialStatus={"BUSY": "CONGESTION"},
        Reason={"5": "8"},
        Cause={"17": "34"},
        ChannelStateDesc={"Busy": "Up"},
    )
    record = _record(messages)
    assert (record.outcome, record.hangup_cause) == ("congestion", 34)
    assert attempt_outcome(_with_attempt(record)) is Outcome.CONGESTION


def test_a_no_answer_reports_the_no_answer_cause() -> None:
    """Rewrite of callback_busy: the customer's phone rang out (a cancelled Local leg says
    cause 0 on both halves; the dial status says no answer)."""
    messages = _rewritten(
        "callback_busy", DialStatus={"BUSY": "NOANSWER"}, Reason={"5": "3"}, Cause={"17": "0"}
    )
    record = _record(messages)
    assert (record.outcome, record.hangup_cause) == ("no_answer", 19)
    assert attempt_outcome(_with_attempt(record)) is Outcome.NO_ANSWER


def test_a_number_the_pbx_cannot_dial_still_names_the_number() -> None:
    """Rewrite of callback_agent_first_answered: Dial() could not even create the customer's
    channel (no DialBegin, no customer legs, no bridge); the agent's leg hangs up."""
    customer = "Local/13911150015@customers-00000007"
    messages = [
        m
        for m in _messages("callback_agent_first_answered")
        if not str(m.get("Channel", "")).startswith(customer)
        and not str(m.get("DestChannel", "")).startswith(customer)
        and m.get("Event") not in ("BridgeCreate", "BridgeEnter", "BridgeLeave", "BridgeDestroy")
    ]
    record = _record(messages)
    assert (record.dialed, record.customer_number) == ("13911150015", "13911150015")
    assert record.outcome == "failed" and record.answered_at is None


def test_a_failed_originate_without_a_channel_names_the_number_it_was_for() -> None:
    """Agent first, the number is the Originate's Exten; customer first, the dial string's."""
    tracker = CallTracker()
    for channel, exten, number in (
        ("PJSIP/1001", "13911150015", "13911150015"),
        ("PJSIP/13700137000@carrier", "s", "13700137000"),
    ):
        [*_, ended] = tracker.feed(
            Message(
                {
                    "Event": "OriginateResponse",
                    "Response": "Failure",
                    "ActionID": f"x-{number}",
                    "Channel": channel,
                    "Context": "callback",
                    "Exten": exten,
                    "Reason": "0",
                    "Uniqueid": "<unknown>",
                }
            ),
            START,
        )
        assert isinstance(ended, CallEnded)
        assert (ended.record.dialed, ended.record.outcome) == (number, "failed")


def _with_attempt(record: CallRecord) -> CallRecord:
    return replace(record, attempt_id=7)


# -- queue members that are Local channels (FreePBX's Local/<ext>@from-queue/n, ours) ------


def _member_rings_its_phone(messages: list[Message]) -> list[Message]:
    """Rewrite of inbound_queue_answered: the member Local/1001@agents/n is a chain, as on a
    site where the member context Dial()s the agent's softphone (our [agents], FreePBX's
    from-queue): its ;2 half dials PJSIP/1001, which answers, and hangs up with it."""
    half = {"Channel": "Local/1001@agents-00000002;2", "Uniqueid": "1795438127.5"}
    phone = {"Channel": "PJSIP/1001-0000000a", "Uniqueid": "1795438127.9"}
    linked = {"Linkedid": "1795438127.0"}
    dest = {"DestChannel": phone["Channel"], "DestUniqueid": phone["Uniqueid"]}
    out: list[Message] = []
    for message in messages:
        event, channel = message.get("Event"), message.get("Channel")
        if event == "Newstate" and channel == half["Channel"]:  # before the half answers
            out += [
                Message({"Event": "Newchannel", **phone, **linked, "CallerIDNum": "1001"}),
                Message({"Event": "DialBegin", **half, **linked, **dest, "DialString": "1001"}),
                Message({"Event": "DialEnd", **half, **linked, **dest, "DialStatus": "ANSWER"}),
            ]
        if event == "Hangup" and channel == half["Channel"]:
            out.append(Message({"Event": "Hangup", **phone, **linked, "Cause": "16"}))
        out.append(message)
        if event == "BridgeEnter" and channel == "Local/1001@agents-00000002;1":
            bridge = {"BridgeUniqueid": "b-phone"}  # the half and the phone, bridged apart
            out += [
                Message({"Event": "BridgeEnter", **half, **linked, **bridge}),
                Message({"Event": "BridgeEnter", **phone, **linked, **bridge}),
            ]
    return out


def _agent_first_through_a_local_member(messages: list[Message]) -> list[Message]:
    """Rewrite of callback_agent_first_answered with the agent interface
    Local/1001@agents/n dialing the softphone: the agent's phone answers before the customer is
    even dialled, and is not the customer."""
    half = {"Channel": "Local/1001@agents-00000006;2", "Uniqueid": "1796584728.13"}
    phone = {"Channel": "PJSIP/1001-00000010", "Uniqueid": "1796584728.99"}
    linked = {"Linkedid": "1796584728.12"}
    dest = {"DestChannel": phone["Channel"], "DestUniqueid": phone["Uniqueid"]}
    out: list[Message] = []
    for message in messages:
        if message.get("Event") == "Newstate" and message.get("Channel") == half["Channel"]:
            out += [
                Message({"Event": "Newchannel", **phone, **linked}),
                Message({"Event": "DialBegin", **half, **linked, **dest, "DialString": "1001"}),
                Message({"Event": "DialEnd", **half, **linked, **dest, "DialStatus": "ANSWER"}),
            ]
        out.append(message)
    out.append(Message({"Event": "Hangup", **phone, **linked, "Cause": "16"}))
    return out


def test_an_agent_first_callback_through_a_local_member_waits_for_the_customer() -> None:
    plain = _record(_messages("callback_agent_first_answered"), CALLBACK_TIMES)
    chained = _record(
        _agent_first_through_a_local_member(_messages("callback_agent_first_answered")),
        CALLBACK_TIMES,
    )
    assert chained.answered_at == plain.answered_at == START + timedelta(seconds=5)
    assert (chained.outcome, chained.dialed, chained.ring_seconds, chained.talk_seconds) == (
        "answered", "13911150015", 3.0, 15.0,
    )  # fmt: skip


def test_a_member_that_dials_the_agents_phone_is_still_the_agent() -> None:
    plain = _record(_messages("inbound_queue_answered"))
    records, events = _fold(_member_rings_its_phone(_messages("inbound_queue_answered")))
    [chained] = records
    keys = ("outcome", "agent", "agent_extension", "customer_number", "hung_up_by", "talk_seconds")
    assert [getattr(chained, k) for k in keys] == [getattr(plain, k) for k in keys]
    assert chained.customer_number == "13800138000" and chained.agent_extension == "1001"
    rung = [e.interface for e in events if type(e).__name__ == "AgentRinging"]
    assert rung == ["Local/1002@agents/n", "Local/1001@agents/n"]  # the chain rings no one new


def test_the_pbx_checks_recording_test_call_is_nobodys_call() -> None:
    """`callcentre pbx check` originates Local/<digits>@cc-selftest: both halves report that
    context; neither the call nor a failed originate of it becomes a call record."""
    tracker = CallTracker()
    linked = {"Linkedid": "1796590000.1"}
    for half, uid in ((";1", "1796590000.1"), (";2", "1796590000.2")):
        channel = f"Local/1234567@cc-selftest-0000000f{half}"
        base = {"Channel": channel, "Uniqueid": uid, "Context": "cc-selftest", **linked}
        for event in ("Newchannel", "MixMonitorStart", "Hangup"):
            assert tracker.feed(Message({"Event": event, **base}), START) == []
    failed = {"Event": "OriginateResponse", "Response": "Failure", "Reason": "0",
              "Channel": "Local/1234567@cc-selftest", "Context": "cc-selftest", "Exten": "wait",
              "Uniqueid": "<unknown>", "ActionID": "check-1"}  # fmt: skip
    assert tracker.feed(Message(failed), START) == []
    assert tracker.live_calls() == tracker.recent_calls() == []


# -- from the project's own lab (tests/data/lab_ami: Asterisk 22.10.1 with PJSIP phones) ----

LAB = Path(__file__).parent / "data" / "lab_ami"


def _lab(name: str) -> list[Message]:
    return list(read_capture((LAB / f"{name}.txt").read_bytes()))


TRANSFER_TIMES: Timeline = [
    (_is("DialEnd", DestChannel="PJSIP/1001-00000001", DialStatus="ANSWER"), 5.0),
    (_is("BlindTransfer"), 8.0),
    (_is("DialEnd", DestChannel="PJSIP/1002-00000002", DialStatus="ANSWER"), 10.0),
    (_is("HangupRequest", Channel="PJSIP/carrier-00000000"), 17.0),
]


def test_a_blind_transfer_continues_the_call_with_the_next_agent() -> None:
    records, events = _fold(_lab("blind_transfer"), TRANSFER_TIMES)
    [record] = records
    assert (record.outcome, record.agent) == ("answered", "PJSIP/1001")  # who answered
    assert record.agents_connected == ("PJSIP/1001", "PJSIP/1002")
    # The customer ended it, 12 s after the first answer: the first agent's AgentComplete
    # (Reason: transfer, TalkTime 3) and hang-up are not the call's end.
    assert (record.hung_up_by, record.hangup_cause, record.talk_seconds) == ("customer", 16, 12.0)
    rung = [(e.extension, e.queue) for e in events if type(e).__name__ == "AgentRinging"]
    assert rung == [("1001", "service"), ("1002", "service")]  # the second agent is popped
    answered = [e.extension for e in events if type(e).__name__ == "CallAnswered"]
    assert answered == ["1001", "1002"]


def test_a_call_cut_by_a_pbx_restart_was_ended_by_the_pbx() -> None:
    first, after = _fold(_lab("pbx_restart_mid_call"))[0]
    assert (first.outcome, first.hung_up_by, first.hangup_cause) == ("answered", "pbx", 16)
    assert not first.end_inferred  # the PBX said so before it went
    assert (after.outcome, after.hung_up_by) == ("answered", "customer")
    assert first.linkedid != after.linkedid  # uniqueids restart, linkedids do not collide


def test_a_caller_still_queued_when_the_pbx_restarts_did_not_abandon() -> None:
    """Asterisk sends QueueCallerAbandon for a caller it cut itself (SoftHangupRequest with
    the SHUTDOWN flag): the PBX failed the call; nobody abandoned it."""
    [record] = _fold(_lab("pbx_restart_while_queued"))[0]
    assert (record.outcome, record.hung_up_by, record.answered_at) == ("failed", "pbx", None)
    [stats] = queue_stats(
        [CountedCall(record.linkedid, record.started_at, queue=record.queue,
                   ended_at=record.ended_at, outcome=record.outcome,
                   wait_seconds=record.wait_seconds)],
        threshold_seconds=15,
    )  # fmt: skip
    assert (stats.offered, stats.failed, stats.abandoned) == (1, 1, 0)

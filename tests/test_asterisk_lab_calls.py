"""The product against a real Asterisk 22 loaded with asterisk-conf/ (tests/lab): real SIP
phones (baresip) for the agents and the customers, real RTP audio, MixMonitor's real files.
Every figure asserted is measured from the phones, the recordings or the AMI, never assumed.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from crm.callbacks import service as callbacks
from crm.callbacks.models import CallbackAttempt, Outcome
from crm.callbacks.schedule import ScheduleRules
from crm.calls.models import Call, CallOutcome, Direction, HungUpBy
from crm.customers import service as customers
from crm.db import Database
from crm.projects import service as projects
from crm.projects.models import ProjectStatus
from crm.users import service as users
from tests.data.speech_audio import KOREAN_MODEL
from tests.lab.ami_tap import AmiTap
from tests.lab.audio import SILENCE_DBFS, Measure, measure
from tests.lab.desk import Desk
from tests.lab.lab import AMI_USER, Scene
from tests.lab.render import CARRIER_ACCOUNT
from tests.lab.scripts import GREETING, THANKS, quiet, spoken
from tests.lab.settings import CARRIER_ADDRESS
from tests.lab.sipp import SippCustomer
from tests.lab.system import ShiftedClock, lab_system
from tests.lab.truth import TrackerDisagreement, disagree
from tests.support.live import LiveServer

pytestmark = [
    pytest.mark.asterisk,
    pytest.mark.parametrize("database_url", ["sqlite"], indirect=True),
]


async def ended_call(system: LiveServer, linkedid: str, timeout: float = 20) -> Call:
    """The stored row of the call once the bridge has seen it end."""
    deadline = time.monotonic() + timeout
    while True:
        await system.bridge.drain()
        async with system.database.session() as session:
            call = await session.scalar(select(Call).where(Call.linkedid == linkedid))
        if call is not None and call.ended_at is not None:
            return call
        assert time.monotonic() < deadline, f"call {linkedid} not ended: {call}"
        await asyncio.sleep(0.1)


async def scored(qa: Any, call_id: int, timeout: float = 120) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        detail = (await qa.get(f"/api/qa/calls/{call_id}")).json()
        if detail["score"] is not None:
            return dict(detail)
        assert time.monotonic() < deadline, detail.get("job")
        await asyncio.sleep(0.5)


def words_of(transcript: list[dict[str, Any]]) -> list[tuple[str, float]]:
    return [(w["word"], float(w["start"])) for w in transcript]


def recorded(scene: Scene, file: str | None) -> Measure:
    """What the recording the call's row names holds (the row must name one)."""
    assert file is not None, "the call's row names no such recording"
    return measure(scene.lab.pbx.monitor_dir / Path(file).name)


async def test_inbound_call_with_speech_is_popped_recorded_transcribed_and_scored(
    scene: Scene, db: Database, tmp_path: Path
) -> None:
    scripts = tmp_path / "scripts"
    agent_script = spoken(scripts, "agent", GREETING, at=0.5, total=20)
    customer_script = spoken(scripts, "customer", THANKS, at=5.0, total=9)
    agent = await scene.agent("1001", agent_script)
    caller = await scene.customer("13800138000", customer_script)
    async with db.session() as session:
        customer = await customers.create(session, name="王建国", phones=["13800138000"])
    async with lab_system(
        scene.lab, db, vosk_model_path=KOREAN_MODEL, transcription_workers=1
    ) as system:
        desk = await Desk.open(system, "agent1")
        qa = await system.login("supervisor")
        await desk.ready()
        assert "PJSIP/1001" in scene.lab.queue_members("service")

        dialled = time.monotonic()
        await caller.dial(scene.inbound_uri())
        established, _ = await caller.wait_event("CALL_ESTABLISHED")  # the PBX's Answer()
        ringing, _ = await agent.wait_event("CALL_INCOMING")
        popped, pop = await desk.wait_for("pop")
        await asyncio.sleep(2.0)  # the agent lets it ring
        answered = await agent.accept()
        hung_up, closed = await caller.wait_event("CALL_CLOSED", timeout=20)
        assert closed["param"] == "end of file"  # the customer finished speaking and hung up

        linkedid = pop["call"]["linkedid"]
        assert popped < answered, "the pop must reach the agent before the phone is answered"
        assert pop["customer"]["id"] == customer.id and pop["call"]["queue"] == "service"

        call = await ended_call(system, linkedid)
        assert (call.direction, call.outcome) == (Direction.INBOUND, CallOutcome.ANSWERED)
        assert call.customer_id == customer.id and call.customer_number == "13800138000"
        assert call.agent_interface == "PJSIP/1001" and call.queue == "service"
        assert call.hung_up_by is HungUpBy.CUSTOMER and call.hangup_cause == 16
        assert call.answered_at is not None and call.ended_at is not None

        # Each leg carries its own speaker, from the moment they were bridged.
        agent_leg = recorded(scene, call.recording_agent)
        customer_leg = recorded(scene, call.recording_customer)
        mixed = recorded(scene, call.recording)
        customer_speaks = customer_script.speech_at - (answered - established)
        # baresip notices the end of its WAV within a second; Asterisk counts whole seconds.
        assert agent_leg.seconds == pytest.approx(hung_up - answered, abs=1.2)
        assert call.talk_seconds == pytest.approx(agent_leg.seconds, abs=1.0)
        assert call.ring_seconds == pytest.approx(answered - ringing, abs=1.0)
        assert call.wait_seconds == pytest.approx(answered - established, abs=1.0)
        assert agent_leg.first_sound() == pytest.approx(agent_script.speech_at, abs=0.3)
        assert customer_leg.first_sound() == pytest.approx(customer_speaks, abs=0.4)
        assert agent_leg.rms_dbfs > -35 and customer_leg.rms_dbfs > -35
        assert agent_leg.level_between(customer_speaks, customer_speaks + 1) < SILENCE_DBFS
        assert customer_leg.level_between(0.5, 1.5) < SILENCE_DBFS
        assert mixed.heard_seconds >= agent_leg.heard_seconds + customer_leg.heard_seconds - 0.3
        # What each phone heard is what the other one said.
        [heard_by_agent] = agent.heard()
        assert measure(heard_by_agent).heard_seconds >= customer_leg.heard_seconds - 0.3

        detail = await scored(qa, call.id)
        agent_words = words_of(detail["transcript"]["agent"])
        customer_words = words_of(detail["transcript"]["customer"])
        assert agent_words and customer_words, detail["transcript"]
        assert agent_words[0][1] == pytest.approx(agent_script.speech_at, abs=0.5)
        assert customer_words[0][1] == pytest.approx(customer_speaks, abs=0.5)
        assert detail["score"]["max"] > 0 and detail["score"]["score"] is not None
        print(
            f"\nlab inbound: ring {call.ring_seconds:.2f} s, talk {call.talk_seconds:.2f} s;"
            f" agent leg {agent_leg.seconds:.2f} s {agent_leg.rms_dbfs:.1f} dBFS"
            f" speech {agent_leg.spans}; customer leg {customer_leg.rms_dbfs:.1f} dBFS"
            f" speech {customer_leg.spans}; words agent {agent_words} customer {customer_words};"
            f" score {detail['score']['score']}/{detail['score']['max']};"
            f" pop {answered - popped:.2f} s before the answer, dial→ring {ringing - dialled:.2f} s"
        )
        await desk.close()
        await qa.aclose()


# -- callbacks and campaigns: the PBX dials out through the carrier -------------------------

MONDAY_MORNING = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai


async def _task(db: Database, name: str, phone: str) -> int:
    """A renovation project whose mid-term callback is due (on MONDAY_MORNING)."""
    async with db.session() as session:
        customer = await customers.create(session, name=name, phones=[phone])
        project = await projects.create(
            session,
            customer=customer,
            contract_number=f"XA-{phone}",
            rules=ScheduleRules(window_days=3, post_completion_months=0),
            status=ProjectStatus.IN_PROGRESS,
            start_date=date(2026, 10, 10),
            concealed_works_date=date(2026, 10, 30),
            midterm_date=date(2026, 11, 22),
        )
        tasks = await callbacks.get_for_project(session, project.id)
        return next(t.id for t in tasks if t.stage.value == "midterm")


async def _attempt(system: LiveServer, attempt_id: int, timeout: float = 15) -> CallbackAttempt:
    deadline = time.monotonic() + timeout
    while True:
        await system.bridge.drain()
        await system.services.bus.drain()
        async with system.database.session() as session:
            attempt = await session.get(CallbackAttempt, attempt_id)
        assert attempt is not None
        if attempt.call_id is not None or attempt.outcome is not None:
            return attempt
        assert time.monotonic() < deadline, attempt
        await asyncio.sleep(0.1)


async def test_agent_first_callback_answered_by_the_customer(
    scene: Scene, db: Database, tmp_path: Path
) -> None:
    scripts = tmp_path / "scripts"
    agent = await scene.agent("1001", spoken(scripts, "agent", GREETING, at=4.0, total=30))
    customer_script = spoken(scripts, "customer", THANKS, at=2.0, total=7)
    customer = await scene.carrier("13900139000", customer_script)
    task_id = await _task(db, "李娜", "13900139000")
    async with lab_system(scene.lab, db) as system:
        client = await system.login("agent1")
        response = await client.post(
            "/api/calls/dial", json={"number": "139-0013-9000", "task_id": task_id}
        )
        assert response.status_code == 202, response.text
        attempt_id = response.json()["attempt_id"]
        await agent.wait_event("CALL_INCOMING")  # agent first
        await scene.reach_carrier()
        agent_answered = await agent.accept()
        rung, _ = await customer.wait_event("CALL_INCOMING")
        await asyncio.sleep(2.0)
        customer_answered = await customer.accept()
        hung_up, closed = await customer.wait_event("CALL_CLOSED", timeout=20)
        assert closed["param"] == "end of file"
        attempt = await _attempt(system, attempt_id)
        async with db.session() as session:
            call = await session.get(Call, attempt.call_id)
        assert call is not None
        call = await ended_call(system, call.linkedid)
        assert (call.direction, call.dialed, call.outcome) == (
            Direction.OUTBOUND, "13900139000", CallOutcome.ANSWERED,
        )  # fmt: skip
        assert call.agent_interface == "PJSIP/1001" and call.hung_up_by is HungUpBy.CUSTOMER
        agent_leg = recorded(scene, call.recording_agent)
        customer_leg = recorded(scene, call.recording_customer)
        assert call.ring_seconds == pytest.approx(customer_answered - rung, abs=1.0)
        assert call.talk_seconds == pytest.approx(agent_leg.seconds, abs=1.0)
        assert agent_leg.seconds == pytest.approx(hung_up - customer_answered, abs=1.2)
        # Recorded from the customer's answer: the agent's words 4 s after the agent answered.
        agent_speaks = 4.0 - (customer_answered - agent_answered)
        assert agent_leg.first_sound() == pytest.approx(agent_speaks, abs=0.4)
        assert customer_leg.first_sound() == pytest.approx(customer_script.speech_at, abs=0.4)
        print(
            f"\nlab agent-first: ring {call.ring_seconds} talk {call.talk_seconds}"
            f" wait {call.wait_seconds}; agent leg {agent_leg.spans} {agent_leg.rms_dbfs:.1f} dBFS,"
            f" customer leg {customer_leg.spans} {customer_leg.rms_dbfs:.1f} dBFS"
        )
        await client.aclose()


async def test_agent_first_callback_to_a_busy_customer(
    scene: Scene, db: Database, tmp_path: Path
) -> None:
    agent = await scene.agent("1001", quiet(tmp_path, "agent", total=30))
    customer = await scene.carrier("13700137000", quiet(tmp_path, "customer", total=5))
    task_id = await _task(db, "赵强", "13700137000")
    async with lab_system(scene.lab, db) as system:
        client = await system.login("agent1")
        response = await client.post(
            "/api/calls/dial", json={"number": "13700137000", "task_id": task_id}
        )
        attempt_id = response.json()["attempt_id"]
        await agent.wait_event("CALL_INCOMING")
        await scene.reach_carrier()
        await agent.accept()
        await customer.wait_event("CALL_INCOMING")
        await customer.hangup()  # 486 Busy Here
        _closed, _ = await agent.wait_event("CALL_CLOSED")
        attempt = await _attempt(system, attempt_id)
        async with db.session() as session:
            call = await session.get(Call, attempt.call_id)
        assert call is not None
        call = await ended_call(system, call.linkedid)
        assert (call.outcome, call.hangup_cause) == (CallOutcome.BUSY, 17)
        assert call.answered_at is None and call.talk_seconds is None
        assert (call.recording, call.recording_agent, call.recording_customer) == (None,) * 3
        await until_outcome(system, attempt_id, Outcome.BUSY)
        await client.aclose()


async def until_outcome(system: LiveServer, attempt_id: int, outcome: Outcome) -> None:
    deadline = time.monotonic() + 15
    while True:
        await system.services.bus.drain()
        async with system.database.session() as session:
            attempt = await session.get(CallbackAttempt, attempt_id)
        if attempt is not None and attempt.outcome is outcome:
            return
        assert time.monotonic() < deadline, attempt and attempt.outcome
        await asyncio.sleep(0.1)


async def _campaign(system: LiveServer) -> int:
    supervisor = await system.login("supervisor")
    created = await supervisor.post(
        "/api/campaigns",
        json={"name": "中期回访", "mode": "customer_first", "stages": ["midterm"],
              "max_concurrent": 1},
    )  # fmt: skip
    assert created.status_code == 201, created.text
    campaign_id = int(created.json()["id"])
    started = await supervisor.post(f"/api/campaigns/{campaign_id}/start")
    assert started.json()["status"] == "running", started.text
    await supervisor.aclose()
    return campaign_id


async def test_customer_first_campaign_call_answered_then_an_agent(
    scene: Scene, db: Database, tmp_path: Path
) -> None:
    scripts = tmp_path / "scripts"
    agent = await scene.agent("1001", spoken(scripts, "agent", GREETING, at=0.5, total=30))
    customer = await scene.carrier(
        "13600136000", spoken(scripts, "customer", THANKS, at=4.0, total=9)
    )
    await _task(db, "孙丽", "13600136000")
    clock = ShiftedClock(MONDAY_MORNING)
    async with lab_system(scene.lab, db, clock=clock, dialer_calls_per_second=5.0) as system:
        desk = await Desk.open(system, "agent1")
        await desk.ready()
        await scene.reach_carrier()
        await _campaign(system)
        _rung, _ = await customer.wait_event("CALL_INCOMING", timeout=20)  # customer first
        await asyncio.sleep(1.0)
        customer_answered = await customer.accept()
        ringing, _ = await agent.wait_event("CALL_INCOMING")  # then the callbacks queue
        popped, pop = await desk.wait_for("pop")
        await asyncio.sleep(1.0)
        agent_answered = await agent.accept()
        assert popped < agent_answered
        _hung_up, closed = await customer.wait_event("CALL_CLOSED", timeout=20)
        assert closed["param"] == "end of file"
        assert pop["call"]["direction"] == "outbound" and pop["call"]["attempt_id"]
        call = await ended_call(system, pop["call"]["linkedid"])
        assert (call.direction, call.outcome, call.queue) == (
            Direction.OUTBOUND, CallOutcome.ANSWERED, "callbacks",
        )  # fmt: skip
        assert call.dialed == "13600136000" and call.agent_interface == "PJSIP/1001"
        assert call.hung_up_by is HungUpBy.CUSTOMER
        assert call.wait_seconds == pytest.approx(agent_answered - customer_answered, abs=1.0)
        assert call.ring_seconds == pytest.approx(agent_answered - ringing, abs=1.0)
        agent_leg = recorded(scene, call.recording_agent)
        customer_leg = recorded(scene, call.recording_customer)
        assert call.talk_seconds == pytest.approx(agent_leg.seconds, abs=1.0)
        assert agent_leg.first_sound() == pytest.approx(0.5, abs=0.4)
        customer_speaks = 4.0 - (agent_answered - customer_answered)
        assert customer_leg.first_sound() == pytest.approx(customer_speaks, abs=0.4)
        print(
            f"\nlab customer-first: wait {call.wait_seconds} ring {call.ring_seconds}"
            f" talk {call.talk_seconds}; agent leg {agent_leg.spans}, customer {customer_leg.spans}"
        )
        await desk.close()


async def test_customer_first_campaign_call_not_answered(
    scene: Scene, db: Database, tmp_path: Path
) -> None:
    await scene.agent("1001", quiet(tmp_path, "agent", total=30))
    customer = await scene.carrier("13500135000", quiet(tmp_path, "customer", total=5))
    task_id = await _task(db, "周杰", "13500135000")
    clock = ShiftedClock(MONDAY_MORNING)
    async with lab_system(scene.lab, db, clock=clock, dialer_calls_per_second=5.0) as system:
        desk = await Desk.open(system, "agent1")
        await desk.ready()
        await scene.reach_carrier()
        await _campaign(system)
        rung, _ = await customer.wait_event("CALL_INCOMING", timeout=20)
        stopped, _ = await customer.wait_event("CALL_CLOSED", timeout=45)  # nobody answers
        async with db.session() as session:
            attempt = await session.scalar(
                select(CallbackAttempt).where(CallbackAttempt.task_id == task_id)
            )
        assert attempt is not None
        await until_outcome(system, attempt.id, Outcome.NO_ANSWER)
        await system.bridge.drain()
        async with db.session() as session:
            call = await session.scalar(select(Call).where(Call.dialed == "13500135000"))
        assert call is not None and call.outcome is CallOutcome.NO_ANSWER
        assert (call.direction, call.hangup_cause) == (Direction.OUTBOUND, 19)
        assert call.answered_at is None and call.recording is None
        print(f"\nlab no-answer: rang {stopped - rung:.1f} s, cause {call.hangup_cause}")
        await desk.close()


# -- on the floor: transfers, the PBX restarting ------------------------------------------


async def test_blind_transfer_by_the_agents_phone(
    scene: Scene, db: Database, tmp_path: Path
) -> None:
    scripts = tmp_path / "scripts"
    first = await scene.agent("1001", spoken(scripts, "first", GREETING, at=0.5, total=30))
    second = await scene.agent("1002", spoken(scripts, "second", GREETING, at=1.0, total=30))
    customer_script = spoken(scripts, "customer", THANKS, at=9.0, total=14)
    caller = await scene.customer("13800138000", customer_script)
    tap = AmiTap("127.0.0.1", scene.lab.settings.ports.ami, AMI_USER, scene.lab.ami_secret)
    await tap.start()
    async with lab_system(scene.lab, db) as system:
        desk = await Desk.open(system, "agent1")
        await desk.ready()
        await caller.dial(scene.inbound_uri())
        established, _ = await caller.wait_event("CALL_ESTABLISHED")
        await first.wait_event("CALL_INCOMING")
        _, pop = await desk.wait_for("pop")
        await asyncio.sleep(2.0)
        first_answered = await first.accept()
        await asyncio.sleep(3.0)
        transferred = time.monotonic()
        await first.transfer("1002")  # SIP REFER: blind transfer to agent 1002
        await second.wait_event("CALL_INCOMING")
        await asyncio.sleep(1.0)
        second_answered = await second.accept()
        await first.wait_event("CALL_CLOSED")  # the transfer succeeded: 1001 is free
        hung_up, closed = await caller.wait_event("CALL_CLOSED", timeout=20)
        assert closed["param"] == "end of file"
        linkedid = pop["call"]["linkedid"]
        call = await ended_call(system, linkedid)
        await tap.stop()
        [(_, transfer)] = tap.named("BlindTransfer")
        assert (transfer["TransfererChannel"].split("-")[0], transfer["Extension"]) == (
            "PJSIP/1001", "1002",
        )  # fmt: skip
        assert transfer["Result"] == "Success"
        assert (call.direction, call.outcome) == (Direction.INBOUND, CallOutcome.ANSWERED)
        assert call.agent_interface == "PJSIP/1001"  # who answered it
        agent_leg = recorded(scene, call.recording_agent)
        customer_leg = recorded(scene, call.recording_customer)
        # MixMonitor runs on the customer's channel: both agents are on the agents' leg, and
        # the customer's leg goes on after the transfer. `b` drops the time the customer was
        # not bridged (1002 ringing), so the files are that much shorter than the call.
        unbridged = second_answered - transferred
        # (Where the second greeting lands varies from run to run: 2.7 to 4.1 s for 4.0 s of
        # bridged time before it; MixMonitor does not keep the legs aligned across a transfer.)
        speech = [(s, e) for s, e in agent_leg.spans if e - s >= 0.2]
        assert len(speech) == 2 and speech[0][0] == pytest.approx(0.5, abs=0.4), speech
        assert speech[0][1] + 0.5 < speech[1][0] < transferred - first_answered + 1.5
        customer_speaks = customer_script.speech_at - (first_answered - established) - unbridged
        assert customer_leg.first_sound() == pytest.approx(customer_speaks, abs=0.6)
        talked = hung_up - first_answered
        assert agent_leg.seconds == pytest.approx(talked - unbridged, abs=1.5)
        print(
            f"\nlab transfer: agent leg {agent_leg.spans}, customer leg {customer_leg.spans};"
            f" stored hung_up_by {call.hung_up_by} talk {call.talk_seconds}, talked {talked:.1f}"
        )
        await desk.close()
        # The customer talked with an agent from the first answer to their own hang-up.
        disagree(call, {"hung_up_by": "customer", "hangup_cause": 16, "talk_seconds": talked})


async def test_pbx_restart_mid_call_then_the_next_call_works(
    scene: Scene, db: Database, tmp_path: Path
) -> None:
    scripts = tmp_path / "scripts"
    agent = await scene.agent("1001", spoken(scripts, "agent", GREETING, at=0.5, total=60))
    first = await scene.customer("13800138000", quiet(scripts, "first", total=60))
    second = await scene.customer("13900139000", spoken(scripts, "second", THANKS, at=3.0, total=6))
    tap = AmiTap("127.0.0.1", scene.lab.settings.ports.ami, AMI_USER, scene.lab.ami_secret)
    await tap.start()
    async with lab_system(scene.lab, db) as system:
        desk = await Desk.open(system, "agent1")
        await desk.ready()
        bridge = system.bridge
        await first.dial(scene.inbound_uri())
        await agent.wait_event("CALL_INCOMING")
        _, pop = await desk.wait_for("pop")
        await asyncio.sleep(1.0)
        answered = await agent.accept()
        await asyncio.sleep(3.0)
        restarted = time.monotonic()
        await asyncio.to_thread(scene.lab.pbx.restart_now)  # `core restart now`
        cut, _ = await first.wait_event("CALL_CLOSED", since=restarted)
        await agent.wait_event("CALL_CLOSED", since=restarted)
        call = await ended_call(system, pop["call"]["linkedid"])
        assert call.outcome is CallOutcome.ANSWERED and call.agent_interface == "PJSIP/1001"
        assert call.talk_seconds == pytest.approx(cut - answered, abs=1.2)
        # Asterisk cut it: the first SoftHangupRequest carries the SHUTDOWN flag (4).
        cuts = [m for m in tap.of_call(call.linkedid) if m.get("Event") == "SoftHangupRequest"]
        assert cuts and cuts[0].get("Cause") == "4"
        deadline = time.monotonic() + 20
        while not (bridge.client.connections >= 2 and bridge.settled):
            assert time.monotonic() < deadline, "the bridge did not come back"
            await asyncio.sleep(0.1)
        print(
            f"\nlab restart: stored hung_up_by {call.hung_up_by}, cause {call.hangup_cause},"
            f" inferred {call.end_inferred}, talk {call.talk_seconds}"
            f" (cut after {cut - answered:.1f} s)"
        )
        # The agent is a queue member again (persistentmembers, or the server's resync) and
        # registered again: the next caller reaches them.
        # The restored contact is not qualified yet: the member is Unavailable and
        # `joinempty` turns callers away until the first OPTIONS ping (qualify_frequency).
        assert scene.lab.member_state("service", "PJSIP/1001") == "Unavailable"
        deadline = time.monotonic() + 45
        while scene.lab.member_state("service", "PJSIP/1001") != "Not in use":
            state = scene.lab.member_state("service", "PJSIP/1001")
            assert time.monotonic() < deadline, f"1001 is not reachable in the queue: {state}"
            await asyncio.sleep(0.2)
        back = time.monotonic() - restarted
        since = time.monotonic()
        await second.dial(scene.inbound_uri())
        await agent.wait_event("CALL_INCOMING", since=since, timeout=20)
        await agent.accept()
        await second.wait_event("CALL_CLOSED", since=since, timeout=20)
        later = [m for _, m in desk.messages if m["type"] == "pop"][-1]
        after = await ended_call(system, later["call"]["linkedid"])
        assert after.outcome is CallOutcome.ANSWERED and after.linkedid != call.linkedid
        print(f"lab restart: the agent took calls again {back:.1f} s after the restart")
        await desk.close()
        await tap.stop()
        disagree(call, {"hung_up_by": "pbx", "end_inferred": False})


async def test_a_sipp_customer_plays_its_voice_pcap_to_the_agent(
    scene: Scene, db: Database, tmp_path: Path
) -> None:
    """SIPp as the customer (sip-tester's G.711 voice pcap), a baresip agent."""
    agent = await scene.agent("1001", quiet(tmp_path, "agent", total=60))
    ports = scene.lab.settings.ports
    caller = SippCustomer(
        "13700137001", CARRIER_ADDRESS, ports.carrier_sip + 300, ports.phone_rtp[1] - 40,
        tmp_path / "sipp",
    )  # fmt: skip
    async with lab_system(scene.lab, db) as system:
        desk = await Desk.open(system, "agent1")
        await desk.ready()
        call_task = asyncio.create_task(
            caller.call(scene.inbound_uri().split("@")[1], CARRIER_ACCOUNT, wait=1.5, talk=10.0)
        )
        await agent.wait_event("CALL_INCOMING")
        _, pop = await desk.wait_for("pop")
        answered = await agent.accept()  # at once: SIPp speaks 1.5 s after the PBX answered
        await call_task
        hung_up = time.monotonic()
        call = await ended_call(system, pop["call"]["linkedid"])
        assert (call.outcome, call.customer_number) == (CallOutcome.ANSWERED, "13700137001")
        assert call.hung_up_by is HungUpBy.CUSTOMER
        customer_leg = recorded(scene, call.recording_customer)
        agent_leg = recorded(scene, call.recording_agent)
        assert customer_leg.seconds == pytest.approx(hung_up - answered, abs=1.0)
        assert customer_leg.heard_seconds > 3.0 and customer_leg.rms_dbfs > -40
        assert agent_leg.first_sound() is None  # the agent's phone sent silence
        [heard] = agent.heard()
        assert measure(heard).heard_seconds >= customer_leg.heard_seconds - 0.5
        print(
            f"\nlab sipp: customer leg {customer_leg.seconds:.2f} s, {customer_leg.rms_dbfs:.1f}"
            f" dBFS, heard {customer_leg.heard_seconds:.1f} s, spans {customer_leg.spans[:4]}..."
        )
        await desk.close()


async def test_hold_from_the_agents_phone_and_listen_in_with_chanspy(
    scene: Scene, db: Database, tmp_path: Path
) -> None:
    """Hold from the agent's phone and the supervisor's listen-in (issue 17), as the live PBX
    does them: the agent's phone holds (re-INVITE sendonly) and the customer hears the queue's
    hold music, which lands on the agents' leg of the recording; the supervisor clicks listen
    (POST /api/supervision/agents/{id}/spy), the server originates the supervisor's phone into
    [cc-spy] and ChanSpy lets it hear both parties, the customer hears nothing of it. The
    call's record stays one answered call: the spy call is never stored."""
    scripts = tmp_path / "scripts"
    agent = await scene.agent("1001", spoken(scripts, "agent", GREETING, at=0.5, total=60))
    supervisor = await scene.agent("1002", quiet(scripts, "supervisor", total=60))
    customer_script = spoken(scripts, "customer", THANKS, at=11.0, total=16)
    caller = await scene.customer("13800138000", customer_script)
    tap = AmiTap("127.0.0.1", scene.lab.settings.ports.ami, AMI_USER, scene.lab.ami_secret)
    await tap.start()
    async with lab_system(scene.lab, db) as system:
        async with db.session() as session:  # the supervisor's desk phone is the lab's 1002
            agent1 = await users.get_by_username(session, "agent1")
            agent2 = await users.get_by_username(session, "agent2")
            boss = await users.get_by_username(session, "supervisor")
            assert agent1 is not None and agent2 is not None and boss is not None
            await users.update(session, agent2, is_active=False)
            await users.update(session, boss, extension="1002")
            agent_id = agent1.id
        desk = await Desk.open(system, "agent1")
        await desk.ready()
        await caller.dial(scene.inbound_uri())
        established, _ = await caller.wait_event("CALL_ESTABLISHED")
        await agent.wait_event("CALL_INCOMING")
        _, pop = await desk.wait_for("pop")
        answered = await agent.accept()
        await asyncio.sleep(2.5)
        held = time.monotonic()
        await agent.hold()
        await asyncio.sleep(3.0)
        await agent.resume()
        resumed = time.monotonic()
        # Listen-in from the wallboard: the supervisor's phone is called into ChanSpy on
        # agent 1001's channel.
        chief = await system.login("supervisor")
        spy = await chief.post(f"/api/supervision/agents/{agent_id}/spy", json={"mode": "listen"})
        assert spy.status_code == 202, spy.text
        assert spy.json()["linkedid"] == pop["call"]["linkedid"]
        await chief.aclose()
        await supervisor.wait_event("CALL_INCOMING")
        listening = await supervisor.accept()
        await caller.wait_event("CALL_CLOSED", timeout=30)
        await supervisor.wait_event("CALL_CLOSED", timeout=10)  # ChanSpy's E: ends with the call
        call = await ended_call(system, pop["call"]["linkedid"])
        await tap.stop()
        spied = [m for _, m in tap.events if m.get("Event") == "ChanSpyStart"]
        assert [m["SpyeeChannel"].split("-")[0] for m in spied] == ["PJSIP/1001"], spied
        assert spied[0]["SpyerLinkedid"].startswith("cc-spy-")
        holds = [m["Event"] for _, m in tap.events if m.get("Event") in ("Hold", "Unhold")
                 and m.get("Channel", "").startswith("PJSIP/1001")]  # fmt: skip
        assert holds[-2:] == ["Hold", "Unhold"], holds
        assert (call.outcome, call.agent_interface) == (CallOutcome.ANSWERED, "PJSIP/1001")
        assert call.hung_up_by is HungUpBy.CUSTOMER
        agent_leg = recorded(scene, call.recording_agent)
        customer_leg = recorded(scene, call.recording_customer)
        on_hold = (held - answered + 0.3, resumed - answered - 0.3)
        # The hold music (the lab's 425 Hz tone, about -23 dBFS) fills the agents' leg.
        assert agent_leg.level_between(*on_hold) > -30, agent_leg.spans
        customer_speaks = customer_script.speech_at - (answered - established)
        assert customer_leg.first_sound() == pytest.approx(customer_speaks, abs=0.5)
        # The supervisor heard the customer speak (ChanSpy, both directions mixed) ...
        [heard] = supervisor.heard()
        listened = measure(heard)
        in_spy = customer_speaks - (listening - answered)
        assert listened.level_between(in_spy, in_spy + 1.0) > -40, listened.spans
        # ... and no call row was made for the listen-in leg.
        async with db.session() as session:
            rows = list(await session.scalars(select(Call)))
        print(
            f"\nlab hold/listen-in: hold events {holds}; agent leg during hold"
            f" {agent_leg.level_between(*on_hold):.1f} dBFS; supervisor heard {listened.spans};"
            f" rows {[(r.direction.value, r.outcome, r.agent_interface) for r in rows]}"
        )
        await desk.close()
        others = [
            (r.direction.value, r.outcome, r.agent_interface)
            for r in rows
            if r.linkedid != call.linkedid
        ]
        if [r.linkedid for r in rows] != [call.linkedid]:
            raise TrackerDisagreement(f"the listen-in leg was stored as a call: {others}")

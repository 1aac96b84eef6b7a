"""The product against a real Asterisk 22 loaded with asterisk-conf/ (tests/lab): real SIP
phones (baresip) for the agents and the customers, real RTP audio, MixMonitor's real files.
Every figure asserted is measured from the phones, the recordings or the AMI, never assumed.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from crm.calls.models import Call
from crm.customers import service as customers
from crm.db import Database
from tests.data.speech_audio import KOREAN_MODEL
from tests.lab.audio import SILENCE_DBFS, measure
from tests.lab.desk import Desk
from tests.lab.lab import Scene
from tests.lab.scripts import GREETING, THANKS, spoken
from tests.lab.system import lab_system
from tests.support.live import LiveSystem

pytestmark = [
    pytest.mark.asterisk,
    pytest.mark.parametrize("database_url", ["sqlite"], indirect=True),
]


async def ended_call(system: LiveSystem, linkedid: str, timeout: float = 20) -> Call:
    """The stored row of the call once the bridge has seen it end."""
    deadline = time.monotonic() + timeout
    while True:
        await system.services.bridge.drain()
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
        assert (call.direction.value, call.outcome.value) == ("inbound", "answered")
        assert call.customer_id == customer.id and call.customer_number == "13800138000"
        assert call.agent_interface == "PJSIP/1001" and call.queue == "service"
        assert call.hung_up_by.value == "customer" and call.hangup_cause == 16
        assert call.answered_at is not None and call.ended_at is not None

        # Each leg carries its own speaker, from the moment they were bridged.
        agent_leg = measure(scene.lab.pbx.monitor_dir / Path(call.recording_agent).name)
        customer_leg = measure(scene.lab.pbx.monitor_dir / Path(call.recording_customer).name)
        mixed = measure(scene.lab.pbx.monitor_dir / Path(call.recording).name)
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

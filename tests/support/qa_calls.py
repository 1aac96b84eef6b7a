"""Calls as QA reviews them: both legs recorded (real WAV files in the recordings directory),
transcribed word by word, and scored against the default scorecard; or waiting for their
transcription. Shared by the QA API tests and the QA page's browser tests."""

from __future__ import annotations

import wave
from array import array
from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path

from crm.calls.models import Call, CallOutcome, Direction, HungUpBy
from crm.db import Database
from crm.quality.rules import load_rules
from crm.quality.scorecard import score
from crm.quality.service import call_facts, save_score, spoken_words
from crm.transcripts.models import JobStatus, Leg, TranscriptionJob
from crm.transcripts.service import get_transcripts, save_transcript

RECORDED_SECONDS = 15
# The agent greets properly and offers help, then says a forbidden phrase (我不知道) and
# leaves without asking whether there is anything else; the customer reports a cracked wall.
AGENT_WORDS = [
    ("您好", 0.5, 0.9),
    ("这里", 1.0, 1.3),
    ("是", 1.3, 1.4),
    ("装修", 1.4, 1.8),
    ("客服", 1.8, 2.2),
    ("我是", 2.3, 2.6),
    ("小王", 2.6, 3.0),
    ("请问", 3.1, 3.4),
    ("有什么", 3.4, 3.8),
    ("可以", 3.8, 4.0),
    ("帮", 4.0, 4.2),
    ("您", 4.2, 4.4),
    ("我不知道", 9.0, 9.6),
    ("再见", 14.0, 14.5),
]
CUSTOMER_WORDS = [("我", 5.0, 5.2), ("家", 5.2, 5.4), ("墙面", 5.4, 5.9), ("裂", 5.9, 6.2)]


def tone(path: Path, seconds: float, level: int) -> None:
    """A mono 8 kHz 16-bit WAV of a square wave: a recording leg the browser can play."""
    samples = array("h", [level if (i // 20) % 2 else -level for i in range(int(8000 * seconds))])
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(8000)
        out.writeframes(samples.tobytes())


def _call(
    recordings_dir: Path,
    *,
    agent_id: int,
    started_at: datetime,
    linkedid: str,
    customer_id: int | None,
    customer_number: str,
) -> Call:
    recordings_dir.mkdir(parents=True, exist_ok=True)
    tone(recordings_dir / f"{linkedid}-agent.wav", RECORDED_SECONDS, 3000)
    tone(recordings_dir / f"{linkedid}-customer.wav", RECORDED_SECONDS, 2000)
    # The agent's leg as the PBX reports it (its own absolute path, mapped from
    # CALLCENTRE_RECORDINGS_PBX_DIR), the customer's relative to the recordings directory.
    return Call(
        linkedid=linkedid,
        direction=Direction.INBOUND,
        queue="service",
        started_at=started_at,
        answered_at=started_at + timedelta(seconds=20),
        ended_at=started_at + timedelta(minutes=1),
        outcome=CallOutcome.ANSWERED,
        ring_seconds=20,
        talk_seconds=40,
        hung_up_by=HungUpBy.AGENT,
        agent_id=agent_id,
        customer_id=customer_id,
        customer_number=customer_number,
        recording_agent=f"/var/spool/asterisk/monitor/{linkedid}-agent.wav",
        recording_customer=f"{linkedid}-customer.wav",
    )


async def scored_call(
    db: Database,
    recordings_dir: Path,
    *,
    agent_id: int,
    started_at: datetime,
    linkedid: str = "100.1",
    customer_id: int | None = None,
    customer_number: str = "13800138000",
    agent_words: Sequence[tuple[str, float, float]] = AGENT_WORDS,
    customer_words: Sequence[tuple[str, float, float]] = CUSTOMER_WORDS,
) -> int:
    """An answered inbound call, recorded, transcribed and scored: with the default words it
    fails (among others) forbidden_phrases (我不知道 at 9.0–9.6 s) and answer_within_3_rings
    (20 s of ringing)."""
    async with db.session() as session:
        call = _call(
            recordings_dir,
            agent_id=agent_id,
            started_at=started_at,
            linkedid=linkedid,
            customer_id=customer_id,
            customer_number=customer_number,
        )
        session.add(call)
        await session.flush()
        for leg, words in ((Leg.AGENT, agent_words), (Leg.CUSTOMER, customer_words)):
            await save_transcript(
                session,
                call_id=call.id,
                leg=leg,
                words=[{"word": w, "start": s, "end": e, "conf": 0.9} for w, s, e in words],
                model="test",
                duration=float(RECORDED_SECONDS),
                file=f"{leg.value}.wav",
            )
        session.add(TranscriptionJob(call_id=call.id, status=JobStatus.DONE, attempts=1))
        card = load_rules()
        result = score(
            card,
            await call_facts(session, call),
            spoken_words(await get_transcripts(session, call_id=call.id)),
        )
        await save_score(session, call=call, result=result, card=card, at=started_at)
        return call.id


async def untranscribed_call(
    db: Database,
    recordings_dir: Path,
    *,
    agent_id: int,
    started_at: datetime,
    linkedid: str,
    status: JobStatus,
    last_error: str | None = None,
    attempts: int = 0,
) -> int:
    """A recorded call whose transcription is queued, running or has failed: no score yet."""
    async with db.session() as session:
        call = _call(
            recordings_dir,
            agent_id=agent_id,
            started_at=started_at,
            linkedid=linkedid,
            customer_id=None,
            customer_number="13912345678",
        )
        session.add(call)
        await session.flush()
        session.add(
            TranscriptionJob(
                call_id=call.id, status=status, attempts=attempts, last_error=last_error
            )
        )
        return call.id

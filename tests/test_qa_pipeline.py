"""A call answered on the PBX reaches the QA list transcribed and scored, with no help."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from crm.db import Database
from tests.data.speech_audio import KOREAN_MODEL
from tests.support.live import live_system


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_answered_call_is_transcribed_scored_and_listed(db: Database, tmp_path: Path) -> None:
    async with live_system(
        db, tmp_path, vosk_model_path=KOREAN_MODEL, transcription_workers=1
    ) as system:
        agent = await system.login("agent1")
        await agent.put("/api/agent/state", json={"status": "ready"})
        qa = await system.login("supervisor")
        await asyncio.sleep(0.3)
        await system.sim.place_inbound_call("13800138000", answer_after=1, talk_seconds=20)
        await system.sim.wait_calls()
        await system.sim.wait_recordings()
        deadline = time.monotonic() + 90
        while True:
            listed = (await qa.get("/api/qa/calls")).json()
            if listed and listed[0]["score"] is not None:
                break
            assert time.monotonic() < deadline, repr(listed)[:3000]
            await asyncio.sleep(0.5)
        [call] = listed
        assert call["job_status"] == "done" and call["max_score"] > 0
        detail = (await qa.get(f"/api/qa/calls/{call['id']}")).json()
        assert detail["transcript"]["agent"] and detail["transcript"]["customer"]
        assert {r["id"] for r in detail["score"]["rules"]} >= {
            "greeting",
            "closing",
            "customer_hangs_up_first",
        }
        # Then, with no help either, the recordings are stored compressed and play as Ogg
        # (the job replaces the call's files one after the other: wait for the last).
        while True:
            audio = await qa.get(f"/api/calls/{call['id']}/recording")
            assert audio.status_code == 200
            wavs = list(system.settings.recordings_dir.rglob("*.wav"))
            if audio.headers["content-type"] == "audio/ogg" and not wavs:
                break
            if audio.headers["content-type"] != "audio/ogg":
                assert audio.content[:4] == b"RIFF"  # the PBX's WAV until then
            assert time.monotonic() < deadline, f"the recordings were never compressed: {wavs}"
            await asyncio.sleep(0.5)
        assert audio.content[:4] == b"OggS"
        await agent.aclose()
        await qa.aclose()

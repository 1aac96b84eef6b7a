"""The QA review API and recordings: roles, filters, reviews with reasons, audited listens."""

from __future__ import annotations

import wave
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from crm.audit import service as audit
from crm.calls.models import Call
from crm.clock import FixedClock
from crm.db import Database
from crm.settings import Settings, load_settings
from tests.support import qa_calls
from tests.support.api import Api, running_app
from tests.support.rows import found

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


@pytest.fixture
def qa_settings(settings: Settings, tmp_path: Path) -> Settings:
    return load_settings(
        database_url=settings.database_url, recordings_dir=tmp_path / "rec", default_area_code="029"
    )


@pytest.fixture
async def api(db: Database, qa_settings: Settings, clock: FixedClock) -> AsyncIterator[Api]:
    async with running_app(qa_settings, db, clock=clock) as running:
        yield running


async def scored_call(
    api: Api,
    db: Database,
    settings: Settings,
    clock: FixedClock,
    agent: str = "agent1",
    linkedid: str = "100.1",
) -> int:
    return await qa_calls.scored_call(
        db,
        settings.recordings_dir,
        agent_id=api.ids[agent],
        started_at=clock.now(),
        linkedid=linkedid,
    )


async def test_reviewer_lists_filters_and_opens_a_call(
    api: Api, db: Database, qa_settings: Settings, clock: FixedClock
) -> None:
    call_id = await scored_call(api, db, qa_settings, clock)
    other = await scored_call(api, db, qa_settings, clock, agent="agent2", linkedid="100.2")
    listed = (await api["qa"].get("/api/qa/calls")).json()
    assert {c["id"] for c in listed} == {call_id, other}
    row = next(c for c in listed if c["id"] == call_id)
    assert (
        "forbidden_phrases" in row["failed_rules"]
        and "answer_within_3_rings" in row["failed_rules"]
    )
    assert row["score"] < row["max_score"] and row["agent_name"] == "AGENT1"
    by_rule = (await api["qa"].get("/api/qa/calls", params={"failed_rule": "greeting"})).json()
    assert by_rule == []  # the greeting was there
    by_agent = (
        await api["supervisor"].get("/api/qa/calls", params={"agent_id": api.ids["agent2"]})
    ).json()
    assert [c["id"] for c in by_agent] == [other]
    detail = (await api["qa"].get(f"/api/qa/calls/{call_id}")).json()
    assert [w["word"] for w in detail["transcript"]["customer"]] == ["我", "家", "墙面", "裂"]
    assert detail["recordings"] == {"mixed": True, "agent": True, "customer": True}
    rules = {r["id"]: r for r in detail["score"]["rules"]}
    forbidden = rules["forbidden_phrases"]
    assert forbidden["passed"] is False and forbidden["evidence"][0]["params"] == {
        "words": "我不知道"
    }
    assert forbidden["title"] and forbidden["points"] == 3
    assert rules["greeting"]["passed"] is True


async def test_overrides_need_a_reason_and_change_the_reviewed_score(
    api: Api, db: Database, qa_settings: Settings, clock: FixedClock
) -> None:
    call_id = await scored_call(api, db, qa_settings, clock)
    url = f"/api/qa/calls/{call_id}/reviews"
    response = await api["qa"].post(
        url, json={"rule_id": "forbidden_phrases", "decision": "overridden", "passed": True}
    )
    assert response.status_code == 422
    assert response.json()["detail"][0]["code"] == "override_reason_required"
    before = (await api["qa"].get(f"/api/qa/calls/{call_id}")).json()["score"]
    response = await api["qa"].post(
        url,
        json={
            "rule_id": "forbidden_phrases",
            "decision": "overridden",
            "passed": True,
            "reason": "客户说的“我不知道”，不是坐席",
        },
    )
    assert response.status_code == 201
    after = response.json()["score"]
    rule = next(r for r in after["rules"] if r["id"] == "forbidden_phrases")
    assert rule["passed"] is False and rule["final_passed"] is True  # automatic stays visible
    assert rule["review"]["reason"].startswith("客户说的") and rule["review"]["reviewer_name"]
    assert after["score"] == before["score"] + 3
    assert after["automatic_score"] == before["automatic_score"]
    response = await api["qa"].post(url, json={"rule_id": "greeting", "decision": "confirmed"})
    greeting = next(r for r in response.json()["score"]["rules"] if r["id"] == "greeting")
    assert greeting["review"]["decision"] == "confirmed" and greeting["final_passed"] is True
    async with db.session() as session:
        entries = await audit.get_all(session, entity_type="call", entity_id=call_id)
    assert {e.action for e in entries} >= {"qa.overridden", "qa.confirmed"}


async def test_agents_see_only_their_own_calls_and_cannot_review(
    api: Api, db: Database, qa_settings: Settings, clock: FixedClock
) -> None:
    mine = await scored_call(api, db, qa_settings, clock)
    theirs = await scored_call(api, db, qa_settings, clock, agent="agent2", linkedid="100.2")
    listed = (
        await api["agent1"].get("/api/qa/calls", params={"agent_id": api.ids["agent2"]})
    ).json()
    assert [c["id"] for c in listed] == [mine]
    assert (await api["agent1"].get(f"/api/qa/calls/{mine}")).status_code == 200
    assert (await api["agent1"].get(f"/api/qa/calls/{theirs}")).status_code == 403
    assert (await api["agent1"].get(f"/api/calls/{theirs}/recording")).status_code == 403
    response = await api["agent1"].post(
        f"/api/qa/calls/{mine}/reviews", json={"rule_id": "greeting", "decision": "confirmed"}
    )
    assert response.status_code == 403
    assert (await api["admin"].get("/api/qa/calls")).status_code == 403


async def test_recordings_are_served_audited_and_seekable(
    api: Api, db: Database, qa_settings: Settings, clock: FixedClock
) -> None:
    call_id = await scored_call(api, db, qa_settings, clock)
    client = api["qa"]
    whole = await client.get(f"/api/calls/{call_id}/recording", params={"leg": "agent"})
    assert whole.status_code == 200 and whole.headers["content-type"] == "audio/wav"
    assert whole.content[:4] == b"RIFF"
    part = await client.get(
        f"/api/calls/{call_id}/recording",
        params={"leg": "agent"},
        headers={"Range": "bytes=1000-1999"},
    )
    assert part.status_code == 206 and len(part.content) == 1000
    mixed = await client.get(f"/api/calls/{call_id}/recording")
    assert mixed.status_code == 200
    with wave.open(str(next((qa_settings.recordings_dir / ".mixed").glob("*.wav")))) as out:
        assert (out.getframerate(), out.getnframes()) == (8000, 15 * 8000)
    assert (
        await client.get(f"/api/calls/{call_id}/recording", params={"leg": "both"})
    ).status_code == 422
    async with db.session() as session:
        listens = await audit.get_all(session, action="recording.listen")
    # One listen per user, call and login session: not the seek, nor the second leg.
    assert [e.detail["leg"] for e in listens] == ["agent"]


async def test_recordings_outside_the_directory_are_never_served(
    api: Api, db: Database, qa_settings: Settings, clock: FixedClock
) -> None:
    call_id = await scored_call(api, db, qa_settings, clock)
    async with db.session() as session:
        call = found(await session.get(Call, call_id), "the call")
        call.recording_agent = "../../../../etc/passwd"
        call.recording_customer = "/etc/hostname"
    for leg in ("agent", "customer"):
        response = await api["qa"].get(f"/api/calls/{call_id}/recording", params={"leg": leg})
        assert response.status_code == 404

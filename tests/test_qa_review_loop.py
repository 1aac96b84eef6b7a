"""The QA review loop through the services and the API (issue 17): the sampling rules fill
the review queue once per call (complaint calls, calls under the score, a weekly share), a
reviewer takes a call and sends the agent feedback, the agent acknowledges or disputes it
and the reviewer answers; each step audited, pushed over the websocket of the person it
concerns, and an agent only ever sees and acts on their own calls' feedback."""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
import websockets
from websockets.typing import Origin

from crm.audit import service as audit
from crm.callbacks.models import CallbackAttempt, CallbackTask, MadeBy, Stage
from crm.calls.models import Call, CallOutcome, Direction
from crm.clock import FixedClock
from crm.complaints.models import Complaint, ComplaintGrade, ComplaintSource
from crm.customers.models import Customer, Grade
from crm.db import Database
from crm.projects.models import Project
from crm.quality import review_queue
from crm.quality.models import CallScore, QaAssignment
from crm.quality.sampling import SampleReason, SamplingRules
from crm.settings import Settings, load_settings
from crm.users import service as users
from crm.users.models import Role
from tests.support import qa_calls
from tests.support.api import Api, running_app
from tests.support.live import free_port
from web.auth import COOKIE
from web.server import web_config

SHANGHAI_MONDAY = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)  # the clock fixture's: 2026-W48
KEY = b"test-key"
RULES = SamplingRules(share=0.2, below_percent=80, complaint_calls=True)
_LINKEDIDS = itertools.count(1)


async def _agent(db: Database, username: str, extension: str) -> int:
    async with db.session() as session:
        found = await users.get_by_username(session, username)
        if found is None:
            found = await users.create(
                session,
                username=username,
                password="password-1",
                display_name=username.upper(),
                role=Role.AGENT,
                extension=extension,
            )
        return found.id


async def _call(
    db: Database,
    *,
    agent_id: int | None,
    at: datetime,
    score: tuple[int, int] | None = (14, 14),
    answered: bool = True,
) -> int:
    async with db.session() as session:
        call = Call(
            linkedid=f"{at.timestamp()}.{next(_LINKEDIDS)}",
            direction=Direction.INBOUND,
            started_at=at,
            answered_at=at + timedelta(seconds=5) if answered else None,
            ended_at=at + timedelta(minutes=2),
            outcome=CallOutcome.ANSWERED if answered else CallOutcome.ABANDONED,
            agent_id=agent_id,
        )
        session.add(call)
        await session.flush()
        if score is not None:
            session.add(
                CallScore(
                    call_id=call.id,
                    agent_id=agent_id,
                    score=score[0],
                    max_score=score[1],
                    points_lost=score[1] - score[0],
                    rules=[],
                    rules_version="test",
                    rules_digest="test",
                    scored_at=at,
                )
            )
        return call.id


async def _complaints(db: Database, *, raised_on: int, opened_by_callback_on: int) -> None:
    """A complaint raised on one call, and one opened by the callback made on another."""
    async with db.session() as session:
        customer = Customer(name="王芳", address="雁塔区", grade=Grade.B)
        session.add(customer)
        await session.flush()
        project = Project(customer_id=customer.id, contract_number="HT-17")
        session.add(project)
        await session.flush()
        task = CallbackTask(
            project_id=project.id,
            stage=Stage.MIDTERM,
            due_date=date(2026, 11, 23),
            latest_date=date(2026, 11, 26),
        )
        session.add(task)
        await session.flush()
        attempt = CallbackAttempt(
            task_id=task.id,
            made_by=MadeBy.AGENT,
            started_at=SHANGHAI_MONDAY,
            call_id=opened_by_callback_on,
        )
        session.add(attempt)
        await session.flush()
        common: dict[str, Any] = {
            "customer_id": customer.id,
            "department": "工程部",
            "category": "quality",
            "description": "墙面开裂",
            "grade": ComplaintGrade.GENERAL,
            "received_at": SHANGHAI_MONDAY,
            "clocks_from": SHANGHAI_MONDAY,
        }
        session.add(Complaint(source=ComplaintSource.CALL, call_id=raised_on, **common))
        session.add(Complaint(source=ComplaintSource.CALLBACK, attempt_id=attempt.id, **common))


# -- the queue, through the services (SQLite and PostgreSQL) ---------------------------------


async def test_the_rules_fill_the_queue_once_per_call(db: Database, settings: Settings) -> None:
    agent, other = await _agent(db, "agent1", "1001"), await _agent(db, "agent2", "1002")
    tz = settings.tz
    at = SHANGHAI_MONDAY
    plain = [await _call(db, agent_id=agent, at=at + timedelta(minutes=i)) for i in range(10)]
    low = await _call(db, agent_id=agent, at=at, score=(9, 14))
    raised = await _call(db, agent_id=other, at=at)
    by_callback = await _call(db, agent_id=other, at=at, score=None)
    ignored = [
        await _call(db, agent_id=agent, at=at, answered=False, score=(0, 14)),  # abandoned
        await _call(db, agent_id=None, at=at, score=(0, 14)),  # no agent
        await _call(db, agent_id=agent, at=at - timedelta(days=14), score=(0, 14)),  # W46
    ]
    await _complaints(db, raised_on=raised, opened_by_callback_on=by_callback)
    now = at + timedelta(days=7)  # W49: W48 is over, its share rounded up
    weeks = review_queue.weeks_to_sample(now, tz)
    assert weeks == ("2026-W48", "2026-W49")
    async with db.session() as session:
        run = await review_queue.sample(session, weeks=weeks, rules=RULES, key=KEY, tz=tz, now=now)
    reasons = {pick.call_id: pick.reason for pick in run.added}
    assert reasons[low] is SampleReason.LOW_SCORE
    assert reasons[raised] is reasons[by_callback] is SampleReason.COMPLAINT
    assert not set(reasons) & set(ignored)
    share = [c for c, r in reasons.items() if r is SampleReason.SHARE]
    # agent1: 11 calls → 3; agent2: 2 calls, both complaint calls → nothing left to draw.
    assert len(share) == 3 and set(share) <= set(plain)
    assert run.counts() == {
        SampleReason.COMPLAINT: 2,
        SampleReason.LOW_SCORE: 1,
        SampleReason.SHARE: 3,
    }
    async with db.session() as session:
        again = await review_queue.sample(
            session, weeks=weeks, rules=RULES, key=KEY, tz=tz, now=now
        )
        queued = await review_queue.list_queue(session, limit=100)
    assert again.added == ()
    assert len(queued) == 6 and len({q.call.id for q in queued}) == 6
    # Complaint calls first, then low scores, then the share.
    assert [q.assignment.reason for q in queued][:3] == [
        SampleReason.COMPLAINT,
        SampleReason.COMPLAINT,
        SampleReason.LOW_SCORE,
    ]
    assert {q.assignment.week for q in queued} == {"2026-W48"}


async def test_a_call_another_process_queued_meanwhile_is_not_queued_twice(
    db: Database, settings: Settings
) -> None:
    agent = await _agent(db, "agent1", "1001")
    low = await _call(db, agent_id=agent, at=SHANGHAI_MONDAY, score=(1, 14))
    async with db.session() as session:
        # Queued under another week's name, so this run's reading of the queue misses it.
        session.add(
            QaAssignment(
                call_id=low,
                agent_id=agent,
                week="2026-W47",
                reason=SampleReason.LOW_SCORE,
                assigned_at=SHANGHAI_MONDAY,
            )
        )
    async with db.session() as session:
        run = await review_queue.sample(
            session,
            weeks=("2026-W48",),
            rules=SamplingRules(share=0, below_percent=80),
            key=KEY,
            tz=settings.tz,
            now=SHANGHAI_MONDAY,
        )
        assert run.added == ()
        assert len(await review_queue.list_queue(session, week="2026-W47", limit=10)) == 1


# -- the API (SQLite) -------------------------------------------------------------------------


@pytest.fixture
def qa_settings(settings: Settings, tmp_path: Path) -> Settings:
    return load_settings(
        database_url=settings.database_url, recordings_dir=tmp_path / "rec", default_area_code="029"
    )


@pytest.fixture
async def api(db: Database, qa_settings: Settings, clock: FixedClock) -> AsyncIterator[Api]:
    async with running_app(qa_settings, db, clock=clock) as running:
        await _first_sampling(running)
        yield running


async def _first_sampling(api: Api) -> None:
    """The web role samples once as it starts: over before the test adds its calls."""
    while api.app.state.review_sampler.rounds < 1:
        await asyncio.sleep(0.01)


async def _scored(
    api: Api, db: Database, settings: Settings, clock: FixedClock, agent: str, n: int
) -> int:
    """agent's recorded call, scored 6 of 14 (under 80 %: the rules queue it)."""
    return await qa_calls.scored_call(
        db,
        settings.recordings_dir,
        agent_id=api.ids[agent],
        started_at=clock.now() - timedelta(hours=n),
        linkedid=f"200.{n}",
    )


def _pushed(api: Api, username: str) -> list[dict[str, Any]]:
    outbox = api.app.state.services.outbox
    return [
        d.message for d in outbox.since(api.ids[username], 0) if d.message["type"] == "qa_feedback"
    ]


def _codes(response: httpx.Response) -> list[str]:
    return [problem["code"] for problem in response.json()["detail"]]


async def _audited(db: Database, call_id: int) -> list[str]:
    async with db.session() as session:
        entries = await audit.get_all(session, entity_type="call", entity_id=call_id)
    return sorted(entry.action for entry in entries)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_reviewers_sample_list_and_take_queued_calls(
    api: Api, db: Database, qa_settings: Settings, clock: FixedClock
) -> None:
    call_id = await _scored(api, db, qa_settings, clock, "agent1", 1)
    rules = (await api["qa"].get("/api/qa/sampling")).json()
    assert rules == {
        "share": 0.2,
        "below_percent": 80,
        "complaint_calls": True,
        "interval_seconds": 300.0,
    }
    run = await api["supervisor"].post("/api/qa/queue/sample", json={})
    assert run.status_code == 200, run.text
    assert run.json() == {
        "weeks": ["2026-W47", "2026-W48"],
        "added": {"complaint": 0, "low_score": 1, "share": 0},
        "call_ids": [call_id],
    }
    assert (await api.app.state.review_sampler.check()).added == ()  # the job: nothing more
    [queued] = (await api["qa"].get("/api/qa/queue")).json()
    assert (queued["call_id"], queued["reason"], queued["status"]) == (
        call_id,
        "low_score",
        "pending",
    )
    assert (
        queued["agent_name"] == "AGENT1" and queued["score"] == 6 and queued["week"] == "2026-W48"
    )
    assert queued["reviewer_id"] is None
    taken = await api["qa"].post(f"/api/qa/queue/{queued['id']}/take")
    assert taken.status_code == 200 and taken.json()["reviewer_name"] == "QA"
    assert (await api["qa"].post(f"/api/qa/queue/{queued['id']}/take")).status_code == 200
    refused = await api["supervisor"].post(f"/api/qa/queue/{queued['id']}/take")
    assert refused.status_code == 409 and _codes(refused) == ["taken_by_another"]
    mine = (await api["supervisor"].get("/api/qa/queue", params={"mine": True})).json()
    assert mine == []  # taken by the QA reviewer
    # Bad input: 4xx naming the problem.
    for params in ({"week": "2026-49"}, {"reason": "hunch"}, {"status": "lost"}):
        assert (await api["qa"].get("/api/qa/queue", params=params)).status_code == 422
    for week in ("2026-W60", "last week"):
        bad = await api["qa"].post("/api/qa/queue/sample", json={"week": week})
        assert bad.status_code == 422 and bad.json()["detail"][0]["field"] == "week"
    missing = await api["qa"].post("/api/qa/queue/99999/take")
    assert missing.status_code == 404 and _codes(missing) == ["not_queued"]
    # Agents have no queue.
    assert (await api["agent1"].get("/api/qa/queue")).status_code == 403
    assert (await api["agent1"].post("/api/qa/queue/sample", json={})).status_code == 403
    assert "qa.queue.taken" in await _audited(db, call_id)
    async with db.session() as session:
        assert [e.actor for e in await audit.get_all(session, action="qa.sampled")] == [
            "supervisor"
        ]


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_feedback_goes_to_the_agent_and_a_dispute_back_to_the_reviewer(
    api: Api, db: Database, qa_settings: Settings, clock: FixedClock
) -> None:
    call_id = await _scored(api, db, qa_settings, clock, "agent1", 1)
    other_call = await _scored(api, db, qa_settings, clock, "agent2", 2)
    await api["qa"].post("/api/qa/queue/sample", json={})
    url = f"/api/qa/calls/{call_id}/feedback"
    assert (await api["agent1"].get(url)).json() is None  # nothing sent yet
    blank = await api["qa"].post(url, json={"comment": "  "})
    assert blank.status_code == 422 and _codes(blank) == ["comment_required"]
    too_long = await api["qa"].post(url, json={"comment": "长" * 4001})
    assert too_long.status_code == 422
    assert (await api["agent1"].post(url, json={"comment": "自评"})).status_code == 403
    sent = await api["qa"].post(url, json={"comment": "“我不知道”是禁用语，请说“我帮您查一下”"})
    assert sent.status_code == 201, sent.text
    feedback = sent.json()
    assert feedback["status"] == "sent" and feedback["agent_name"] == "AGENT1"
    assert feedback["reviewer_name"] == "QA"
    assert (feedback["score"], feedback["max_score"]) == (6, 14)
    again = await api["qa"].post(url, json={"comment": "再说一次"})
    assert again.status_code == 409 and _codes(again) == ["feedback_exists"]
    assert _pushed(api, "agent1") == [
        {
            "seq": 1,
            "type": "qa_feedback",
            "feedback_id": feedback["id"],
            "call_id": call_id,
            "status": "sent",
            "by": "QA",
        }
    ]
    # The call leaves the queue, reviewed by whoever sent the feedback.
    assert (await api["qa"].get("/api/qa/queue")).json() == [
        q for q in (await api["qa"].get("/api/qa/queue")).json() if q["call_id"] != call_id
    ]
    [done] = [
        q
        for q in (await api["qa"].get("/api/qa/queue", params={"status": "reviewed"})).json()
        if q["call_id"] == call_id
    ]
    assert done["reviewer_name"] == "QA" and done["reviewed_at"]

    # The agent sees their own; another agent sees nothing of it and can do nothing to it.
    mine = (await api["agent1"].get("/api/qa/feedback")).json()
    assert [f["id"] for f in mine] == [feedback["id"]]
    peeking = await api["agent2"].get("/api/qa/feedback", params={"agent_id": api.ids["agent1"]})
    assert peeking.json() == []
    assert (await api["agent2"].get(url)).status_code == 403
    base = f"/api/qa/feedback/{feedback['id']}"
    for action, body in (("acknowledge", {}), ("dispute", {"reason": "不服"})):
        refused = await api["agent2"].post(f"{base}/{action}", json=body)
        assert refused.status_code == 403 and _codes(refused) == ["not_your_call"]
        assert (
            await api["agent1"].post(f"/api/qa/feedback/99999/{action}", json=body)
        ).status_code == 404
        assert (await api["qa"].post(f"{base}/{action}", json=body)).status_code == 403
    assert (await api["agent1"].post(f"{base}/answer", json={"answer": "x"})).status_code == 403
    premature = await api["qa"].post(f"{base}/answer", json={"answer": "还没申诉"})
    assert premature.status_code == 409 and _codes(premature) == ["not_disputed"]

    # The dispute goes back to the reviewer.
    no_reason = await api["agent1"].post(f"{base}/dispute", json={"reason": ""})
    assert no_reason.status_code == 422 and _codes(no_reason) == ["dispute_reason_required"]
    disputed = await api["agent1"].post(
        f"{base}/dispute", json={"reason": "“我不知道”后面是“怎么走”，在确认地址"}
    )
    assert disputed.status_code == 200 and disputed.json()["status"] == "disputed"
    [told] = _pushed(api, "qa")
    assert (told["status"], told["call_id"], told["by"]) == ("disputed", call_id, "AGENT1")
    twice = await api["agent1"].post(f"{base}/dispute", json={"reason": "再申诉"})
    assert twice.status_code == 409 and _codes(twice) == ["already_disputed"]
    waiting = await api["agent1"].post(f"{base}/acknowledge", json={})
    assert waiting.status_code == 409 and _codes(waiting) == ["dispute_open"]
    open_disputes = (
        await api["supervisor"].get("/api/qa/feedback", params={"status": "disputed"})
    ).json()
    assert [f["id"] for f in open_disputes] == [feedback["id"]]

    # Any reviewer answers; the agent is told and acknowledges; closed.
    empty = await api["supervisor"].post(f"{base}/answer", json={"answer": " "})
    assert empty.status_code == 422 and _codes(empty) == ["answer_required"]
    override = await api["supervisor"].post(
        f"/api/qa/calls/{call_id}/reviews",
        json={
            "rule_id": "forbidden_phrases",
            "decision": "overridden",
            "passed": True,
            "reason": "在确认地址，不是推诿",
        },
    )
    assert override.status_code == 201
    answered = await api["supervisor"].post(
        f"{base}/answer", json={"answer": "已改判，禁用语不扣分"}
    )
    assert answered.json()["status"] == "answered"
    assert answered.json()["answered_by_name"] == "SUPERVISOR"
    assert (answered.json()["score"], answered.json()["max_score"]) == (9, 14)  # after review
    assert [m["status"] for m in _pushed(api, "agent1")] == ["sent", "answered"]
    closed = await api["agent1"].post(f"{base}/acknowledge", json={"note": "明白了"})
    assert (
        closed.json()["status"] == "acknowledged" and closed.json()["acknowledgement"] == "明白了"
    )
    assert [m["status"] for m in _pushed(api, "qa")] == ["disputed", "acknowledged"]
    after = await api["agent1"].post(f"{base}/acknowledge", json={})
    assert after.status_code == 409 and _codes(after) == ["feedback_closed"]
    assert await _audited(db, call_id) == [
        "qa.feedback.acknowledged",
        "qa.feedback.answered",
        "qa.feedback.disputed",
        "qa.feedback.sent",
        "qa.overridden",
    ]
    assert _pushed(api, "agent2") == []
    assert await _audited(db, other_call) == []


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_a_call_without_an_agent_gets_no_feedback(
    api: Api, db: Database, qa_settings: Settings, clock: FixedClock
) -> None:
    call_id = await _scored(api, db, qa_settings, clock, "agent1", 1)
    async with db.session() as session:
        call = await session.get(Call, call_id)
        assert call is not None
        call.agent_id = None
    response = await api["qa"].post(f"/api/qa/calls/{call_id}/feedback", json={"comment": "好"})
    assert response.status_code == 422 and _codes(response) == ["call_has_no_agent"]
    assert (
        await api["qa"].post("/api/qa/calls/99999/feedback", json={"comment": "好"})
    ).status_code == 404


# -- pushed over the real websocket ---------------------------------------------------------


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_feedback_and_disputes_arrive_on_the_websockets(
    db: Database, qa_settings: Settings, clock: FixedClock
) -> None:
    async with running_app(qa_settings, db, clock=clock) as api:
        await _first_sampling(api)
        port = free_port()
        server = uvicorn.Server(web_config(api.app, host="127.0.0.1", port=port, lifespan="off"))
        task = asyncio.create_task(server.serve())
        while not server.started:
            assert not task.done()
            await asyncio.sleep(0.02)
        url = f"http://127.0.0.1:{port}"
        try:
            call_id = await _scored(api, db, qa_settings, clock, "agent1", 1)
            sockets = {}
            for username in ("agent1", "qa", "agent2"):
                cookie = api[username].cookies[COOKIE]
                socket = await websockets.connect(
                    url.replace("http://", "ws://") + "/ws",
                    additional_headers={"Cookie": f"{COOKIE}={cookie}"},
                    origin=Origin(url),
                )
                assert json.loads(await socket.recv())["type"] == "hello"
                sockets[username] = socket
            sent = await api["qa"].post(
                f"/api/qa/calls/{call_id}/feedback", json={"comment": "开场很好"}
            )
            message = json.loads(await asyncio.wait_for(sockets["agent1"].recv(), 5))
            assert message["type"] == "qa_feedback" and message["status"] == "sent"
            assert message["call_id"] == call_id and message["by"] == "QA"
            await api["agent1"].post(
                f"/api/qa/feedback/{sent.json()['id']}/dispute", json={"reason": "不同意"}
            )
            message = json.loads(await asyncio.wait_for(sockets["qa"].recv(), 5))
            assert (message["type"], message["status"], message["by"]) == (
                "qa_feedback",
                "disputed",
                "AGENT1",
            )
            with pytest.raises(TimeoutError):  # nothing for someone else's call
                await asyncio.wait_for(sockets["agent2"].recv(), 0.5)
            for socket in sockets.values():
                await socket.close()
        finally:
            server.should_exit = True
            await task

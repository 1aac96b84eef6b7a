"""Every message the websocket sends is what web/ws_messages.py declares: through the real
server and the PBX simulator, an agent and a supervisor are sent each type of message there
is, and every one received is checked against its pydantic model and against its component in
the OpenAPI document (tests/support/ws_schema.py). A message type nobody here receives fails
the test, so a new one is brought in with a way to see it sent."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import websockets
from pydantic import ValidationError
from websockets.typing import Origin

from crm.callbacks import service as callbacks
from crm.callbacks.schedule import ScheduleRules
from crm.clock import FixedClock
from crm.customers import service as customers
from crm.db import Database
from crm.projects import service as projects
from telephony.events import PbxConnection
from tests.support.live import LiveSystem, live_system
from tests.support.waiting import until
from tests.support.ws_schema import checked, component_errors, openapi_document
from web.callback_reminders import CallbackReminders
from web.deadline_alerts import DeadlineAlerts
from web.ws_messages import MESSAGE_MODELS, SERVER_MESSAGE

TYPES = {model.model_fields["type"].default for model in MESSAGE_MODELS}


class Listener:
    """A browser's websocket: every message it is sent, each checked as it arrives."""

    def __init__(self, socket: Any) -> None:
        self.socket = socket
        self.messages: list[dict[str, Any]] = []
        self.reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        async for raw in self.socket:
            self.messages.append(checked(json.loads(raw)))

    def types(self) -> set[str]:
        return {m["type"] for m in self.messages}

    async def wait_for(self, type_: str, after: int = 0, **fields: Any) -> dict[str, Any]:
        """The first message of this type with these fields, numbered `after` or later."""

        def found() -> dict[str, Any] | None:
            return next(
                (
                    m
                    for m in self.messages
                    if m["type"] == type_
                    and m.get("seq", 0) >= after
                    and all(m.get(k) == v for k, v in fields.items())
                ),
                None,
            )

        await until(lambda: found() is not None)
        message = found()
        assert message is not None
        return message

    async def close(self) -> None:
        await self.socket.close()
        await asyncio.gather(self.reader, return_exceptions=True)


@pytest.fixture
async def system(db: Database, tmp_path: Path) -> AsyncIterator[LiveSystem]:
    async with live_system(db, tmp_path) as running:
        yield running


async def _listen(system: LiveSystem, username: str) -> tuple[Listener, Any]:
    client = await system.login(username)
    cookie = "; ".join(f"{k}={v}" for k, v in client.cookies.items())
    socket = await websockets.connect(
        system.ws_url, additional_headers={"Cookie": cookie}, origin=Origin(system.url)
    )
    listener = Listener(socket)
    await listener.wait_for("hello")
    return listener, client


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_every_message_sent_is_its_declared_model(system: LiveSystem, db: Database) -> None:
    async with db.session() as session:
        customer = await customers.create(session, name="王建国", phones=["13800138000"])
    agent, agent_http = await _listen(system, "agent1")
    supervisor, supervisor_http = await _listen(system, "supervisor")
    try:
        assert (await agent_http.put("/api/agent/state", json={"status": "ready"})).is_success
        await agent.wait_for("state", status="ready")
        # A queue call the agent answers: the pop with the card, the answer, the end, wrap-up.
        answered = await system.sim.place_inbound_call(
            "13800138000", answer_after=1, talk_seconds=1
        )
        pop = await agent.wait_for("pop")
        assert pop["call"]["linkedid"] == answered and pop["customer"]["id"] == customer.id
        await agent.wait_for("answered", linkedid=answered)
        await agent.wait_for("ended", linkedid=answered)
        wrapup = await agent.wait_for("state", status="wrapup")
        await agent.wait_for("state", after=wrapup["seq"], status="ready")
        # A caller who hangs up while the agent's phone rings.
        given_up = await system.sim.place_inbound_call(
            "13912345678", extension="1001", abandon=True
        )
        await agent.wait_for("ring_stopped", linkedid=given_up)
        await agent.wait_for("ended", linkedid=given_up)
        # The supervisor's wallboard follows.
        await supervisor.wait_for("wallboard")
        # Two callers waiting (the agent paused) cross the wallboard's first alert level.
        paused = await agent_http.put(
            "/api/agent/state", json={"status": "paused", "reason": "break"}
        )
        assert paused.is_success
        for number in ("13900139001", "13900139002"):
            await system.sim.place_inbound_call(number)  # waits until the queue gives up
        alert = await supervisor.wait_for("wallboard_alert")
        assert [a["measure"] for a in alert["alerts"]] == ["callers_waiting"]
        # The PBX connection, as the bridge tells of it, goes to everyone connected.
        system.services.bus.publish(PbxConnection(connected=True, at=system.services.clock.now()))
        await agent.wait_for("pbx", connected=True)
        await supervisor.wait_for("pbx", connected=True)
        # A complaint left past its first time limit warns its first contact.
        opened = await agent_http.post(
            "/api/complaints",
            json={
                "customer_id": customer.id,
                "department": "工程部",
                "category": "quality",
                "description": "漏水",
            },
        )
        assert opened.status_code == 201, opened.text
        later = FixedClock(system.services.clock.now() + timedelta(hours=4))
        assert await DeadlineAlerts(replace(system.services, clock=later)).check()
        await agent.wait_for("deadline", kind="complaint", id=opened.json()["id"])
        # A QA reviewer's feedback on the agent's answered call reaches the agent.
        agent_id = agent.messages[0]["user"]["id"]

        async def listed() -> list[dict[str, Any]]:
            response = await supervisor_http.get("/api/qa/calls", params={"agent_id": agent_id})
            return list(response.json())

        await until(lambda: _nonempty(listed()))
        call_id = (await listed())[0]["id"]
        sent = await supervisor_http.post(
            f"/api/qa/calls/{call_id}/feedback", json={"comment": "开场很好"}
        )
        assert sent.status_code == 201, sent.text
        await agent.wait_for("qa_feedback", call_id=call_id, status="sent")
        # A call back the agent promised for a time: reminded when that time comes.
        async with db.session() as session:
            project = await projects.create(
                session,
                customer=customer,
                contract_number="XA2026-000001",
                rules=ScheduleRules(),
                start_date=system.services.today(),
            )
            [task] = await callbacks.get_for_project(session, project.id)
        promised = await agent_http.post(
            f"/api/callbacks/{task.id}/attempts",
            json={
                "outcome": "call_later",
                "call_back_at": (system.services.clock.now() + timedelta(hours=1)).isoformat(),
            },
        )
        assert promised.status_code == 201, promised.text
        assert await CallbackReminders(replace(system.services, clock=later)).check()
        await agent.wait_for("callback_reminder", task_id=task.id)
    finally:
        for listener in (agent, supervisor):
            await listener.close()
        await agent_http.aclose()
        await supervisor_http.aclose()
    assert agent.types() | supervisor.types() == TYPES


async def _nonempty(rows: Awaitable[list[dict[str, Any]]]) -> bool:
    return bool(await rows)


def test_the_document_publishes_each_message_type_as_a_component() -> None:
    schemas = openapi_document()["components"]["schemas"]
    union = schemas["ServerMessage"]
    assert union["discriminator"]["propertyName"] == "type"
    assert set(union["discriminator"]["mapping"]) == TYPES
    assert [ref["$ref"] for ref in union["oneOf"]] == [
        f"#/components/schemas/{model.__name__}" for model in MESSAGE_MODELS
    ]
    for model in MESSAGE_MODELS:
        component = schemas[model.__name__]
        assert component["properties"]["type"]["const"] == model.model_fields["type"].default
        # Every field is always sent, `seq` and `type` included: the document says so.
        assert set(component["required"]) == set(component["properties"]), model.__name__
    # One component per model: no model published twice under two names.
    titles = [schema.get("title") for schema in schemas.values()]
    assert len(titles) == len(set(titles)), sorted(t for t in titles if titles.count(t) > 1)


def test_the_check_refuses_a_message_that_is_not_its_model() -> None:
    """The checks above can fail: a misspelt field, a missing one and a wrong value are each
    caught by the model or by the published component."""
    good = {"seq": 3, "type": "pbx", "connected": False, "at": "2026-11-23T02:00:00+00:00"}
    assert checked(dict(good)) == good
    misspelt = {**good, "conected": True}
    missing = {k: v for k, v in good.items() if k != "connected"}
    wrong = {**good, "connected": "no"}
    for bad in (misspelt, missing, wrong):
        with pytest.raises((AssertionError, ValidationError)):
            checked(bad)
    assert component_errors(missing) and component_errors(wrong)
    assert SERVER_MESSAGE.validate_python(good).model_dump(mode="json") == good

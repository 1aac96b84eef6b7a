"""A campaign end to end through the server: started by a supervisor, dialed by the dialer,
popped on the ready agent's console with its task, completed by the agent's form."""

from __future__ import annotations

import asyncio
import json
import time
from datetime import date
from pathlib import Path

import pytest
import websockets
from websockets.typing import Origin

from crm.callbacks.schedule import ScheduleRules
from crm.clock import FixedClock
from crm.customers import service as customers
from crm.db import Database
from crm.projects import service as projects
from crm.projects.models import ProjectStatus
from tests.support.live import live_system


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_supervisor_starts_a_campaign_and_the_agent_completes_a_callback(
    db: Database, tmp_path: Path, clock: FixedClock
) -> None:
    async with db.session() as session:
        customer = await customers.create(session, name="张伟", phones=["13812345678"])
        project = await projects.create(
            session,
            customer=customer,
            contract_number="XA2026-000777",
            rules=ScheduleRules(window_days=3, post_completion_months=0),
            status=ProjectStatus.IN_PROGRESS,
            start_date=date(2026, 10, 10),
            concealed_works_date=date(2026, 10, 30),
            midterm_date=date(2026, 11, 22),
        )
    async with live_system(db, tmp_path, clock=clock, dialer_calls_per_second=20.0) as system:
        agent = await system.login("agent1")
        cookie = "; ".join(f"{k}={v}" for k, v in agent.cookies.items())
        socket = await websockets.connect(
            system.ws_url, additional_headers={"Cookie": cookie}, origin=Origin(system.url)
        )
        assert json.loads(await socket.recv())["type"] == "hello"
        await agent.put("/api/agent/state", json={"status": "ready"})
        supervisor = await system.login("supervisor")
        created = await supervisor.post(
            "/api/campaigns", json={"name": "中期回访", "stages": ["midterm"], "max_concurrent": 1}
        )
        assert created.status_code == 201, created.text
        campaign_id = created.json()["id"]
        assert (await supervisor.post(f"/api/campaigns/{campaign_id}/start")).json()[
            "status"
        ] == "running"

        pop = None
        deadline = time.monotonic() + 20
        while pop is None:
            remaining = deadline - time.monotonic()
            assert remaining > 0, "no pop for the campaign call"
            message = json.loads(await asyncio.wait_for(socket.recv(), remaining))
            if message["type"] == "pop":
                pop = message
        assert pop["customer"]["name"] == "张伟" and pop["task_id"] is not None
        assert pop["call"]["direction"] == "outbound" and pop["call"]["attempt_id"]
        [card_project] = pop["customer"]["projects"]
        task = next(t for t in card_project["callbacks"] if t["id"] == pop["task_id"])
        assert task["stage"] == "midterm" and card_project["id"] == project.id
        await system.sim.wait_calls()
        await system.bridge.drain()

        response = await agent.post(
            f"/api/callbacks/{pop['task_id']}/attempts",
            json={
                "attempt_id": pop["call"]["attempt_id"],
                "outcome": "effective",
                "satisfaction": {"quality": "satisfied", "crew": "satisfied"},
                "notes": "中期验收顺利",
            },
        )
        assert response.status_code == 201 and response.json()["status"] == "done"
        detail = (await supervisor.get(f"/api/campaigns/{campaign_id}")).json()
        [midterm] = detail["progress"]
        assert (
            midterm["stage"],
            midterm["effective"],
            midterm["satisfied"],
            midterm["dialing"],
        ) == ("midterm", 1, 1, 0)
        attempts = (await supervisor.get(f"/api/campaigns/{campaign_id}/attempts")).json()
        assert [a["outcome"] for a in attempts] == ["effective"] and attempts[0]["call_id"]
        export = await supervisor.get(f"/api/campaigns/{campaign_id}/attempts.xlsx")
        assert export.status_code == 200 and export.content[:2] == b"PK"
        await socket.close()
        await agent.aclose()
        await supervisor.aclose()

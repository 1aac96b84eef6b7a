"""The supervisors' actions API without a PBX in the process (issue 17): who may use it, the
4xx answers naming what is wrong, and the audit trail of every action."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from crm.audit import service as audit
from crm.clock import FixedClock
from crm.db import Database
from crm.settings import Settings
from crm.users import service as users
from tests.support.api import Api, running_app

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)

ACTIONS: tuple[tuple[str, dict[str, str]], ...] = (
    ("spy", {"mode": "listen"}),
    ("pause", {"reason": "break"}),
    ("unpause", {}),
    ("logout", {}),
)


@pytest.fixture
async def api(db: Database, settings: Settings, clock: FixedClock) -> AsyncIterator[Api]:
    async with running_app(settings, db, clock=clock) as running:
        yield running


def code(response: httpx.Response) -> tuple[int, str]:
    return response.status_code, response.json()["detail"][0]["code"]


async def test_only_supervisors_and_admins(api: Api) -> None:
    agent2 = api.ids["agent2"]
    for username in ("agent1", "qa", "engineering"):
        for action, body in ACTIONS:
            response = await api[username].post(
                f"/api/supervision/agents/{agent2}/{action}", json=body
            )
            assert code(response) == (403, "forbidden"), (username, action)
    response = await api.anonymous().post(f"/api/supervision/agents/{agent2}/pause", json={})
    assert response.status_code == 401
    for username in ("supervisor", "admin"):
        response = await api[username].post(f"/api/supervision/agents/{agent2}/logout", json={})
        assert response.status_code == 200, (username, response.text)


async def test_unknown_agents_are_404(api: Api) -> None:
    for target in (999_999, api.ids["supervisor"], api.ids["qa"]):  # nobody, or no agent
        for action, body in ACTIONS:
            response = await api["supervisor"].post(
                f"/api/supervision/agents/{target}/{action}", json=body
            )
            assert code(response) == (404, "agent_not_found"), (target, action)
    response = await api["supervisor"].post("/api/supervision/agents/0/pause", json={})
    assert response.status_code == 422  # not an id at all


async def test_listening_needs_the_supervisors_extension_and_the_pbx(
    api: Api, db: Database
) -> None:
    agent1 = api.ids["agent1"]
    path = f"/api/supervision/agents/{agent1}/spy"
    assert code(await api["supervisor"].post(path, json={})) == (422, "no_extension")
    async with db.session() as session:
        boss = await users.get_by_username(session, "supervisor")
        assert boss is not None
        await users.update(session, boss, extension="2001")
    # No PBX from this process (the bridge is another process, or down): 503.
    assert code(await api["supervisor"].post(path, json={})) == (503, "pbx_unavailable")
    response = await api["supervisor"].post(path, json={"mode": "eavesdrop"})
    assert response.status_code == 422
    async with db.session() as session:
        assert await audit.get_all(session, action="supervision.listen") == []


async def test_pausing_checks_the_reason_and_the_agents_state(api: Api, db: Database) -> None:
    agent1, boss = api.ids["agent1"], api["supervisor"]
    base = f"/api/supervision/agents/{agent1}"
    # Logged out: nothing to pause or unpause (a supervisor never logs an agent in).
    assert code(await boss.post(f"{base}/pause", json={"reason": "break"})) == (
        409,
        "agent_logged_out",
    )
    assert code(await boss.post(f"{base}/unpause")) == (409, "agent_not_paused")
    ready = await api["agent1"].put("/api/agent/state", json={"status": "ready"})
    assert ready.status_code == 200
    assert code(await boss.post(f"{base}/pause", json={"reason": "nap"})) == (
        422,
        "unknown_reason",
    )
    assert (await boss.post(f"{base}/pause", json={})).status_code == 422
    paused = await boss.post(f"{base}/pause", json={"reason": "training"})
    assert paused.status_code == 200, paused.text
    assert paused.json() | {"since": None} == {
        "user_id": agent1,
        "status": "paused",
        "reason": "training",
        "since": None,
        "pbx_synced": None,  # no PBX in this process: the bridge's resync puts it in line
    }
    state = await api["agent1"].get("/api/agent/state")
    assert (state.json()["status"], state.json()["reason"]) == ("paused", "training")
    back = await boss.post(f"{base}/unpause")
    assert back.status_code == 200 and back.json()["status"] == "ready"
    out = await api["admin"].post(f"{base}/logout")
    assert out.status_code == 200 and out.json()["status"] == "logged_out"
    async with db.session() as session:
        trail = list(reversed(await audit.get_all(session, entity_type="agent")))
    seen = [(e.action, e.actor, e.entity_id, e.detail["was"], e.detail["status"]) for e in trail]
    assert seen == [
        ("supervision.pause", "supervisor", str(agent1), "ready", "paused"),
        ("supervision.unpause", "supervisor", str(agent1), "paused", "ready"),
        ("supervision.logout", "admin", str(agent1), "ready", "logged_out"),
    ]
    assert trail[0].detail["reason"] == "training" and trail[0].detail["agent_extension"] == "1001"

"""The HTTP API: who may do what (401/403), validation (422 per field), and the behaviour of
each endpoint, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date, timedelta

import pytest

from crm.callbacks.schedule import ScheduleRules
from crm.clock import FixedClock
from crm.customers import service as customers
from crm.db import Database
from crm.projects import service as projects
from crm.settings import Settings
from tests.support.api import PASSWORD, USERS, Api, running_app
from tests.support.rows import found

AGENT, SUPERVISOR, QA, ADMIN, DEPT = "agent1", "supervisor", "qa", "admin", "engineering"
ALL = set(USERS) - {"agent2"}


@pytest.fixture
async def api(db: Database, settings: Settings, clock: FixedClock) -> AsyncIterator[Api]:
    async with running_app(settings, db, clock=clock) as running:
        yield running


async def _customer_with_project(db: Database) -> tuple[int, int]:
    async with db.session() as session:
        customer = await customers.create(
            session,
            name="王建国",
            phones=["13800138000"],
            address="雁塔区科技路1号",
            default_area_code="029",
        )
        project = await projects.create(
            session,
            customer=customer,
            contract_number="XA2026-000001",
            rules=ScheduleRules(window_days=3, post_completion_months=1),
            start_date=date(2026, 11, 10),
            concealed_works_date=date(2026, 11, 25),
        )
        return customer.id, project.id


# Who may use which route, for every route of the app: tests/test_authz_matrix.py.


async def test_login_logout_and_session_cookie(api: Api) -> None:
    client = api.anonymous()
    response = await client.post(
        "/api/auth/login", json={"username": "agent1", "password": PASSWORD}
    )
    cookie = response.headers["set-cookie"]
    assert "httponly" in cookie.lower() and "samesite=lax" in cookie.lower()
    assert response.json()["user"]["extension"] == "1001"
    csrf = response.json()["csrf_token"]
    assert (await client.get("/api/auth/me")).status_code == 200
    assert (await client.post("/api/auth/logout")).status_code == 403  # no CSRF token
    assert (
        await client.post("/api/auth/logout", headers={"X-CSRF-Token": csrf})
    ).status_code == 204
    assert (await client.get("/api/auth/me")).status_code == 401


async def test_state_changing_requests_need_the_csrf_token(api: Api) -> None:
    client = api[AGENT]
    token = client.headers.pop("X-CSRF-Token")
    response = await client.put("/api/agent/state", json={"status": "ready"})
    assert response.status_code == 403
    assert response.json()["detail"][0]["code"] == "csrf_failed"
    response = await client.put(
        "/api/agent/state", json={"status": "ready"}, headers={"X-CSRF-Token": "wrong"}
    )
    assert response.status_code == 403
    client.headers["X-CSRF-Token"] = token
    assert (await client.get("/api/agent/state")).status_code == 200  # reads need none


async def test_bearer_tokens_need_no_csrf(api: Api) -> None:
    client = api.anonymous()
    response = await client.post(
        "/api/auth/tokens", json={"username": "agent1", "password": PASSWORD}
    )
    assert response.status_code == 201
    token = response.json()["token"]
    client.headers["Authorization"] = f"Bearer {token}"
    response = await client.put("/api/agent/state", json={"status": "paused", "reason": "lunch"})
    assert response.status_code == 200, response.text
    client.headers["Authorization"] = "Bearer not-a-token"
    assert (await client.get("/api/agent/state")).status_code == 401


async def test_failed_logins_are_audited_and_rate_limited(api: Api, db: Database) -> None:
    client = api.anonymous()
    for _ in range(5):
        response = await client.post(
            "/api/auth/login", json={"username": "agent2", "password": "guess"}
        )
        assert response.status_code == 401
        assert response.json()["detail"][0]["code"] == "invalid_credentials"
    response = await client.post(
        "/api/auth/login", json={"username": "agent2", "password": PASSWORD}
    )
    assert response.status_code == 429 and "Retry-After" in response.headers
    from crm.audit import service as audit

    async with db.session() as session:
        failures = await audit.get_all(session, action="login_failed")
    assert len(failures) == 5 and all(f.entity_id == "agent2" for f in failures)
    assert all("guess" not in str(f.detail) for f in failures)


async def test_wrong_password_and_unknown_user_look_the_same(api: Api) -> None:
    client = api.anonymous()
    wrong = await client.post("/api/auth/login", json={"username": "agent1", "password": "x"})
    nobody = await client.post("/api/auth/login", json={"username": "nobody", "password": "x"})
    assert wrong.status_code == nobody.status_code == 401
    assert wrong.json() == nobody.json()


async def test_validation_errors_are_per_field(api: Api) -> None:
    response = await api[AGENT].post(
        "/api/customers", json={"name": "", "phones": ["abc"], "grade": "Z"}
    )
    assert response.status_code == 422
    fields = {d["field"] for d in response.json()["detail"]}
    assert "grade" in fields  # schema error first: unknown grade
    response = await api[AGENT].post("/api/customers", json={"name": "", "phones": ["abc"]})
    assert response.status_code == 422
    detail = {d["field"]: d for d in response.json()["detail"]}
    assert set(detail) == {"name", "phones[0]"}
    assert detail["phones[0]"]["code"] == "invalid_phone" and detail["phones[0]"]["message"]
    response = await api[AGENT].post("/api/customers", json={"phones": []})
    assert response.status_code == 422
    assert {"field": "name", "code": "required"}.items() <= response.json()["detail"][0].items()


async def test_admin_creates_users_and_sets_extensions(api: Api) -> None:
    response = await api[ADMIN].post(
        "/api/users",
        json={
            "username": "agent9",
            "password": "password-9",
            "display_name": "赵九",
            "role": "agent",
            "extension": "1009",
        },
    )
    assert response.status_code == 201, response.text
    user_id = response.json()["id"]
    response = await api[ADMIN].post(
        "/api/users",
        json={
            "username": "agent10",
            "password": "password-10",
            "display_name": "钱十",
            "role": "agent",
            "extension": "1009",
        },
    )
    assert response.status_code == 409 and response.json()["detail"][0]["field"] == "extension"
    response = await api[ADMIN].patch(f"/api/users/{user_id}", json={"extension": "1010"})
    assert response.json()["extension"] == "1010"
    response = await api[ADMIN].patch(
        f"/api/users/{user_id}", json={"role": "qa", "clear_extension": True}
    )
    assert response.json()["role"] == "qa" and response.json()["extension"] is None
    agent9 = api.anonymous()
    response = await agent9.post(
        "/api/auth/login", json={"username": "agent9", "password": "password-9"}
    )
    assert response.status_code == 200
    await api[ADMIN].patch(f"/api/users/{user_id}", json={"is_active": False})
    assert (await agent9.get("/api/auth/me")).status_code == 401  # sessions revoked


async def test_customer_card_search_edit_and_notes(api: Api, db: Database) -> None:
    customer_id, project_id = await _customer_with_project(db)
    for query in ("王建国", "+86 138-0013-8000", "XA2026-000001"):
        found = (await api[AGENT].get("/api/customers", params={"q": query})).json()
        assert [c["id"] for c in found] == [customer_id], query
    card = (await api[AGENT].get(f"/api/customers/{customer_id}")).json()
    assert card["grade"] == "B" and card["phones"][0]["display"] == "138 0013 8000"
    [project] = card["projects"]
    assert project["current_stage"] == "start"  # 2026-11-23: after the start, before concealed
    assert [t["stage"] for t in project["callbacks"]] == ["start", "concealed_works"]
    assert project["callbacks"][0]["overdue"] is True  # due 11-10, latest 11-13
    response = await api[AGENT].patch(
        f"/api/customers/{customer_id}",
        json={"grade": "A", "phones": ["13800138000", "029-8888 6666"]},
    )
    assert response.status_code == 200
    assert response.json()["grade"] == "A" and len(response.json()["phones"]) == 2
    tasks = (await api[AGENT].get(f"/api/projects/{project_id}/callbacks")).json()
    assert len(tasks) == 2
    response = await api[AGENT].post(
        f"/api/customers/{customer_id}/notes", json={"text": "客户周末在家"}
    )
    assert "客户周末在家" in response.json()["notes"] and "AGENT1" in response.json()["notes"]
    assert (await api[AGENT].get("/api/customers/999999")).status_code == 404


async def test_logging_a_callback_attempt(api: Api, db: Database) -> None:
    _, project_id = await _customer_with_project(db)
    task = (await api[AGENT].get(f"/api/projects/{project_id}/callbacks")).json()[0]
    response = await api[AGENT].post(
        f"/api/callbacks/{task['id']}/attempts", json={"outcome": "effective"}
    )
    assert response.status_code == 422
    assert response.json()["detail"][0]["code"] == "satisfaction_required"
    response = await api[AGENT].post(
        f"/api/callbacks/{task['id']}/attempts",
        json={
            "outcome": "effective",
            "notes": "满意",
            "satisfaction": {
                "quality": "satisfied",
                "crew": "satisfied",
                "supervisor": "neutral",
                "designer": "satisfied",
            },
        },
    )
    assert response.status_code == 201, response.text
    card = response.json()
    assert card["status"] == "done" and card["effective"] and card["overdue"] is False
    [attempt] = card["attempts"]
    assert attempt["agent_name"] == "AGENT1" and attempt["satisfaction"]["supervisor"] == "neutral"
    later = (api.app.state.services.clock.now() + timedelta(days=1)).isoformat()
    response = await api[AGENT].post(
        f"/api/callbacks/{task['id'] + 1}/attempts",
        json={"outcome": "call_later", "call_back_at": later},
    )
    assert response.status_code == 201 and response.json()["status"] == "pending"


async def test_agent_state_changes_are_recorded(api: Api) -> None:
    client = api[AGENT]
    assert (await client.get("/api/agent/state")).json()["status"] == "logged_out"
    response = await client.put("/api/agent/state", json={"status": "paused"})
    assert response.status_code == 422 and response.json()["detail"][0]["field"] == "reason"
    response = await client.put("/api/agent/state", json={"status": "paused", "reason": "naptime"})
    assert response.json()["detail"][0]["code"] == "unknown_reason"
    response = await client.put("/api/agent/state", json={"status": "wrapup"})
    assert response.json()["detail"][0]["code"] == "wrapup_is_automatic"
    response = await client.put("/api/agent/state", json={"status": "paused", "reason": "lunch"})
    assert response.status_code == 200
    body = response.json()
    assert (body["status"], body["reason"], body["pbx_synced"]) == ("paused", "lunch", None)
    assert "training" in body["pause_reasons"]
    agents = (await api[SUPERVISOR].get("/api/agents")).json()
    mine = next(a for a in agents if a["username"] == "agent1")
    assert (mine["status"], mine["reason"]) == ("paused", "lunch")


async def test_dial_needs_a_connected_pbx(api: Api) -> None:
    response = await api[AGENT].post("/api/calls/dial", json={"number": "13800138000"})
    assert response.status_code == 503
    assert response.json()["detail"][0]["code"] == "pbx_unavailable"


async def test_metrics_and_health(api: Api) -> None:
    client = api.anonymous()
    body = (await client.get("/metrics")).text
    assert "callcentre_pop_latency_seconds_bucket" in body
    assert (await client.get("/healthz")).json()["status"] == "ok"


async def test_a_new_agents_state_can_be_read_twice_at_once(api: Api) -> None:
    import asyncio

    responses = await asyncio.gather(*(api["agent2"].get("/api/agent/state") for _ in range(4)))
    assert [r.status_code for r in responses] == [200] * 4
    assert {r.json()["status"] for r in responses} == {"logged_out"}
    assert responses[0].json()["server_time"]


async def test_an_attempt_is_linked_to_the_call_by_its_linkedid(
    api: Api, db: Database, clock: FixedClock
) -> None:
    from crm.callbacks.models import CallbackAttempt
    from crm.calls.models import Call, Direction

    customer_id, project_id = await _customer_with_project(db)
    async with db.session() as session:
        call = Call(
            linkedid="1795438127.0",
            direction=Direction.INBOUND,
            started_at=clock.now(),
            customer_id=customer_id,
        )
        session.add(call)
    task = (await api[AGENT].get(f"/api/projects/{project_id}/callbacks")).json()[0]
    response = await api[AGENT].post(
        f"/api/callbacks/{task['id']}/attempts",
        json={"outcome": "refused", "linkedid": "1795438127.0"},
    )
    assert response.status_code == 201
    async with db.session() as session:
        attempt = found(await session.get(CallbackAttempt, response.json()["attempts"][0]["id"]))
    assert attempt.call_id == call.id

"""The HTTP API: who may do what (401/403), validation (422 per field), and the behaviour of
each endpoint, on SQLite and PostgreSQL."""

from __future__ import annotations

import re
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


# Every endpoint and the roles it admits; the rest must get 403, nobody logged in 401.
MATRIX = [
    ("GET", "/api/auth/me", None, ALL),
    ("GET", "/api/users", None, {ADMIN}),
    (
        "POST",
        "/api/users",
        {"username": "x1", "password": "password-x", "display_name": "X", "role": "qa"},
        {ADMIN},
    ),
    ("PATCH", "/api/users/{agent2}", {"display_name": "Agent Two"}, {ADMIN}),
    ("GET", "/api/customers?q=王", None, {AGENT, SUPERVISOR, QA, ADMIN}),
    ("GET", "/api/customers/{customer}", None, {AGENT, SUPERVISOR, QA, ADMIN}),
    (
        "POST",
        "/api/customers",
        {"name": "新客户", "phones": ["13911112222"]},
        {AGENT, SUPERVISOR, ADMIN},
    ),
    ("PATCH", "/api/customers/{customer}", {"address": "新地址"}, {AGENT, SUPERVISOR, ADMIN}),
    (
        "POST",
        "/api/customers/{customer}/notes",
        {"text": "客户周末在家"},
        {AGENT, SUPERVISOR, ADMIN},
    ),
    ("GET", "/api/projects/{project}/callbacks", None, {AGENT, SUPERVISOR, QA, ADMIN}),
    ("POST", "/api/callbacks/{task}/attempts", {"outcome": "no_answer"}, {AGENT, SUPERVISOR}),
    ("GET", "/api/agent/state", None, {AGENT}),
    ("PUT", "/api/agent/state", {"status": "ready"}, {AGENT}),
    ("GET", "/api/agents", None, {SUPERVISOR, ADMIN}),
    ("GET", "/api/calls/mine", None, {AGENT}),
    ("GET", "/api/calls/live", None, {AGENT}),
    ("POST", "/api/calls/dial", {"number": "13800138000"}, {AGENT}),
    ("GET", "/api/calls/{call}/recording", None, {AGENT, SUPERVISOR, QA}),
    ("GET", "/api/qa/calls", None, {AGENT, SUPERVISOR, QA}),
    ("GET", "/api/qa/calls/{call}", None, {AGENT, SUPERVISOR, QA}),
    (
        "POST",
        "/api/qa/calls/{call}/reviews",
        {"rule_id": "greeting", "decision": "confirmed"},
        {SUPERVISOR, QA},
    ),
    ("GET", "/api/campaigns", None, {SUPERVISOR, ADMIN}),
    ("POST", "/api/campaigns", {"name": "中期回访", "stages": ["midterm"]}, {SUPERVISOR, ADMIN}),
    ("GET", "/api/campaigns/{campaign}", None, {SUPERVISOR, ADMIN}),
    ("PATCH", "/api/campaigns/{campaign}", {"max_concurrent": 3}, {SUPERVISOR, ADMIN}),
    ("POST", "/api/campaigns/{campaign}/start", None, {SUPERVISOR, ADMIN}),
    ("POST", "/api/campaigns/{campaign}/pause", None, {SUPERVISOR, ADMIN}),
    ("POST", "/api/campaigns/{campaign}/stop", None, {SUPERVISOR, ADMIN}),
    ("GET", "/api/campaigns/{campaign}/attempts", None, {SUPERVISOR, ADMIN}),
    ("GET", "/api/campaigns/{campaign}/attempts.xlsx", None, {SUPERVISOR, ADMIN}),
    ("GET", "/api/wallboard", None, {SUPERVISOR, ADMIN}),
    ("GET", "/api/complaints", None, {AGENT, SUPERVISOR, DEPT, ADMIN}),
    ("GET", "/api/complaints/options", None, {AGENT, SUPERVISOR, DEPT, ADMIN}),
    (
        "POST",
        "/api/complaints",
        {"department": "工程部", "category": "quality", "description": "墙面开裂"},
        {AGENT, SUPERVISOR},
    ),
    ("GET", "/api/complaints/{complaint}", None, {AGENT, SUPERVISOR, DEPT, ADMIN}),
    (
        "POST",
        "/api/complaints/{complaint}/steps/{signed}",
        {"signed_by": "李工"},
        {AGENT, SUPERVISOR, DEPT},
    ),
    ("POST", "/api/complaints/{complaint}/call-back", {"satisfied": True}, {AGENT, SUPERVISOR}),
    (
        "POST",
        "/api/complaints/{complaint}/escalate",
        {"reason": "客户要求赔偿"},
        {AGENT, SUPERVISOR},
    ),
    (
        "POST",
        "/api/complaints/{complaint}/compensation",
        {"amount": "500"},
        {AGENT, SUPERVISOR, DEPT},
    ),
    ("POST", "/api/complaints/{complaint}/compensation/approve", None, {SUPERVISOR}),
    ("GET", "/api/repairs", None, {AGENT, SUPERVISOR, DEPT, ADMIN}),
    ("GET", "/api/repairs/crews", None, {AGENT, SUPERVISOR, DEPT, ADMIN}),
    ("POST", "/api/repairs", {"description": "水管漏水"}, {AGENT, SUPERVISOR}),
    ("GET", "/api/repairs/{repair}", None, {AGENT, SUPERVISOR, DEPT, ADMIN}),
    ("POST", "/api/repairs/{repair}/arrived", {}, {AGENT, SUPERVISOR, DEPT}),
    ("POST", "/api/repairs/{repair}/completed", {}, {AGENT, SUPERVISOR, DEPT}),
    ("POST", "/api/repairs/{repair}/call-during", {}, {AGENT, SUPERVISOR}),
    (
        "POST",
        "/api/repairs/{repair}/call-after",
        {"satisfaction": "satisfied"},
        {AGENT, SUPERVISOR},
    ),
    (
        "POST",
        "/api/access-requests",
        {"reason": "核对施工问题", "wanted_until": "2026-12-01T00:00:00+08:00"},
        {DEPT},
    ),
    ("GET", "/api/access-requests", None, {DEPT, SUPERVISOR, ADMIN}),
    ("POST", "/api/access-requests/{grant}/approve", {}, {SUPERVISOR}),
    ("POST", "/api/access-requests/{grant}/reject", {}, {SUPERVISOR}),
    ("GET", "/api/reports/{weekly}?date=2026-11-23", None, {SUPERVISOR, ADMIN, QA}),
    ("GET", "/api/reports/{daily}.xlsx?date=2026-11-22", None, {SUPERVISOR, ADMIN, QA}),
    ("GET", "/api/reports/{daily}.pdf?date=2026-11-22", None, {SUPERVISOR, ADMIN, QA}),
    ("GET", "/api/granted/projects/{project}/callbacks", None, {DEPT}),  # approved above
    ("POST", "/api/access-requests/{grant}/revoke", {}, {SUPERVISOR}),
]


async def test_every_endpoint_declares_its_roles(api: Api, db: Database, clock: FixedClock) -> None:
    from crm.calls.models import Call, Direction

    customer_id, project_id = await _customer_with_project(db)
    tasks = (await api[SUPERVISOR].get(f"/api/projects/{project_id}/callbacks")).json()
    campaign = (await api[SUPERVISOR].post("/api/campaigns", json={"name": "开工回访"})).json()
    async with db.session() as session:
        call = Call(
            linkedid="matrix.1",
            direction=Direction.INBOUND,
            started_at=clock.now(),
            agent_id=api.ids["agent1"],
        )
        session.add(call)
        await session.flush()
        call_id = call.id
    complaint = (
        await api[AGENT].post(
            "/api/complaints",
            json={
                "customer_id": customer_id,
                "department": "工程部",
                "category": "quality",
                "description": "墙面开裂",
            },
        )
    ).json()
    repair = (
        await api[AGENT].post(
            "/api/repairs",
            json={"customer_id": customer_id, "crew": "一队", "description": "水管漏水"},
        )
    ).json()
    grant = (
        await api[DEPT].post(
            "/api/access-requests",
            json={
                "project_id": project_id,
                "reason": "核对施工问题",
                "wanted_until": (clock.now() + timedelta(days=7)).isoformat(),
            },
        )
    ).json()
    ids = {
        "customer": customer_id,
        "project": project_id,
        "task": tasks[0]["id"],
        "agent2": api.ids["agent2"],
        "campaign": campaign["id"],
        "call": call_id,
        "complaint": complaint["id"],
        "repair": repair["id"],
        "grant": grant["id"],
        "signed": "signed",
        "weekly": "weekly",
        "daily": "daily",
    }
    anonymous = api.anonymous()
    covered = set()
    for method, path, body, allowed in MATRIX:
        url = path.format(**ids)
        covered.add((method, path.split("?")[0]))
        response = await anonymous.request(method, url, json=body)
        assert response.status_code == 401, (method, url, response.text)
        for username in ALL:
            response = await api[username].request(method, url, json=body)
            if username in allowed:
                assert response.status_code not in (401, 403), (
                    username,
                    method,
                    url,
                    response.text,
                )
            else:
                assert response.status_code == 403, (username, method, url, response.text)
                assert response.json()["detail"][0]["code"] == "forbidden"
    open_paths = {"/api/auth/login", "/api/auth/logout", "/api/auth/tokens"}
    shape = re.compile(r"\{[^}]*\}")
    routes = {
        (method.upper(), shape.sub("{}", path))
        for path, item in api.app.openapi()["paths"].items()
        if path.startswith("/api/") and path not in open_paths
        for method in item
    }
    missing = routes - {(m, shape.sub("{}", p)) for m, p in covered}
    assert not missing, f"endpoints missing from the role matrix: {missing}"


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
        attempt = await session.get(CallbackAttempt, response.json()["attempts"][0]["id"])
    assert attempt.call_id == call.id

"""Complaints, repairs and access grants through the API: an unsatisfied callback becomes
complaints for the departments answering for it, the complaint's call back closes it, deadline
warnings reach the responsible people's websockets, and grants expire."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date, timedelta

import pytest

from crm.audit import service as audit
from crm.callbacks.schedule import ScheduleRules
from crm.clock import FixedClock
from crm.customers import service as customers
from crm.db import Database
from crm.projects import service as projects
from crm.settings import Settings
from tests.support.api import Api, running_app

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
AGENT, SUPERVISOR, DEPT = "agent1", "supervisor", "engineering"


@pytest.fixture
async def api(db: Database, settings: Settings, clock: FixedClock) -> AsyncIterator[Api]:
    # Logins outlive the days these tests move the clock through.
    long_logins = settings.model_copy(update={"session_hours": 24 * 30})
    async with running_app(long_logins, db, clock=clock) as running:
        yield running


async def _project(db: Database) -> tuple[int, int]:
    async with db.session() as session:
        customer = await customers.create(session, name="王建国", phones=["13800138000"])
        project = await projects.create(
            session,
            customer=customer,
            contract_number="XA-7",
            crew="张师傅施工队",
            rules=ScheduleRules(),
            start_date=date(2026, 11, 20),
        )
        return customer.id, project.id


SATISFIED = {
    "quality": "satisfied",
    "crew": "satisfied",
    "supervisor": "satisfied",
    "designer": "satisfied",
}


async def test_an_unsatisfied_callback_becomes_complaints_closed_by_their_call_back(
    api: Api, db: Database, clock: FixedClock
) -> None:
    customer_id, project_id = await _project(db)
    [start] = (await api[AGENT].get(f"/api/projects/{project_id}/callbacks")).json()
    response = await api[AGENT].post(
        f"/api/callbacks/{start['id']}/attempts",
        json={
            "outcome": "effective",
            "notes": "客户说墙面开裂，设计图与现场不符",
            "satisfaction": {**SATISFIED, "quality": "unsatisfied", "designer": "unsatisfied"},
        },
    )
    assert response.status_code == 201, response.text
    assert response.json()["status"] == "pending"  # open for the follow-up

    opened = (
        await api[SUPERVISOR].get("/api/complaints", params={"customer_id": customer_id})
    ).json()
    assert sorted((c["department"], c["category"]) for c in opened) == [
        ("工程部", "quality"),
        ("设计部", "designer"),
    ]
    assert {c["source"] for c in opened} == {"callback"}
    assert {c["first_contact_id"] for c in opened} == {api.ids[AGENT]}
    works = next(c for c in opened if c["department"] == "工程部")
    assert works["urgent"] is None and works["clocks"][0]["state"] == "running"
    assert works["next_due_at"] is not None
    # The engineering department sees its own complaint only.
    assert [c["id"] for c in (await api[DEPT].get("/api/complaints")).json()] == [works["id"]]
    design = next(c for c in opened if c["department"] == "设计部")
    assert (await api[DEPT].get(f"/api/complaints/{design['id']}")).status_code == 404

    for complaint in opened:
        url = f"/api/complaints/{complaint['id']}/steps"
        clock.advance(hours=1)
        assert (await api[DEPT].post(f"{url}/signed", json={"signed_by": "李工"})).status_code in (
            200,
            404,
        )
        await api[SUPERVISOR].post(f"{url}/signed", json={"signed_by": "赵工"})
        bad = await api[SUPERVISOR].post(f"{url}/resolved", json={})
        assert bad.status_code == 409 and bad.json()["detail"][0]["code"] == "step_out_of_order"
        await api[SUPERVISOR].post(f"{url}/verified", json={})
        visit = (clock.now() + timedelta(days=1)).isoformat()
        await api[SUPERVISOR].post(f"{url}/solution", json={"solution": "返工", "visit_at": visit})
        clock.advance(hours=20)
        done = await api[SUPERVISOR].post(f"{url}/resolved", json={"notes": "已修复"})
        assert done.status_code == 200 and done.json()["status"] == "resolved", done.text

    tasks = (await api[AGENT].get(f"/api/projects/{project_id}/callbacks")).json()
    call_backs = [t for t in tasks if t["stage"] == "complaint"]
    assert len(call_backs) == 2 and all(t["status"] == "pending" for t in call_backs)
    assert sorted(t["complaint_id"] for t in call_backs) == sorted(c["id"] for c in opened)
    assert {t["month"] for t in call_backs} == {0}
    assert {t["complaint_id"] for t in tasks if t["stage"] != "complaint"} == {None}
    clock.advance(hours=2)
    for task in call_backs:
        response = await api[AGENT].post(
            f"/api/callbacks/{task['id']}/attempts",
            json={"outcome": "effective", "satisfaction": {"quality": "satisfied"}},
        )
        assert response.status_code == 201 and response.json()["status"] == "done"
    for complaint in opened:
        view = (await api[SUPERVISOR].get(f"/api/complaints/{complaint['id']}")).json()
        assert view["status"] == "closed" and view["callback_satisfied"] is True
        assert [e["kind"] for e in view["events"]][-1] == "call_back"
    stage = next(
        t
        for t in (await api[AGENT].get(f"/api/projects/{project_id}/callbacks")).json()
        if t["id"] == start["id"]
    )
    assert stage["status"] == "done"  # followed up once every complaint was closed


async def test_complaints_from_a_call_escalation_and_compensation_approval(
    api: Api, db: Database, clock: FixedClock
) -> None:
    customer_id, project_id = await _project(db)
    invalid = await api[AGENT].post(
        "/api/complaints",
        json={
            "customer_id": customer_id,
            "department": "市场部",
            "category": "mood",
            "description": " ",
        },
    )
    assert invalid.status_code == 422
    assert {p["code"] for p in invalid.json()["detail"]} == {
        "unknown_department",
        "unknown_category",
        "required",
    }
    response = await api[AGENT].post(
        "/api/complaints",
        json={
            "customer_id": customer_id,
            "project_id": project_id,
            "department": "工程部",
            "category": "crew",
            "description": "工人态度差",
            "customer_demand": "换施工队",
        },
    )
    assert response.status_code == 201
    complaint = response.json()
    assert complaint["source"] == "api" and complaint["grade"] == "general"
    url = f"/api/complaints/{complaint['id']}"
    escalated = (await api[AGENT].post(f"{url}/escalate", json={"reason": "客户要求赔偿"})).json()
    assert escalated["grade"] == "major"
    assert (
        await api[DEPT].post(f"{url}/compensation", json={"amount": "1200.50"})
    ).status_code == 200
    refused = await api[AGENT].post(f"{url}/compensation/approve")
    assert refused.status_code == 403
    approved = await api[SUPERVISOR].post(f"{url}/compensation/approve")
    assert approved.status_code == 200 and approved.json()["compensation"] == "1200.50"
    async with db.session() as session:
        [entry] = await audit.get_all(session, action="complaint.compensation_approved")
        assert entry.detail == {"amount": "1200.50"}
    unknown_call = await api[AGENT].post(
        "/api/complaints",
        json={"linkedid": "nope.1", "department": "工程部", "category": "crew", "description": "x"},
    )
    assert unknown_call.status_code == 404


async def test_deadline_warnings_reach_the_responsible_peoples_websockets(
    api: Api, db: Database, clock: FixedClock
) -> None:
    customer_id, project_id = await _project(db)
    complaint = (
        await api[AGENT].post(
            "/api/complaints",
            json={
                "customer_id": customer_id,
                "project_id": project_id,
                "department": "工程部",
                "category": "quality",
                "description": "漏水",
            },
        )
    ).json()
    svc = api.app.state.services
    alerts = api.app.state.deadline_alerts
    assert await alerts.check() == []
    clock.advance(hours=3, minutes=5)
    [sent] = await alerts.check()
    assert sent.state == "overdue" and sent.id == complaint["id"]
    for username in (AGENT, SUPERVISOR, DEPT):
        [message] = [
            d.message
            for d in svc.outbox.since(api.ids[username], 0)
            if d.message["type"] == "deadline"
        ]
        assert message["kind"] == "complaint" and message["step"] == "signed"
        assert message["state"] == "overdue" and message["customer"] == "王建国"
    assert not [
        d for d in svc.outbox.since(api.ids["agent2"], 0) if d.message["type"] == "deadline"
    ]
    assert await alerts.check() == []  # once only
    overdue = (await api[SUPERVISOR].get("/api/complaints", params={"state": "overdue"})).json()
    assert [c["id"] for c in overdue] == [complaint["id"]]
    assert overdue[0]["urgent"]["step"] == "signed"


async def test_repairs_through_the_api(api: Api, db: Database, clock: FixedClock) -> None:
    customer_id, project_id = await _project(db)
    repair = (
        await api[AGENT].post(
            "/api/repairs",
            json={"customer_id": customer_id, "project_id": project_id, "description": "水管漏水"},
        )
    ).json()
    assert repair["crew"] == "张师傅施工队" and repair["status"] == "assigned"
    url = f"/api/repairs/{repair['id']}"
    premature = await api[AGENT].post(f"{url}/call-after", json={"satisfaction": "satisfied"})
    assert premature.status_code == 409
    clock.advance(hours=9)
    assert [
        r["id"]
        for r in (await api[SUPERVISOR].get("/api/repairs", params={"overdue": True})).json()
    ] == [repair["id"]]
    arrived = (await api[DEPT].post(f"{url}/arrived", json={})).json()
    assert arrived["arrival_late"] is True and arrived["status"] == "on_site"
    await api[AGENT].post(f"{url}/call-during", json={"notes": "师傅已到"})
    await api[DEPT].post(f"{url}/completed", json={})
    closed = (
        await api[AGENT].post(f"{url}/call-after", json={"satisfaction": "unsatisfied"})
    ).json()
    assert closed["status"] == "closed" and closed["satisfaction"] == "unsatisfied"
    [crew] = (await api[SUPERVISOR].get("/api/repairs/crews")).json()
    assert crew == {
        "crew": "张师傅施工队",
        "repairs": 1,
        "arrived": 1,
        "arrived_on_time": 0,
        "on_time_rate": 0.0,
        "satisfied": 0,
        "neutral": 0,
        "unsatisfied": 1,
    }


async def test_departments_read_callbacks_only_under_an_unexpired_grant(
    api: Api, db: Database, clock: FixedClock
) -> None:
    _, project_id = await _project(db)
    url = f"/api/granted/projects/{project_id}/callbacks"
    refused = await api[DEPT].get(url)
    assert refused.status_code == 403 and refused.json()["detail"][0]["code"] == "no_grant"
    assert (await api[AGENT].get(url)).status_code == 403  # not a department
    bad = await api[DEPT].post(
        "/api/access-requests",
        json={"reason": " ", "wanted_until": (clock.now() - timedelta(hours=1)).isoformat()},
    )
    assert {p["code"] for p in bad.json()["detail"]} == {"one_target", "required", "in_the_past"}
    grant = (
        await api[DEPT].post(
            "/api/access-requests",
            json={
                "project_id": project_id,
                "reason": "核对隐蔽工程问题",
                "wanted_until": (clock.now() + timedelta(days=7)).isoformat(),
            },
        )
    ).json()
    assert grant["status"] == "requested"
    assert (await api[DEPT].get(url)).status_code == 403  # not approved yet
    too_long = await api[SUPERVISOR].post(
        f"/api/access-requests/{grant['id']}/approve",
        json={"expires_at": (clock.now() + timedelta(days=8)).isoformat()},
    )
    assert too_long.json()["detail"][0]["code"] == "beyond_request"
    approved = (
        await api[SUPERVISOR].post(
            f"/api/access-requests/{grant['id']}/approve",
            json={"expires_at": (clock.now() + timedelta(days=2)).isoformat(), "note": "两天"},
        )
    ).json()
    assert approved["status"] == "approved"
    card = await api[DEPT].get(url)
    assert card.status_code == 200 and card.json()["id"] == project_id
    clock.advance(days=2, seconds=1)
    assert (await api[DEPT].get(url)).status_code == 403
    [mine] = (await api[DEPT].get("/api/access-requests")).json()
    assert mine["status"] == "expired"
    async with db.session() as session:
        reads = await audit.get_all(session, entity_type="project", entity_id=project_id)
    assert [e.action for e in reversed(reads)] == [
        "callbacks.read_refused",
        "callbacks.read_refused",
        "callbacks.read_under_grant",
        "callbacks.read_refused",
    ]
    assert reads[1].detail == {"grant_id": grant["id"]}

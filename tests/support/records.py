"""One record of every kind the API's paths name, for tests that visit every route (the
authorisation matrix, the API fuzzer): their ids by path parameter name."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from sqlalchemy import select

from crm.access import service as access
from crm.callbacks.models import CallbackTask
from crm.callbacks.schedule import ScheduleRules
from crm.calls.models import Call, CallOutcome, Direction
from crm.customers import service as customers
from crm.db import Database
from crm.importer import service as import_jobs
from crm.projects import service as projects
from crm.quality import feedback as qa_feedback
from crm.quality.models import QaAssignment
from crm.quality.sampling import SampleReason, week_of
from tests.support.api import Api


async def seed_records(api: Api, db: Database, now: datetime) -> dict[str, object]:
    """A customer with a project and its callbacks, an answered call of agent1's with its
    recording's path (in the QA review queue, with a reviewer's feedback), a complaint, a
    repair, a campaign, the department's grant on the project (approved) and an uploaded
    spreadsheet being checked: every path parameter the app declares, filled."""
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
        task_id = await session.scalar(
            select(CallbackTask.id).where(CallbackTask.project_id == project.id).limit(1)
        )
        call = Call(
            linkedid="records.1",
            direction=Direction.INBOUND,
            started_at=now - timedelta(minutes=10),
            answered_at=now - timedelta(minutes=9),
            ended_at=now - timedelta(minutes=5),
            outcome=CallOutcome.ANSWERED,
            customer_id=customer.id,
            agent_id=api.ids["agent1"],
            recording="/var/spool/asterisk/monitor/records-1.wav",
        )
        session.add(call)
        await session.flush()
        grant = await access.request_access(
            session,
            requester_id=api.ids["engineering"],
            project_id=project.id,
            reason="核对施工问题",
            wanted_until=now + timedelta(days=7),
            now=now,
        )
        await access.decide(session, grant, approve=True, decided_by=api.ids["supervisor"], at=now)
        queued = QaAssignment(
            call_id=call.id,
            agent_id=api.ids["agent1"],
            week=week_of(call.started_at, api.app.state.settings.tz),
            reason=SampleReason.COMPLAINT,
            assigned_at=now,
        )
        session.add(queued)
        feedback = await qa_feedback.send(
            session, call_id=call.id, reviewer_id=api.ids["qa"], comment="开场很好", at=now
        )
        # An upload still being checked: its commit is refused (409), nothing runs.
        job = await import_jobs.create_job(
            session,
            created_by_id=api.ids["admin"],
            filename="客户.csv",
            content="客户姓名,电话\n王建国,13800138000\n".encode(),
            at=now,
        )
        ids: dict[str, object] = {
            "customer_id": customer.id,
            "project_id": project.id,
            "task_id": task_id,
            "call_id": call.id,
            "linkedid": call.linkedid,
            "grant_id": grant.id,
            "user_id": api.ids["agent2"],
            "agent_id": api.ids["agent2"],
            "assignment_id": queued.id,
            "feedback_id": feedback.id,
            "job_id": job.id,
        }
    complaint = await api["agent1"].post(
        "/api/complaints",
        json={
            "customer_id": ids["customer_id"],
            "department": "工程部",
            "category": "quality",
            "description": "墙面开裂",
        },
    )
    repair = await api["agent1"].post(
        "/api/repairs",
        json={"customer_id": ids["customer_id"], "crew": "一队", "description": "水管漏水"},
    )
    campaign = await api["supervisor"].post("/api/campaigns", json={"name": "开工回访"})
    for response in (complaint, repair, campaign):
        assert response.status_code == 201, response.text
    ids.update(
        complaint_id=complaint.json()["id"],
        repair_id=repair.json()["id"],
        campaign_id=campaign.json()["id"],
        step="signed",
        kind="daily",
    )
    return ids

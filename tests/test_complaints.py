"""Complaints and repairs against the clock: every time limit, reopening, escalation and
compensation, the call-back task, and the once-only deadline warnings."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from crm.callbacks.models import CallbackTask, Satisfaction, Stage, TaskStatus
from crm.callbacks.schedule import ScheduleRules
from crm.complaints import service as complaints
from crm.complaints.alerts import claim_alerts
from crm.complaints.models import Complaint, ComplaintGrade, ComplaintSource, ComplaintStatus
from crm.complaints.rules import ComplaintRules
from crm.complaints.time_limits import Step, TimeLimitState
from crm.customers import service as customers
from crm.db import Database
from crm.errors import Conflict, ValidationError
from crm.projects import service as projects
from crm.repairs import service as repairs
from crm.settings import Settings
from crm.users import service as users
from crm.users.models import Role

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
TZ = ZoneInfo("Asia/Shanghai")
RECEIVED = datetime(2026, 11, 23, 10, 0, tzinfo=TZ)  # a Monday


def local(year: int, month: int, day: int, hour: int, minute: int) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=TZ)


@pytest.fixture
def rules(settings: Settings) -> ComplaintRules:
    return ComplaintRules.of(settings)


# The people of these tests: key, username, display name, role, extension, department.
STAFF = (
    ("agent", "agent1", "小王", Role.AGENT, "1001", None),
    ("boss", "boss", "经理", Role.SUPERVISOR, None, None),
    ("works", "works", "工程部", Role.DEPARTMENT, None, "工程部"),
    ("design", "design", "设计部", Role.DEPARTMENT, None, "设计部"),
)


async def _people_and_project(db: Database) -> dict[str, int]:
    async with db.session() as session:
        ids = {
            key: (
                await users.create(
                    session,
                    username=username,
                    password="password-1",
                    display_name=name,
                    role=role,
                    extension=extension,
                    department=department,
                )
            ).id
            for key, username, name, role, extension, department in STAFF
        }
        customer = await customers.create(session, name="王建国", phones=["13800138000"])
        project = await projects.create(
            session,
            customer=customer,
            contract_number="XA-1",
            crew="张师傅施工队",
            rules=ScheduleRules(),
            start_date=date(2026, 11, 1),
        )
        return ids | {"customer": customer.id, "project": project.id}


async def _open(
    db: Database,
    rules: ComplaintRules,
    ids: dict[str, int],
    *,
    at: datetime = RECEIVED,
    grade: ComplaintGrade = ComplaintGrade.GENERAL,
) -> int:
    async with db.session() as session:
        complaint = await complaints.open_complaint(
            session,
            rules,
            customer_id=ids["customer"],
            project_id=ids["project"],
            source=ComplaintSource.CALL,
            department="工程部",
            category="quality",
            description="卫生间墙面开裂",
            received_at=at,
            grade=grade,
            first_contact_id=ids["agent"],
        )
        return complaint.id


async def _step(
    db: Database,
    rules: ComplaintRules,
    complaint_id: int,
    step: Step,
    at: datetime,
    *,
    signed_by: str | None = None,
    solution: str | None = None,
    visit_at: datetime | None = None,
) -> None:
    async with db.session() as session:
        complaint = await complaints.get_or_raise(session, complaint_id)
        await complaints.advance(
            session,
            rules,
            complaint,
            step,
            at=at,
            now=at,
            actor_id=None,
            signed_by=signed_by,
            solution=solution,
            visit_at=visit_at,
        )


async def _resolve(
    db: Database, rules: ComplaintRules, complaint_id: int, start: datetime
) -> datetime:
    await _step(db, rules, complaint_id, Step.SIGNED, start + timedelta(hours=1), signed_by="李工")
    await _step(db, rules, complaint_id, Step.VERIFIED, start + timedelta(hours=5))
    await _step(
        db,
        rules,
        complaint_id,
        Step.SOLUTION,
        start + timedelta(hours=8),
        solution="铲除重做",
        visit_at=start + timedelta(days=1),
    )
    resolved = start + timedelta(hours=30)
    await _step(db, rules, complaint_id, Step.RESOLVED, resolved)
    return resolved


async def test_a_general_complaint_runs_its_steps_in_order_against_the_clocks(
    db: Database, rules: ComplaintRules
) -> None:
    ids = await _people_and_project(db)
    complaint_id = await _open(db, rules, ids)
    async with db.session() as session:
        complaint = await complaints.get_or_raise(session, complaint_id)
        assert complaint.next_due_at == RECEIVED + timedelta(hours=3)
        assert complaint.first_contact_id == ids["agent"]
        with pytest.raises(Conflict) as out_of_order:
            await complaints.advance(
                session, rules, complaint, Step.VERIFIED, at=RECEIVED, now=RECEIVED, actor_id=None
            )
        assert out_of_order.value.problems[0].code == "step_out_of_order"
        with pytest.raises(ValidationError) as unsigned:
            await complaints.advance(
                session,
                rules,
                complaint,
                Step.SIGNED,
                at=RECEIVED,
                now=RECEIVED,
                actor_id=None,
                signed_by=" ",
            )
        assert unsigned.value.problems[0].field == "signed_by"
        with pytest.raises(ValidationError) as future:
            await complaints.advance(
                session,
                rules,
                complaint,
                Step.SIGNED,
                at=RECEIVED + timedelta(hours=1),
                now=RECEIVED,
                actor_id=None,
                signed_by="李工",
            )
        assert future.value.problems[0].code == "in_the_future"

    # Signed four hours in: one hour late. The verification call is then the next deadline.
    await _step(
        db, rules, complaint_id, Step.SIGNED, RECEIVED + timedelta(hours=4), signed_by="李工"
    )
    async with db.session() as session:
        complaint = await complaints.get_or_raise(session, complaint_id)
        assert complaint.next_due_at == RECEIVED + timedelta(hours=24)
        states = {
            c.step: c.state
            for c in complaints.time_limits_of(complaint, rules, RECEIVED + timedelta(hours=20))
        }
        assert states[Step.SIGNED] is TimeLimitState.DONE_LATE
        assert states[Step.VERIFIED] is TimeLimitState.DUE_SOON
        assert states[Step.RESOLVED] is TimeLimitState.RUNNING
        assert states[Step.CALLBACK] is TimeLimitState.WAITING
        with pytest.raises(Conflict) as twice:
            await complaints.advance(
                session,
                rules,
                complaint,
                Step.SIGNED,
                at=RECEIVED + timedelta(hours=5),
                now=RECEIVED + timedelta(hours=5),
                actor_id=None,
                signed_by="李工",
            )
        assert twice.value.problems[0].code == "step_done"

    await _step(db, rules, complaint_id, Step.VERIFIED, RECEIVED + timedelta(hours=6))
    with pytest.raises(ValidationError) as no_solution:
        await _step(db, rules, complaint_id, Step.SOLUTION, RECEIVED + timedelta(hours=7))
    assert {p.field for p in no_solution.value.problems} == {"solution", "visit_at"}
    await _step(
        db,
        rules,
        complaint_id,
        Step.SOLUTION,
        RECEIVED + timedelta(hours=7),
        solution="铲除重做",
        visit_at=RECEIVED + timedelta(days=1),
    )
    resolved = RECEIVED + timedelta(hours=40)
    await _step(db, rules, complaint_id, Step.RESOLVED, resolved)

    async with db.session() as session:
        complaint = await complaints.get_or_raise(session, complaint_id)
        assert complaint.status is ComplaintStatus.RESOLVED
        assert complaint.next_due_at == resolved + timedelta(hours=24)  # the call back
        task = await complaints.callback_task_of(session, complaint=complaint)
        assert task is not None
        assert (task.stage, task.status, task.project_id) == (
            Stage.COMPLAINT,
            TaskStatus.PENDING,
            ids["project"],
        )
        assert (task.due_date, task.latest_date) == (date(2026, 11, 25), date(2026, 11, 26))
        await complaints.record_call_back(
            session,
            rules,
            complaint,
            satisfied=True,
            at=resolved + timedelta(hours=3),
            actor_id=ids["agent"],
        )
        assert complaint.status is ComplaintStatus.CLOSED
        assert complaint.next_due_at is None
        assert task.status is TaskStatus.DONE
        kinds = [e.kind for e in await complaints.events_of(session, complaint_id)]
        assert kinds == ["opened", "signed", "verified", "solution", "resolved", "call_back"]


async def test_an_unsatisfied_customer_sends_it_back_with_fresh_clocks(
    db: Database, rules: ComplaintRules
) -> None:
    ids = await _people_and_project(db)
    complaint_id = await _open(db, rules, ids)
    resolved = await _resolve(db, rules, complaint_id, RECEIVED)
    back = resolved + timedelta(hours=2)
    async with db.session() as session:
        complaint = await complaints.get_or_raise(session, complaint_id)
        await complaints.record_call_back(
            session, rules, complaint, satisfied=False, at=back, actor_id=ids["agent"]
        )
        assert (complaint.status, complaint.reopened) == (ComplaintStatus.OPEN, 1)
        assert complaint.clocks_from == back
        assert complaint.signed_at is None and complaint.resolved_at is None
        assert complaint.next_due_at == back + timedelta(hours=3)
        with pytest.raises(Conflict):
            await complaints.record_call_back(
                session, rules, complaint, satisfied=True, at=back, actor_id=None
            )
    second = await _resolve(db, rules, complaint_id, back)
    async with db.session() as session:
        tasks = list(
            await session.scalars(
                select(CallbackTask)
                .join(Complaint, Complaint.callback_task_id == CallbackTask.id)
                .where(Complaint.id == complaint_id)
            )
        )
        assert len(tasks) == 1  # the same call-back task, due again
        assert tasks[0].status is TaskStatus.PENDING and not tasks[0].effective
        assert tasks[0].due_date == second.astimezone(TZ).date()


async def test_a_major_complaint_is_on_site_within_two_working_days_across_a_holiday(
    db: Database, rules: ComplaintRules
) -> None:
    ids = await _people_and_project(db)
    before_holiday = local(2026, 9, 30, 16, 0)  # the day before the National Day week
    complaint_id = await _open(db, rules, ids, at=before_holiday)
    async with db.session() as session:
        complaint = await complaints.get_or_raise(session, complaint_id)
        general_due = {
            c.step: c.due_at for c in complaints.time_limits_of(complaint, rules, before_holiday)
        }[Step.RESOLVED]
        assert general_due == local(2026, 10, 2, 16, 0)
        with pytest.raises(ValidationError):
            await complaints.escalate(
                session, rules, complaint, at=before_holiday, actor_id=ids["agent"], reason=" "
            )
        await complaints.escalate(
            session,
            rules,
            complaint,
            at=before_holiday,
            actor_id=ids["agent"],
            reason="客户要求赔偿",
            manager_id=ids["boss"],
        )
        assert (complaint.grade, complaint.manager_id) == (ComplaintGrade.MAJOR, ids["boss"])
        major_due = {
            c.step: c.due_at for c in complaints.time_limits_of(complaint, rules, before_holiday)
        }[Step.RESOLVED]
        assert major_due == local(2026, 10, 9, 16, 0)
        with pytest.raises(Conflict) as again:
            await complaints.escalate(
                session, rules, complaint, at=before_holiday, actor_id=ids["agent"], reason="再次"
            )
        assert again.value.problems[0].code == "already_major"


async def test_compensation_makes_it_major_and_must_be_approved_before_resolution(
    db: Database, rules: ComplaintRules
) -> None:
    ids = await _people_and_project(db)
    complaint_id = await _open(db, rules, ids)
    await _step(
        db, rules, complaint_id, Step.SIGNED, RECEIVED + timedelta(hours=1), signed_by="李工"
    )
    await _step(db, rules, complaint_id, Step.VERIFIED, RECEIVED + timedelta(hours=2))
    await _step(
        db,
        rules,
        complaint_id,
        Step.SOLUTION,
        RECEIVED + timedelta(hours=3),
        solution="赔偿地砖",
        visit_at=RECEIVED + timedelta(days=1),
    )
    async with db.session() as session:
        complaint = await complaints.get_or_raise(session, complaint_id)
        with pytest.raises(ValidationError):
            await complaints.propose_compensation(
                session, rules, complaint, amount=Decimal(0), at=RECEIVED, actor_id=ids["works"]
            )
        await complaints.propose_compensation(
            session, rules, complaint, amount=Decimal("800.00"), at=RECEIVED, actor_id=ids["works"]
        )
        assert complaint.grade is ComplaintGrade.MAJOR
    with pytest.raises(Conflict) as unapproved:
        await _step(db, rules, complaint_id, Step.RESOLVED, RECEIVED + timedelta(hours=20))
    assert unapproved.value.problems[0].code == "compensation_not_approved"
    async with db.session() as session:
        complaint = await complaints.get_or_raise(session, complaint_id)
        await complaints.approve_compensation(
            session, complaint, at=RECEIVED, approver_id=ids["boss"]
        )
        with pytest.raises(Conflict):
            await complaints.approve_compensation(
                session, complaint, at=RECEIVED, approver_id=ids["boss"]
            )
    await _step(db, rules, complaint_id, Step.RESOLVED, RECEIVED + timedelta(hours=20))


async def test_deadline_warnings_go_once_to_the_responsible_people(
    db: Database, rules: ComplaintRules
) -> None:
    ids = await _people_and_project(db)
    complaint_id = await _open(db, rules, ids)
    async with db.session() as session:
        assert await claim_alerts(session, rules, now=RECEIVED + timedelta(hours=1)) == []
        # The last fifth of the 3 hours to be signed for: about to be overdue.
        [soon] = await claim_alerts(session, rules, now=RECEIVED + timedelta(hours=2, minutes=30))
        assert (soon.kind, soon.id, soon.step, soon.state) == (
            "complaint",
            complaint_id,
            "signed",
            TimeLimitState.DUE_SOON,
        )
        assert set(soon.recipients) == {ids["agent"], ids["boss"], ids["works"]}
        assert (
            await claim_alerts(session, rules, now=RECEIVED + timedelta(hours=2, minutes=40)) == []
        )
        [late] = await claim_alerts(session, rules, now=RECEIVED + timedelta(hours=3, minutes=1))
        assert late.state is TimeLimitState.OVERDUE
        assert await claim_alerts(session, rules, now=RECEIVED + timedelta(hours=4)) == []
        listed = await complaints.get_list(
            session, rules, now=RECEIVED + timedelta(hours=4), state=TimeLimitState.OVERDUE
        )
        assert [c.id for c in listed] == [complaint_id]
    # Signed late: the next warning is about the verification call, a day from receipt.
    await _step(
        db, rules, complaint_id, Step.SIGNED, RECEIVED + timedelta(hours=4), signed_by="李工"
    )
    async with db.session() as session:
        assert await claim_alerts(session, rules, now=RECEIVED + timedelta(hours=5)) == []
        [verify] = await claim_alerts(session, rules, now=RECEIVED + timedelta(hours=20))
        assert (verify.step, verify.state) == ("verified", TimeLimitState.DUE_SOON)


async def test_repairs_arrive_within_eight_hours_and_rate_the_crew(
    db: Database, rules: ComplaintRules
) -> None:
    ids = await _people_and_project(db)
    reported = RECEIVED.astimezone(UTC)
    async with db.session() as session:
        with pytest.raises(ValidationError):
            await repairs.report(
                session,
                customer_id=ids["customer"],
                description=" ",
                reported_at=reported,
                arrival_within=rules.repair_arrival,
            )
        on_time = await repairs.report(
            session,
            customer_id=ids["customer"],
            project_id=ids["project"],
            description="水管漏水",
            reported_at=reported,
            arrival_within=rules.repair_arrival,
            reported_by_id=ids["agent"],
        )
        late = await repairs.report(
            session,
            customer_id=ids["customer"],
            project_id=ids["project"],
            description="插座不通电",
            reported_at=reported,
            arrival_within=rules.repair_arrival,
            reported_by_id=ids["agent"],
        )
        assert on_time.crew == "张师傅施工队"  # the project's crew
        assert on_time.arrival_due_at == reported + timedelta(hours=8)
        with pytest.raises(Conflict):
            await repairs.completed(session, on_time, at=reported, now=reported)
        await repairs.arrived(
            session, on_time, at=reported + timedelta(hours=3), now=reported + timedelta(hours=3)
        )
        await repairs.call_during(session, on_time, at=reported + timedelta(hours=4))
        await repairs.completed(
            session, on_time, at=reported + timedelta(hours=5), now=reported + timedelta(hours=5)
        )
        await repairs.call_after(
            session, on_time, at=reported + timedelta(hours=6), satisfaction=Satisfaction.SATISFIED
        )
        [warning] = [
            a
            for a in await claim_alerts(session, rules, now=reported + timedelta(hours=7))
            if a.kind == "repair"
        ]
        assert (warning.id, warning.state) == (late.id, TimeLimitState.DUE_SOON)
        assert set(warning.recipients) == {ids["agent"], ids["boss"]}
        [overdue] = [
            a
            for a in await claim_alerts(session, rules, now=reported + timedelta(hours=9))
            if a.kind == "repair"
        ]
        assert overdue.state is TimeLimitState.OVERDUE
        assert [
            r.id
            for r in await repairs.get_list(
                session, now=reported + timedelta(hours=9), overdue=True
            )
        ] == [late.id]
        await repairs.arrived(
            session, late, at=reported + timedelta(hours=10), now=reported + timedelta(hours=10)
        )
        [record] = await repairs.crew_records(session)
        assert (
            record.crew,
            record.repairs,
            record.arrived,
            record.arrived_on_time,
            record.satisfied,
        ) == ("张师傅施工队", 2, 2, 1, 1)
        assert record.on_time_rate == 0.5

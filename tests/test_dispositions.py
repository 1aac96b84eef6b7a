"""Wrap-up dispositions: the configured codes (a closed set read from TOML), coding a call and
what it links, the calls an agent still owes a code, the gate on going ready when coding is
required (and the wrap-up held until it is done), and where the codes show: my calls, the QA
list's filter, the daily report."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest

from crm.agents import service as agent_states
from crm.agents.models import AgentStatus
from crm.callbacks.schedule import ScheduleRules
from crm.calls.models import Call, CallOutcome, Direction
from crm.clock import FixedClock
from crm.customers import service as customers
from crm.db import Database
from crm.dispositions import service as dispositions
from crm.dispositions.codes import DEFAULT_CODES_PATH, CodesError, load_codes
from crm.errors import Forbidden, NotFound, ValidationError
from crm.projects import service as projects
from crm.settings import ConfigurationError, Settings, load_settings
from tests.support.agents import add_agent
from tests.support.api import Api, running_app
from tests.support.statements import statements

CODES = load_codes()


async def _agent(db: Database, username: str, extension: str) -> int:
    async with db.session() as session:
        return await add_agent(session, extension, username=username, display_name=username)


async def _call(
    db: Database,
    *,
    agent_id: int | None,
    ended_at: datetime,
    linkedid: str,
    answered: bool = True,
    customer_id: int | None = None,
) -> int:
    async with db.session() as session:
        call = Call(
            linkedid=linkedid,
            direction=Direction.INBOUND,
            started_at=ended_at - timedelta(minutes=3),
            answered_at=ended_at - timedelta(minutes=2) if answered else None,
            ended_at=ended_at,
            outcome=CallOutcome.ANSWERED if answered else CallOutcome.ABANDONED,
            talk_seconds=120.0 if answered else None,
            agent_id=agent_id,
            customer_id=customer_id,
            customer_number="13912345678",
        )
        session.add(call)
        await session.flush()
        return call.id


async def _customer_with_project(
    db: Database, name: str, contract: str, phone: str
) -> tuple[int, int]:
    async with db.session() as session:
        customer = await customers.create(session, name=name, phones=[phone], address="")
        project = await projects.create(
            session,
            customer=customer,
            contract_number=contract,
            rules=ScheduleRules(window_days=3, post_completion_months=1),
            start_date=date(2026, 11, 30),
        )
        return customer.id, project.id


# -- the codes -------------------------------------------------------------------------------


def test_the_shipped_codes_are_the_manuals_in_their_chinese_names() -> None:
    assert [(c.code, c.names["zh-CN"]) for c in CODES.codes] == [
        ("consultation", "咨询"),
        ("complaint", "投诉"),
        ("repair", "报修"),
        ("callback", "回访"),
        ("new_business", "新业务"),
        ("other", "其他"),
    ]
    assert "repair" in CODES and "warranty" not in CODES
    assert CODES.names_of("gone") == {"zh-CN": "gone", "en": "gone"}


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("", "lists no [[codes]]"),
        ("[[codes]]\ncode = 'Bad Code'\nzh-CN = '坏'\nen = 'Bad'\n", "must be lower-case"),
        ("[[codes]]\ncode = 'a'\nzh-CN = ''\nen = 'A'\n", "zh-CN must name it"),
        ("[[codes]]\ncode = 'a'\nzh-CN = '甲'\n", "en must name it"),
        ("[[codes]]\ncode = 'a'\nzh-CN = '甲'\nen = 'A'\ncolour = 'red'\n", "unknown key"),
        (
            "[[codes]]\ncode = 'a'\nzh-CN = '甲'\nen = 'A'\n"
            "[[codes]]\ncode = 'a'\nzh-CN = '乙'\nen = 'B'\n",
            "listed twice",
        ),
        ("[[codes]\n", "not valid TOML"),
    ],
)
def test_a_bad_codes_file_is_refused_naming_the_problem(
    tmp_path: Path, text: str, problem: str
) -> None:
    path = tmp_path / "codes.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(CodesError) as refused:
        load_codes(path)
    assert str(refused.value).startswith(f"{path}: ") and problem in str(refused.value)
    with pytest.raises(ConfigurationError, match="CALLCENTRE_DISPOSITION_CODES_PATH"):
        load_settings(disposition_codes_path=path)


def test_a_site_configures_its_own_codes(tmp_path: Path) -> None:
    path = tmp_path / "codes.toml"
    path.write_text(
        "[[codes]]\ncode = 'warranty'\nzh-CN = '保修'\nen = 'Warranty'\n", encoding="utf-8"
    )
    settings = load_settings(disposition_codes_path=path)
    assert load_codes(settings.disposition_codes_path).names() == ["warranty"]
    assert load_codes(DEFAULT_CODES_PATH) == CODES


# -- coding a call -----------------------------------------------------------------------------


async def test_coding_validates_the_code_the_call_and_whose_call_it_is(
    db: Database, clock: FixedClock
) -> None:
    now = clock.now()
    agent1 = await _agent(db, "agent1", "1001")
    agent2 = await _agent(db, "agent2", "1002")
    answered = await _call(db, agent_id=agent1, ended_at=now, linkedid="d.1")
    abandoned = await _call(db, agent_id=agent1, ended_at=now, linkedid="d.2", answered=False)

    async def code(call_id: int, by: int, code: str, **more: object) -> object:
        async with db.session() as session:
            return await dispositions.code_call(
                session,
                call_id=call_id,
                agent_id=by,
                own_calls_only=True,
                code=code,
                note=str(more.get("note", "")),
                customer_id=None,
                project_id=None,
                codes=CODES,
                at=now,
            )

    with pytest.raises(ValidationError) as unknown:
        await code(answered, agent1, "warranty")
    assert [p.code for p in unknown.value.problems] == ["unknown_disposition"]
    with pytest.raises(ValidationError) as unanswered:
        await code(abandoned, agent1, "other")
    assert {p.code for p in unanswered.value.problems} == {"call_not_answered"}
    with pytest.raises(Forbidden):
        await code(answered, agent2, "other")
    with pytest.raises(NotFound):
        await code(999_999, agent1, "other")
    with pytest.raises(ValidationError) as long_note:
        await code(answered, agent1, "other", note="长" * (dispositions.MAX_NOTE + 1))
    assert long_note.value.code == "too_long"

    await code(answered, agent1, "consultation", note="  问开工时间  ")
    await code(answered, agent1, "complaint")  # a correction replaces the code
    async with db.session() as session:
        stored = await dispositions.get_for_call(session, call_id=answered)
        assert stored is not None
        assert (stored.code, stored.note, stored.agent_id) == ("complaint", "", agent1)
        assert await dispositions.for_calls(session, call_ids=[answered, abandoned]) == {
            answered: "complaint"
        }


async def test_an_unknown_caller_is_linked_to_the_customer_and_project_named(
    db: Database, clock: FixedClock
) -> None:
    now = clock.now()
    agent = await _agent(db, "agent1", "1001")
    wang, wang_project = await _customer_with_project(db, "王建国", "XA2026-000001", "13800138000")
    li, li_project = await _customer_with_project(db, "李秀英", "XA2026-000002", "13700137000")
    unknown = await _call(db, agent_id=agent, ended_at=now, linkedid="u.1")
    known = await _call(db, agent_id=agent, ended_at=now, linkedid="u.2", customer_id=li)

    async def code(call_id: int, customer_id: int | None, project_id: int | None) -> None:
        async with db.session() as session:
            await dispositions.code_call(
                session,
                call_id=call_id,
                agent_id=agent,
                own_calls_only=True,
                code="repair",
                note="",
                customer_id=customer_id,
                project_id=project_id,
                codes=CODES,
                at=now,
            )

    with pytest.raises(ValidationError) as not_theirs:
        await code(unknown, wang, li_project)
    assert not_theirs.value.code == "project_not_customers"
    with pytest.raises(NotFound) as missing:
        await code(unknown, 999_999, None)
    assert missing.value.code == "customer_not_found"
    with pytest.raises(ValidationError) as relinked:
        await code(known, wang, None)  # the number's customer stays the call's
    assert relinked.value.code == "call_has_customer"

    await code(unknown, None, wang_project)  # the project names its customer
    await code(known, None, li_project)
    async with db.session() as session:
        for call_id, customer, project in ((unknown, wang, wang_project), (known, li, li_project)):
            call = await session.get(Call, call_id)
            coded = await dispositions.get_for_call(session, call_id=call_id)
            assert call is not None and coded is not None
            assert (call.customer_id, coded.customer_id, coded.project_id) == (
                customer,
                customer,
                project,
            )


async def test_owed_calls_are_todays_answered_uncoded_ones_of_the_agent(
    db: Database, clock: FixedClock
) -> None:
    now = clock.now()
    today = now - timedelta(hours=1)  # 09:00 in Shanghai, this morning
    agent1 = await _agent(db, "agent1", "1001")
    agent2 = await _agent(db, "agent2", "1002")
    first = await _call(db, agent_id=agent1, ended_at=today, linkedid="o.1")
    second = await _call(db, agent_id=agent1, ended_at=now, linkedid="o.2")
    await _call(db, agent_id=agent1, ended_at=now - timedelta(days=1), linkedid="o.old")
    await _call(db, agent_id=agent1, ended_at=now, linkedid="o.lost", answered=False)
    await _call(db, agent_id=agent2, ended_at=now, linkedid="o.other")
    since = datetime(2026, 11, 22, 16, 0, tzinfo=now.tzinfo)  # local midnight, in UTC
    async with db.session() as session:
        owed = await dispositions.owed(session, agent_id=agent1, since=since)
        assert [c.call_id for c in owed] == [first, second]  # oldest first
        assert await dispositions.count_owed(session, agent_id=agent1, since=since) == 2
        assert await dispositions.owing_agents(
            session, agent_ids=[agent1, agent2], since=since
        ) == {agent1, agent2}
        await dispositions.code_call(
            session,
            call_id=first,
            agent_id=agent1,
            own_calls_only=True,
            code="other",
            note="",
            customer_id=None,
            project_id=None,
            codes=CODES,
            at=now,
        )
        assert [
            c.call_id for c in await dispositions.owed(session, agent_id=agent1, since=since)
        ] == [second]
        counts = await dispositions.counts(session, start=since, end=since + timedelta(days=1))
        assert [(c.code, c.calls) for c in counts] == [("other", 1), (None, 2)]


async def test_agents_states_are_read_with_what_each_owes_in_one_statement(
    db: Database, clock: FixedClock
) -> None:
    """An agent's phone moving pushes their state and calls to code: one trip to the database
    for any number of agents, the same counts as `count_owed`; an agent never seen is made
    logged out, as `get` makes them."""
    now = clock.now()
    since = datetime(2026, 11, 22, 16, 0, tzinfo=now.tzinfo)
    agent1 = await _agent(db, "agent1", "1001")
    agent2 = await _agent(db, "agent2", "1002")
    never_seen = await _agent(db, "agent3", "1003")
    await _call(db, agent_id=agent1, ended_at=now, linkedid="m.1")
    await _call(db, agent_id=agent1, ended_at=now, linkedid="m.2")
    await _call(db, agent_id=agent1, ended_at=since - timedelta(minutes=1), linkedid="m.old")
    await _call(db, agent_id=agent2, ended_at=now, linkedid="m.3", answered=False)
    async with db.session() as session:
        for agent in (agent1, agent2):
            await agent_states.change(
                session, user_id=agent, status=AgentStatus.READY, reason=None, at=now
            )
    async with db.session() as session:
        with statements(db) as sent:
            known = await dispositions.states_with_owed(
                session, [agent2, agent1], at=now, since=since
            )
        assert len(sent) == 1
        assert [(s.user_id, s.status, n) for s, n in known] == [
            (agent1, AgentStatus.READY, 2),
            (agent2, AgentStatus.READY, 0),
        ]
        for state, n in known:
            assert n == await dispositions.count_owed(session, agent_id=state.user_id, since=since)
        mixed = await dispositions.states_with_owed(
            session, [never_seen, agent1], at=now, since=since
        )
        assert [(s.user_id, s.status, n) for s, n in mixed] == [
            (agent1, AgentStatus.READY, 2),
            (never_seen, AgentStatus.LOGGED_OUT, 0),
        ]
    async with db.session() as session:
        made = await agent_states.get(session, never_seen, at=now)
        assert (made.status, made.since) == (AgentStatus.LOGGED_OUT, now)


async def test_a_held_wrapup_ends_when_the_calls_are_coded(db: Database, clock: FixedClock) -> None:
    now = clock.now()
    agent = await _agent(db, "agent1", "1001")
    async with db.session() as session:
        await agent_states.change(
            session, user_id=agent, status=AgentStatus.READY, reason=None, at=now
        )
        state = await agent_states.start_wrapup(session, user_id=agent, at=now, seconds=30)
        assert state is not None
    later = now + timedelta(seconds=31)
    async with db.session() as session:
        expired = await agent_states.expired_wrapups(session, at=later)
        assert [s.user_id for s in expired] == [agent]
        await agent_states.hold_wrapups(session, expired)
    async with db.session() as session:
        assert await agent_states.expired_wrapups(session, at=later + timedelta(hours=1)) == []
        held = await agent_states.get(session, agent, at=later)
        assert (held.status, held.wrapup_until) == (AgentStatus.WRAPUP, None)
        ended = await agent_states.end_held_wrapup(session, user_id=agent, at=later)
        assert ended is not None and (ended.status, ended.since) == (AgentStatus.READY, later)
        assert await agent_states.end_held_wrapup(session, user_id=agent, at=later) is None


# -- through the API ---------------------------------------------------------------------------


@pytest.fixture
def required(settings: Settings) -> Settings:
    return settings.model_copy(update={"disposition_required": True, "wrapup_seconds": 30})


@pytest.fixture
async def api(db: Database, required: Settings, clock: FixedClock) -> AsyncIterator[Api]:
    async with running_app(required, db, clock=clock) as running:
        yield running


async def test_ready_waits_for_the_codes_and_an_agent_codes_only_their_calls(
    api: Api, db: Database, clock: FixedClock
) -> None:
    agent1, agent2, supervisor = api["agent1"], api["agent2"], api["supervisor"]
    mine = await _call(db, agent_id=api.ids["agent1"], ended_at=clock.now(), linkedid="a.1")
    theirs = await _call(db, agent_id=api.ids["agent2"], ended_at=clock.now(), linkedid="a.2")

    codes = (await agent1.get("/api/dispositions/codes")).json()
    assert codes["required"] is True
    assert [c["names"]["zh-CN"] for c in codes["codes"]][:3] == ["咨询", "投诉", "报修"]
    owed = (await agent1.get("/api/dispositions/owed")).json()
    assert [c["call_id"] for c in owed] == [mine]
    state = (await agent1.get("/api/agent/state")).json()
    assert (state["dispositions_owed"], state["disposition_required"]) == (1, True)

    refused = await agent1.put("/api/agent/state", json={"status": "ready"})
    assert refused.status_code == 409
    assert refused.json()["detail"][0]["code"] == "disposition_required"
    paused = await agent1.put("/api/agent/state", json={"status": "paused", "reason": "break"})
    assert paused.status_code == 200  # a break is allowed; ready is not

    other = await agent1.put(f"/api/calls/{theirs}/disposition", json={"code": "other"})
    assert (other.status_code, other.json()["detail"][0]["code"]) == (403, "not_your_call")
    unknown = await agent1.put(f"/api/calls/{mine}/disposition", json={"code": "warranty"})
    assert (unknown.status_code, unknown.json()["detail"][0]["field"]) == (422, "code")
    missing = await agent1.put(f"/api/calls/{mine}/disposition", json={"note": "x"})
    assert (missing.status_code, missing.json()["detail"][0]["field"]) == (422, "code")
    assert (
        await agent1.put("/api/calls/999999/disposition", json={"code": "other"})
    ).status_code == 404
    assert (await agent1.get(f"/api/calls/{theirs}/disposition")).status_code == 404
    assert (await supervisor.get("/api/dispositions/owed")).status_code == 403

    coded = await agent1.put(
        f"/api/calls/{mine}/disposition", json={"code": "consultation", "note": "问开工日期"}
    )
    assert coded.status_code == 200, coded.text
    assert coded.json()["code"] == "consultation"
    assert (await agent1.get(f"/api/calls/{mine}/disposition")).json()["note"] == "问开工日期"
    assert (await agent1.get("/api/dispositions/owed")).json() == []
    ready = await agent1.put("/api/agent/state", json={"status": "ready"})
    assert ready.status_code == 200 and ready.json()["dispositions_owed"] == 0
    # A supervisor codes (or corrects) anyone's call.
    fixed = await supervisor.put(f"/api/calls/{theirs}/disposition", json={"code": "repair"})
    assert fixed.status_code == 200 and fixed.json()["agent_id"] == api.ids["agent2"]
    assert (await agent2.get(f"/api/calls/{theirs}/disposition")).json()["code"] == "repair"

    my_calls = (await agent1.get("/api/calls/mine")).json()
    assert [(c["id"], c["disposition"]) for c in my_calls] == [(mine, "consultation")]


async def test_the_qa_list_filters_by_disposition_and_the_daily_report_counts_them(
    api: Api, db: Database, clock: FixedClock
) -> None:
    now = clock.now()
    agent1 = api["agent1"]
    calls = [
        await _call(
            db, agent_id=api.ids["agent1"], ended_at=now - timedelta(minutes=n), linkedid=f"q.{n}"
        )
        for n in range(3)
    ]
    for call_id, code in zip(calls[:2], ("repair", "consultation"), strict=True):
        assert (
            await agent1.put(f"/api/calls/{call_id}/disposition", json={"code": code})
        ).status_code == 200
    qa = api["qa"]

    async def listed(**params: str) -> list[tuple[int, str | None]]:
        response = await qa.get("/api/qa/calls", params=params)
        assert response.status_code == 200, response.text
        return [(c["id"], c["disposition"]) for c in response.json()]

    assert await listed(disposition="repair") == [(calls[0], "repair")]
    assert await listed(disposition="none") == [(calls[2], None)]
    assert len(await listed()) == 3
    refused = await qa.get("/api/qa/calls", params={"disposition": "warranty"})
    assert refused.status_code == 422 and refused.json()["detail"][0]["field"] == "disposition"
    detail = (await qa.get(f"/api/qa/calls/{calls[1]}")).json()
    assert detail["disposition"]["code"] == "consultation"

    report = (
        await api["supervisor"].get("/api/reports/daily", params={"date": "2026-11-23"})
    ).json()
    [table] = [t for t in report["tables"] if t["id"] == "dispositions"]
    assert table["rows"] == [
        [{"$names": {"zh-CN": "咨询", "en": "Consultation"}}, 1],
        [{"$names": {"zh-CN": "报修", "en": "Repair"}}, 1],
        [{"$t": "reports.disposition_none", "args": {}}, 1],
    ]
    assert table["total"][1] == 3
    [coded] = [f for f in report["facts"] if f["id"] == "coded"]
    assert coded["value"] == 2

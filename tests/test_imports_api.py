"""Spreadsheet import through the API (web/imports.py): upload, preview with every row's
problems, all-or-nothing commit (once, and never over a stale preview), progress to 100 %,
the same verdicts as `callcentre import`, and clear 4xx answers for files that are no use."""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import openpyxl
import pytest

from crm.audit import service as audit
from crm.clock import FixedClock, local_today
from crm.customers import service as customers
from crm.db import Database
from crm.importer import ImportRejected, import_file
from crm.importer import service as jobs
from crm.importer.problems import PROBLEM_CODES
from crm.projects import service as projects
from crm.settings import Settings
from tests.support.api import Api, running_app
from tests.test_importer import CHINESE_HEADER, counts, row
from web.page_text import translate

CSV = "text/csv"
LARGE = 3000  # rows of the large file


def csv_bytes(rows: list[list[Any]]) -> bytes:
    text = "\n".join(",".join("" if v is None else str(v) for v in r) for r in rows)
    return ("\ufeff" + text + "\n").encode()


def xlsx_bytes(rows: list[list[Any]]) -> bytes:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    assert sheet is not None
    for r in rows:
        sheet.append(r)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


# One good row, then every kind of row problem the checks find without the database.
BAD_SHEET = [
    CHINESE_HEADER,
    row(name="张伟", mobile="13800138000", contract="B-1", start="2026-10-01"),
    row(name="李娜", mobile="1380013800", contract="B-2"),
    row(name="", mobile="13700137000", contract="B-3"),
    row(name="王芳", mobile="15900159000", grade="D"),
    row(name="赵静", mobile="", contract="B-5"),
    row(name="孙丽", mobile="13600136000", dnc="maybe"),
    row(name="周杰", mobile="13500135000", contract="B-1"),
    row(name="吴敏", mobile="13400134000", status="暂停", contract="B-8"),
    row(name="郑强", mobile="13300133000", start="2026-13-01", contract="B-9"),
    row(name="冯刚", mobile="13200132000", designer="陈思远"),
    row(name="陈明", mobile="400-800-9000", contract="B-11"),
    row(name="张 伟", mobile="18800188000/13800138000", contract="B-12"),
    row(name="刘洋", mobile="13800138000", contract="B-13"),
    row(
        name="黄磊",
        mobile="13100131000",
        contract="B-14",
        start="2026-10-10",
        concealed="2026-10-01",
    ),
]
GOOD_SHEET = [
    CHINESE_HEADER,
    row(name="张伟", mobile="13800138000", contract="G-1", start="2026-12-01", grade="A"),
    row(name="李娜", mobile="13700137000", contract="G-2", contract_date="2026-11-01"),
    row(name="王芳", mobile="15900159000"),
]


@pytest.fixture
async def api(db: Database, settings: Settings, clock: FixedClock) -> AsyncIterator[Api]:
    async with running_app(settings, db, clock=clock) as running:
        yield running


async def upload(
    client: httpx.AsyncClient, content: bytes, name: str = "客户.csv", kind: str = CSV
) -> httpx.Response:
    return await client.post("/api/imports", files={"file": (name, content, kind)})


async def settle(client: httpx.AsyncClient, job_id: int, seen: list[int] | None = None) -> Any:
    """Poll the job until it stops working, as the page does; every percent seen noted."""
    for _ in range(8000):  # minutes, on a loaded machine
        response = await client.get(f"/api/imports/{job_id}")
        assert response.status_code == 200, response.text
        job = response.json()
        if seen is not None:
            seen.append(job["percent"])
        if job["status"] not in ("checking", "committing"):
            return job
        await asyncio.sleep(0.05)
    raise AssertionError(f"import {job_id} still working: {job}")


async def previewed(api: Api, content: bytes, name: str = "客户.csv") -> Any:
    response = await upload(api["admin"], content, name)
    assert response.status_code == 202, response.text
    return await settle(api["admin"], response.json()["id"])


async def all_rows(client: httpx.AsyncClient, job_id: int, **params: Any) -> list[Any]:
    response = await client.get(f"/api/imports/{job_id}/rows", params={"limit": 1000, **params})
    assert response.status_code == 200, response.text
    return list(response.json()["rows"])


async def test_the_preview_lists_every_rows_problems_and_refuses_the_commit(
    api: Api, db: Database
) -> None:
    job = await previewed(api, xlsx_bytes(BAD_SHEET), "bad.xlsx")
    assert job["status"] == "checked" and job["percent"] == 100
    assert (job["rows"], job["ok_rows"], job["bad_rows"]) == (14, 2, 12)
    assert job["committable"] is False
    assert job["columns"][:3] == ["客户姓名", "手机号", "座机"]
    rows = await all_rows(api["admin"], job["id"])
    assert [r["row"] for r in rows] == list(range(2, 16))
    assert rows[0]["problems"] == [] and rows[0]["values"]["客户姓名"] == "张伟"
    found = {(r["row"], p["column"], p["code"]) for r in rows for p in r["problems"]}
    assert found == {
        (3, "手机号", "invalid_phone"),
        (4, "客户姓名", "name_required"),
        (5, "客户等级", "bad_grade"),
        (6, "手机号/座机", "phone_required"),
        (7, "免打扰", "bad_yes_no"),
        (8, "合同编号", "duplicate_contract"),
        (9, "状态", "bad_status"),
        (10, "开工日期", "no_such_day"),
        (11, "合同编号", "project_without_contract"),
        (12, "手机号", "not_a_customer_phone"),
        (14, "手机号", "number_on_other_row"),
        (15, "隐蔽工程验收日期", "stage_dates_out_of_order"),
    }  # row 13: 张 伟 is row 2's 张伟 (spacing), one customer with two numbers
    by_row = {r["row"]: r["problems"] for r in rows}
    assert by_row[8][0]["params"] == {"row": "2"}
    assert by_row[10][0]["value"] == "2026-13-01"
    assert by_row[15][0]["params"] == {
        "date": "2026-10-01",
        "earlier_column": "开工日期",
        "earlier_date": "2026-10-10",
    }
    # Each problem reads in the page's language, from the catalogue (no English left in zh).
    zh = translate("zh-CN", "import.problem.stage_dates_out_of_order", by_row[15][0]["params"])
    assert "2026-10-01" in zh and "开工日期" in zh and "2026-10-10" in zh
    only_bad = await all_rows(api["admin"], job["id"], problems_only=True)
    assert len(only_bad) == 12 and all(r["problems"] for r in only_bad)

    refused = await api["admin"].post(f"/api/imports/{job['id']}/commit")
    assert refused.status_code == 409, refused.text
    assert refused.json()["detail"][0]["code"] == "import_has_problems"
    assert await counts(db) == (0, 0, 0, 0)


async def test_a_clean_file_commits_once_however_often_it_is_pressed(
    api: Api, db: Database
) -> None:
    job = await previewed(api, csv_bytes(GOOD_SHEET))
    assert job["committable"] is True
    assert (job["customers_new"], job["projects_new"], job["bad_rows"]) == (3, 2, 0)
    first, second = await asyncio.gather(
        api["admin"].post(f"/api/imports/{job['id']}/commit"),
        api["admin"].post(f"/api/imports/{job['id']}/commit"),
    )
    assert (first.status_code, second.status_code) == (202, 202), (first.text, second.text)
    done = await settle(api["admin"], job["id"])
    assert done["status"] == "committed" and done["percent"] == 100
    assert done["report"]["customers_created"] == 3 and done["report"]["projects_created"] == 2
    again = await api["admin"].post(f"/api/imports/{job['id']}/commit")
    assert again.status_code == 202 and again.json()["status"] == "committed"
    customer_rows, phone_rows, project_rows, _ = await counts(db)
    assert (customer_rows, phone_rows, project_rows) == (3, 3, 2)
    async with db.session() as session:
        commits = await audit.get_all(session, action="import.commit")
        uploads = await audit.get_all(session, action="import.upload")
    assert [e.entity_id for e in commits] == [str(job["id"])]
    assert commits[0].actor == "admin" and commits[0].detail["customers_created"] == 3
    assert uploads[0].detail["file"] == "客户.csv"
    # The customers' data leaves the job at the commit; its counts and report stay.
    assert done["rows"] == 3
    assert (await all_rows(api["admin"], job["id"])) == []
    async with db.session() as session:
        kept = await jobs.get_job_or_raise(session, job["id"])
        assert kept.content == b"" and kept.report == done["report"]


async def test_a_row_refused_at_commit_leaves_the_database_as_it_was(
    api: Api, db: Database
) -> None:
    """Between preview and commit someone enters one of the file's numbers under another
    name: the commit checks again, refuses the file, and writes nothing of it."""
    job = await previewed(api, csv_bytes(GOOD_SHEET))
    async with db.session() as session:
        await customers.create(session, name="刘洋", phones=["15900159000"])
    before = await counts(db)
    response = await api["admin"].post(f"/api/imports/{job['id']}/commit")
    assert response.status_code == 202, response.text
    failed = await settle(api["admin"], job["id"])
    assert failed["status"] == "failed"
    assert [(p["row"], p["code"]) for p in failed["problems"]] == [(4, "number_of_other_customer")]
    assert await counts(db) == before
    async with db.session() as session:
        refused = await audit.get_all(session, action="import.commit_refused")
    assert refused[0].detail["codes"] == ["number_of_other_customer"]


async def test_a_stale_preview_is_refused(api: Api, db: Database) -> None:
    """The database moved on without making any row wrong (李娜 was entered by hand): the
    file would now update her instead of creating her, which is not what was previewed."""
    job = await previewed(api, csv_bytes(GOOD_SHEET))
    async with db.session() as session:
        await customers.create(session, name="李娜", phones=["13700137000"])
    before = await counts(db)
    await api["admin"].post(f"/api/imports/{job['id']}/commit")
    failed = await settle(api["admin"], job["id"])
    assert [p["code"] for p in failed["problems"]] == ["import_stale"]
    assert await counts(db) == before


async def test_a_failure_while_writing_rolls_everything_back(
    api: Api, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    add_projects = projects.add_projects

    async def failing_add(*args: Any, **kwargs: Any) -> None:
        await add_projects(*args, **kwargs)  # customers, projects and tasks written...
        raise RuntimeError("disk full")

    job = await previewed(api, csv_bytes(GOOD_SHEET))
    monkeypatch.setattr(projects, "add_projects", failing_add)
    await api["admin"].post(f"/api/imports/{job['id']}/commit")
    failed = await settle(api["admin"], job["id"])
    assert [p["code"] for p in failed["problems"]] == ["commit_failed"]
    assert await counts(db) == (0, 0, 0, 0)


async def test_only_an_administrator_may_import(api: Api) -> None:
    for name in ("agent1", "supervisor", "qa", "engineering"):
        response = await upload(api[name], csv_bytes(GOOD_SHEET))
        assert response.status_code == 403, (name, response.text)
        assert response.json()["detail"][0]["code"] == "forbidden"
    assert (await upload(api.anonymous(), csv_bytes(GOOD_SHEET))).status_code == 401


@pytest.mark.parametrize(
    ("name", "content", "code"),
    [
        ("客户.xls", b"\xd0\xcf\x11\xe0 an old Excel file", "not_a_spreadsheet"),
        ("客户.pdf", b"%PDF-1.4", "not_a_spreadsheet"),
        ("客户.xlsx", b"PK\x03\x04 not really a zip", "unreadable_xlsx"),
        ("客户.xlsx", b"just text", "unreadable_xlsx"),
        ("客户.csv", b"\xff\xfe\x00\x00\xff", "unreadable_csv"),
        ("客户.csv", b"name,phone\nA,1\x00\n", "unreadable_csv"),
        ("客户.csv", b"", "empty_file"),
        ("客户.csv", "客户姓名,地址\n张伟,西安\n".encode(), "missing_column"),
        ("客户.csv", "客户姓名,姓名,电话\n张伟,张伟,138\n".encode(), "duplicate_column"),
    ],
)
async def test_a_file_that_is_no_use_is_refused_with_a_reason(
    api: Api, db: Database, name: str, content: bytes, code: str
) -> None:
    response = await upload(api["admin"], content, name)
    assert response.status_code == 422, response.text
    problems = response.json()["detail"]
    assert code in [p["code"] for p in problems], problems
    assert all(p["field"] == "file" and p["message"] for p in problems)
    async with db.session() as session:
        assert await audit.get_all(session, action="import.upload") == []


async def test_a_request_without_a_file_is_refused(api: Api) -> None:
    response = await api["admin"].post("/api/imports", data={"nothing": "here"})
    assert response.status_code == 422, response.text


async def test_a_file_over_the_limit_is_refused_before_it_is_read(
    db: Database, settings: Settings, clock: FixedClock
) -> None:
    small = settings.model_copy(update={"max_import_bytes": 4096})
    async with running_app(small, db, clock=clock) as api:
        response = await upload(api["admin"], b"x" * 5000)
        assert response.status_code == 413, response.text
        assert response.json()["detail"][0]["code"] == "body_too_large"
        assert response.json()["detail"][0]["params"] == {"limit": "4096"}
        fits = await upload(api["admin"], csv_bytes(GOOD_SHEET))
        assert fits.status_code == 202, fits.text
        # Other routes keep the ordinary limit: the larger one is the upload's alone.
        over = await api["admin"].post(
            "/api/users", content=b"{" + b" " * (settings.max_body_bytes + 10) + b"}"
        )
        assert over.status_code == 413


@pytest.mark.timeout(300)
async def test_a_large_file_reports_progress_up_to_100_percent(api: Api, db: Database) -> None:
    """3000 rows, as a company's spreadsheet has: batched look-ups and inserts keep it to
    seconds (it took minutes written a row at a time), the progress still in steps."""
    rows = [CHINESE_HEADER] + [
        row(name=f"客户{i}", mobile=f"139{i:08d}", contract=f"L-{i}", start="2026-12-01")
        for i in range(LARGE)
    ]
    response = await upload(api["admin"], xlsx_bytes(rows), "large.xlsx")
    assert response.status_code == 202, response.text
    seen: list[int] = []
    job = await settle(api["admin"], response.json()["id"], seen)
    assert job["status"] == "checked" and job["committable"], job
    assert seen == sorted(seen) and seen[-1] == 100
    assert (job["ok_rows"], job["customers_new"]) == (LARGE, LARGE)
    page = await api["admin"].get(f"/api/imports/{job['id']}/rows", params={"offset": LARGE - 10})
    assert page.json()["total"] == LARGE and len(page.json()["rows"]) == 10

    committed = await api["admin"].post(f"/api/imports/{job['id']}/commit")
    assert committed.status_code == 202
    seen = []
    done = await settle(api["admin"], job["id"], seen)
    assert done["status"] == "committed", done
    assert seen == sorted(seen) and seen[-1] == 100
    assert done["report"]["projects_created"] == LARGE
    assert (await counts(db))[:3] == (LARGE, LARGE, LARGE)
    assert len(set(seen)) > 3  # steps on the way, not a jump to the end


async def test_the_command_line_and_the_browser_reject_the_same_rows_for_the_same_reasons(
    api: Api, db: Database, settings: Settings, clock: FixedClock, tmp_path: Path
) -> None:
    """One check path: the same file through `import_file` (what `callcentre import` runs)
    and through the upload finds the same problems, row by row, in the same words."""
    async with db.session() as session:  # and one against the database
        await customers.create(session, name="黄蓉", phones=["18600186000"])
    sheet = [*BAD_SHEET[:2], row(name="郭靖", mobile="18600186000")]
    for rows, name in ((BAD_SHEET, "bad.xlsx"), (sheet, "db.xlsx")):
        path = tmp_path / name
        path.write_bytes(xlsx_bytes(rows))
        with pytest.raises(ImportRejected) as caught:
            await import_file(db, path, settings=settings, today=local_today(clock, settings.tz))
        cli = {(e.row, e.column, e.value, e.code, e.reason) for e in caught.value.errors}
        job = await previewed(api, path.read_bytes(), name)
        browser = {
            (p["row"], p["column"], p["value"], p["code"], p["message"])
            for r in await all_rows(api["admin"], job["id"])
            for p in r["problems"]
        }
        assert browser == cli and cli, name
    # The file-level refusals are the same too.
    path = tmp_path / "no-phone.csv"
    path.write_bytes("客户姓名,地址\n张伟,西安\n".encode())
    with pytest.raises(ImportRejected) as caught:
        await import_file(db, path, settings=settings, today=local_today(clock, settings.tz))
    response = await upload(api["admin"], path.read_bytes(), path.name)
    assert [(p["code"], p["message"]) for p in response.json()["detail"]] == [
        (e.code, e.reason) for e in caught.value.errors
    ]


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_every_problem_code_reads_in_both_languages(database_url: str) -> None:
    for lang in ("zh-CN", "en"):
        for code in PROBLEM_CODES:
            key = f"import.problem.{code}"
            assert translate(lang, key) != code, (lang, key)

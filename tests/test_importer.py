"""Tests for crm.importer: the spreadsheets renovation companies keep, on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
from collections.abc import Sequence
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError

from crm import importer
from crm.callbacks import service as callbacks
from crm.callbacks.models import CallbackTask, MadeBy, Outcome, Satisfaction, Stage, TaskStatus
from crm.callbacks.schedule import ScheduleRules
from crm.customers import service as customers
from crm.customers.models import Customer, Grade, Phone
from crm.db import Database
from crm.importer import ImportRejected, RowError, import_file
from crm.projects import service as projects
from crm.projects.models import Project, ProjectStatus
from crm.settings import Settings

TODAY = date(2026, 11, 23)
CHINESE_HEADER = [
    "序号",
    "客户姓名",
    "手机号",
    "座机",
    "地址",
    "客户等级",
    "合同编号",
    "设计师",
    "项目经理",
    "工长",
    "施工班组",
    "签约日期",
    "开工日期",
    "隐蔽工程验收日期",
    "中期验收日期",
    "竣工日期",
    "状态",
    "备注",
    "免打扰",
]


def write_xlsx(path: Path, rows: Sequence[Sequence[Any]]) -> Path:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    for row in rows:
        sheet.append(list(row))
    workbook.save(path)
    return path


def write_csv(path: Path, rows: Sequence[Sequence[Any]], encoding: str = "utf-8-sig") -> Path:
    with path.open("w", encoding=encoding, newline="") as handle:
        csv.writer(handle).writerows(["" if v is None else v for v in row] for row in rows)
    return path


def row(**cells: Any) -> list[Any]:
    """A row of the Chinese sheet, by English field names (the rest blank)."""
    names = [
        "index",
        "name",
        "mobile",
        "landline",
        "address",
        "grade",
        "contract",
        "designer",
        "project_manager",
        "foreman",
        "crew",
        "contract_date",
        "start",
        "concealed",
        "midterm",
        "completion",
        "status",
        "notes",
        "dnc",
    ]
    unknown = set(cells) - set(names)
    assert not unknown, unknown
    return [cells.get(n) for n in names]


async def run_import(
    db: Database, path: Path, settings: Settings, **kwargs: Any
) -> importer.ImportReport:
    return await import_file(db, path, settings=settings, today=TODAY, **kwargs)


async def rejected(db: Database, path: Path, settings: Settings) -> list[RowError]:
    with pytest.raises(ImportRejected) as caught:
        await run_import(db, path, settings)
    return caught.value.errors


async def counts(db: Database) -> tuple[int, int, int, int]:
    async with db.session() as session:
        customer_rows, phone_rows, project_rows, task_rows = [
            int(await session.scalar(select(func.count()).select_from(model)) or 0)
            for model in (Customer, Phone, Project, CallbackTask)
        ]
        return customer_rows, phone_rows, project_rows, task_rows


async def tasks_of(db: Database, contract: str) -> dict[Stage, CallbackTask]:
    """A project's construction-stage tasks (post-completion ones left out)."""
    async with db.session() as session:
        project = await projects.get_by_contract(session, contract)
        assert project is not None
        tasks = await callbacks.get_for_project(session, project.id)
    return {t.stage: t for t in tasks if t.month == 0}


# --- reading and parsing (pure) -----------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "field"),
    [
        ("客户姓名", "name"),
        (" 业主 姓名 ", "name"),
        ("Name", "name"),
        ("ＮＡＭＥ", "name"),
        ("电话2", "phone"),
        ("Phone 1", "phone"),
        ("联系方式", "phone"),
        ("TEL", "phone"),
        ("隐蔽工程验收日期", "concealed_works_date"),
        ("Contract Number", "contract_number"),
        ("do-not-call", "do_not_call"),
        ("免打扰原因", "do_not_call_reason"),
        ("施工班组", "crew"),
        ("面积", None),
        ("", None),
    ],
)
def test_headers_match_in_chinese_or_english(header: str, field: str | None) -> None:
    assert importer.field_for_header(header) == field


@pytest.mark.parametrize(
    "value",
    [
        datetime(2026, 3, 1, 0, 0),
        date(2026, 3, 1),
        "2026-03-01",
        "2026/3/1",
        "2026.3.1",
        "2026年3月1日",
        "20260301",
        20260301,
        "２０２６－０３－０１",
        "2026-03-01 00:00:00",
    ],
)
def test_dates_in_office_forms(value: object) -> None:
    assert importer.parse_date(value) == date(2026, 3, 1)


@pytest.mark.parametrize("value", ["next week", "2026-02-30", "3/1/2026", "46082", True])
def test_bad_dates_say_why(value: object) -> None:
    with pytest.raises(ValueError, match=r"date|calendar"):
        importer.parse_date(value)


def test_grades_booleans_and_statuses() -> None:
    assert [importer.parse_grade(v) for v in ("A", "a级", "Ｂ类", " c ", None)] == [
        Grade.A,
        Grade.A,
        Grade.B,
        Grade.C,
        None,
    ]
    assert [importer.parse_bool(v) for v in ("是", "否", "Y", "no", 1, "0", "✓", True, "")] == [
        True,
        False,
        True,
        False,
        True,
        False,
        True,
        True,
        None,
    ]
    assert [importer.parse_status(v) for v in ("在施", "已竣工", "未开工", "In Progress", "")] == [
        ProjectStatus.IN_PROGRESS,
        ProjectStatus.COMPLETED,
        ProjectStatus.SIGNED,
        ProjectStatus.IN_PROGRESS,
        None,
    ]
    for parse, bad in (
        (importer.parse_grade, "D"),
        (importer.parse_bool, "maybe"),
        (importer.parse_status, "暂停"),
    ):
        with pytest.raises(ValueError):
            parse(bad)


def test_a_file_without_name_or_phone_column_is_rejected_before_its_rows(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "bad.csv", [[], ["地址", "合同号"], ["西安", "XA-1"]])
    with pytest.raises(ImportRejected) as caught:
        importer.read_rows(path)
    reasons = [(e.row, e.reason) for e in caught.value.errors]
    assert len(reasons) == 2 and all(r == 2 for r, _ in reasons)
    assert "no name column" in reasons[0][1] + reasons[1][1]
    assert "no phone column" in reasons[0][1] + reasons[1][1]


def test_other_formats_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "old.xls"
    path.write_bytes(b"\xd0\xcf\x11\xe0")
    with pytest.raises(ImportRejected, match="problem"):
        importer.read_rows(path)


# --- importing ----------------------------------------------------------------------------


def chinese_sheet() -> list[list[Any]]:
    return [
        [],  # the header is the first non-empty row
        CHINESE_HEADER,
        row(
            index=1,
            name="张伟",
            mobile="13800138000，139-0013-9000",
            landline="(029)8888 6666",
            address="西安市雁塔区小寨东路1号紫薇花园3号楼2单元1502室",
            grade="A级",
            contract="XA2026-000101",
            designer="陈思远",
            project_manager="赵建国",
            foreman="刘德胜",
            crew="第三施工队",
            contract_date=datetime(2026, 3, 1),
            start="2026/3/10",
            concealed="2026年3月25日",
            midterm="20260420",
            completion=date(2026, 6, 1),
            notes="老客户介绍",
            dnc="否",
        ),
        row(
            index=2,
            name="李娜",
            mobile=13700137000,
            address="西安市碑林区东大街5号",
            grade="b",
            contract="XA2026-000102",
            contract_date=datetime(2026, 10, 20),
            start="2026.11.2",
            status="施工中",
        ),
        row(
            index=3,
            name="张伟",
            mobile="+86 138 0013 8000",
            contract="XA2026-000103",
            contract_date="2026-11-20",
        ),
        row(
            index=4,
            name="王芳",
            mobile="15900159000",
            address="西安市未央区凤城八路9号",
            grade="C",
            dnc="是",
        ),
    ]


async def test_xlsx_with_chinese_headers(db: Database, settings: Settings, tmp_path: Path) -> None:
    path = write_xlsx(tmp_path / "customers.xlsx", chinese_sheet())
    phases: list[tuple[str, int, int]] = []
    report = await run_import(db, path, settings, progress=lambda *a: phases.append(a))

    assert (report.rows, report.customers_created, report.projects_created) == (4, 3, 3)
    # completed: 4 stages + 12 monthly; in progress: the start callback; signed: none yet
    assert report.callback_tasks_created == 16 + 1
    assert report.warnings == ["ignored columns: 序号"]
    assert {p for p, _, _ in phases} == {"read", "validate", "check", "import"}
    assert phases[-1] == ("import", 6, 6)
    async with db.session() as session:
        [zhang] = await customers.find_by_phone(session, "029-88886666", default_area_code="029")
        assert zhang.name == "张伟" and zhang.grade is Grade.A and zhang.notes == "老客户介绍"
        assert sorted(p.number for p in zhang.phones) == [
            "02988886666",
            "13800138000",
            "13900139000",
        ]
        assert not zhang.do_not_call
        [wang] = await customers.find_by_phone(session, "159 0015 9000")
        assert wang.do_not_call and wang.do_not_call_reason == importer.DEFAULT_DNC_REASON
        [li] = await customers.find_by_phone(session, "13700137000")
        assert li.grade is Grade.B
        done = await projects.get_by_contract(session, "XA2026-000101")
        started = await projects.get_by_contract(session, "XA2026-000102")
        signed = await projects.get_by_contract(session, "XA2026-000103")
    assert done is not None and started is not None and signed is not None
    assert (done.status, started.status, signed.status) == (
        ProjectStatus.COMPLETED,
        ProjectStatus.IN_PROGRESS,
        ProjectStatus.SIGNED,
    )
    assert (
        done.contract_date,
        done.start_date,
        done.concealed_works_date,
        done.midterm_date,
        done.completion_date,
    ) == (
        date(2026, 3, 1),
        date(2026, 3, 10),
        date(2026, 3, 25),
        date(2026, 4, 20),
        date(2026, 6, 1),
    )
    assert (done.designer, done.project_manager, done.foreman, done.crew) == (
        "陈思远",
        "赵建国",
        "刘德胜",
        "第三施工队",
    )
    assert done.customer_id == signed.customer_id == zhang.id
    assert signed.address == zhang.address  # the project address defaults to the customer's
    stages = await tasks_of(db, "XA2026-000101")
    assert stages[Stage.MIDTERM].due_date == date(2026, 4, 20)
    assert stages[Stage.MIDTERM].priority == 1  # grade A
    assert set(await tasks_of(db, "XA2026-000102")) == {Stage.START}


@pytest.mark.parametrize("encoding", ["gb18030", "utf-8-sig", "utf-8"])
async def test_csv_in_chinese_excel_encodings(
    db: Database, settings: Settings, tmp_path: Path, encoding: str
) -> None:
    rows = [
        ["客户姓名", "联系电话", "客户地址", "合同号", "开工日期", "工程状态"],
        [
            "赵静",
            "029-8523 1234 转801",
            "西安市莲湖区劳动路18号丰庆苑",
            "XA2025-000007",
            "2025年9月1日",
            "在建",
        ],
        ["钱多多", "18600186000/18700187000", "西安市长安区文苑北路", "", "", ""],
    ]
    path = write_csv(tmp_path / "export.csv", rows, encoding)
    report = await run_import(db, path, settings)
    assert (report.customers_created, report.projects_created) == (2, 1)
    async with db.session() as session:
        [zhao] = await customers.find_by_phone(session, "85231234", default_area_code="029")
        assert (zhao.name, zhao.address) == ("赵静", "西安市莲湖区劳动路18号丰庆苑")
        assert zhao.phones[0].extension == "801"
        [qian] = await customers.find_by_phone(session, "18700187000")
        assert qian.name == "钱多多" and len(qian.phones) == 2


async def test_english_headers(db: Database, settings: Settings, tmp_path: Path) -> None:
    rows = [
        [
            "Name",
            "Phone 1",
            "Phone 2",
            "Address",
            "Grade",
            "Do Not Call",
            "Do-Not-Call Reason",
            "Contract Number",
            "Contract Date",
            "Start Date",
            "Completion Date",
            "Status",
            "Crew",
        ],
        [
            "Li Lei",
            "13511112222",
            "(029) 8765 4321",
            "Gaoxin Rd 1",
            "a",
            "yes",
            "moved abroad",
            "C-1",
            "2026-01-05",
            "2026-01-20",
            "",
            "in progress",
            "Crew 3",
        ],
        [
            "Han Meimei",
            "13633334444",
            "",
            "",
            "",
            "no",
            "",
            "C-2",
            "2026-11-01",
            "",
            "",
            "cancelled",
            "",
        ],
    ]
    path = write_csv(tmp_path / "english.csv", rows, "utf-8")
    report = await run_import(db, path, settings)
    assert (report.customers_created, report.projects_created) == (2, 2)
    async with db.session() as session:
        [li] = await customers.find_by_phone(session, "02987654321")
        assert (li.grade, li.do_not_call, li.do_not_call_reason) == (Grade.A, True, "moved abroad")
        c1 = await projects.get_by_contract(session, "C-1")
        c2 = await projects.get_by_contract(session, "C-2")
    assert c1 is not None and c2 is not None
    assert (c1.status, c1.crew, c2.status) == (
        ProjectStatus.IN_PROGRESS,
        "Crew 3",
        ProjectStatus.CANCELLED,
    )


async def test_one_bad_row_imports_nothing(
    db: Database, settings: Settings, tmp_path: Path
) -> None:
    sheet = [
        CHINESE_HEADER,
        row(name="张伟", mobile="13800138000", contract="A-1", start="2026-10-01"),
        row(name="李娜", mobile="13700137000", contract="A-2", start="2026-13-01"),
        row(name="王芳", mobile="15900159000", contract="A-3", start="2026-10-05"),
    ]
    errors = await rejected(db, write_xlsx(tmp_path / "one-bad.xlsx", sheet), settings)
    assert errors == [
        RowError(3, "开工日期", "2026-13-01", "no such day in the calendar", "no_such_day")
    ]
    assert await counts(db) == (0, 0, 0, 0)


async def test_every_bad_row_is_reported(db: Database, settings: Settings, tmp_path: Path) -> None:
    sheet = [
        CHINESE_HEADER,
        row(name="张伟", mobile="13800138000", contract="B-1"),  # good
        row(name="李娜", mobile="12345", contract="B-2"),
        row(name="", mobile="13700137000", contract="B-3"),
        row(name="王芳", mobile="15900159000", grade="D"),
        row(name="赵静", mobile="", contract="B-5"),
        row(name="孙丽", mobile="13600136000", dnc="maybe"),
        row(name="周杰", mobile="13500135000", contract="B-1"),
        row(name="吴敏", mobile="13400134000", status="暂停", contract="B-8"),
        row(name="郑强", mobile="13300133000", start="next week", contract="B-9"),
        row(name="冯刚", mobile="13200132000", designer="陈思远"),
        row(name="陈明", mobile="400-800-9000", contract="B-11"),
    ]
    errors = await rejected(db, write_xlsx(tmp_path / "bad.xlsx", sheet), settings)
    found = {(e.row, e.column) for e in errors}
    assert found == {
        (3, "手机号"),
        (4, "客户姓名"),
        (5, "客户等级"),
        (6, "手机号/座机"),
        (7, "免打扰"),
        (8, "合同编号"),
        (9, "状态"),
        (10, "开工日期"),
        (11, "合同编号"),
        (12, "手机号"),
    }
    by_row = {e.row: e for e in errors}
    assert "row 2" in by_row[8].reason
    assert "no contract number" in by_row[11].reason
    assert "service" in by_row[12].reason
    assert by_row[3].value == "12345"
    assert await counts(db) == (0, 0, 0, 0)


async def test_stage_dates_out_of_order_are_rejected(
    db: Database, settings: Settings, tmp_path: Path
) -> None:
    sheet = [
        CHINESE_HEADER,
        row(
            name="张伟",
            mobile="13800138000",
            contract="C-1",
            contract_date="2026-03-01",
            start="2026-03-10",
            concealed="2026-03-05",
        ),
        row(name="李娜", mobile="13700137000", contract="C-2", status="已完工", start="2026-03-10"),
    ]
    errors = await rejected(db, write_xlsx(tmp_path / "order.xlsx", sheet), settings)
    assert [(e.row, e.column, e.value) for e in errors] == [
        (2, "隐蔽工程验收日期", "2026-03-05"),
        (3, "竣工日期", None),
    ]
    assert "before the start date 2026-03-10" in errors[0].reason
    assert "completion date" in errors[1].reason


async def test_same_phone_with_different_names_is_rejected(
    db: Database, settings: Settings, tmp_path: Path
) -> None:
    sheet = [
        CHINESE_HEADER,
        row(name="张伟", mobile="13800138000", contract="D-1"),
        row(name="张 伟", mobile="138-0013-8000", contract="D-2"),  # the same person
        row(name="李娜", mobile="+8613800138000", contract="D-3"),
    ]
    errors = await rejected(db, write_xlsx(tmp_path / "clash.xlsx", sheet), settings)
    assert len(errors) == 1
    assert (errors[0].row, errors[0].column, errors[0].value) == (4, "手机号", "+8613800138000")
    assert "张伟" in errors[0].reason and "row 2" in errors[0].reason


async def test_a_known_phone_attaches_the_row_to_the_existing_customer(
    db: Database, settings: Settings, tmp_path: Path
) -> None:
    async with db.session() as session:
        existing = await customers.create(
            session,
            name="张伟",
            phones=["13800138000"],
            grade=Grade.A,
            notes="[2026-11-01 agent1] 要求周末联系",
        )
    sheet = [
        CHINESE_HEADER,
        row(
            name="张伟",
            mobile="0086 138 0013 8000",
            landline="8888 6666",
            address="西安市高新区科技路8号",
            notes="老客户介绍",
            contract="E-1",
            start="2026-11-10",
        ),
    ]
    report = await run_import(db, write_xlsx(tmp_path / "known.xlsx", sheet), settings)
    assert (report.customers_created, report.customers_updated) == (0, 1)
    async with db.session() as session:
        customer = await customers.get_or_raise(session, existing.id)
        [project] = await projects.get_for_customer(session, existing.id)
    assert customer.grade is Grade.A  # blank in the sheet: kept
    assert customer.address == "西安市高新区科技路8号"
    assert customer.notes == "[2026-11-01 agent1] 要求周末联系\n老客户介绍"
    assert [p.number for p in customer.phones] == ["13800138000", "02988886666"]
    assert project.contract_number == "E-1" and project.address == "西安市高新区科技路8号"


async def test_a_known_phone_under_another_name_is_rejected(
    db: Database, settings: Settings, tmp_path: Path
) -> None:
    async with db.session() as session:
        await customers.create(session, name="李娜", phones=["13800138000"])
    sheet = [
        CHINESE_HEADER,
        row(name="王芳", mobile="15900159000"),
        row(name="张伟", mobile="138 0013 8000", contract="F-1"),
    ]
    errors = await rejected(db, write_xlsx(tmp_path / "other.xlsx", sheet), settings)
    assert [(e.row, e.column) for e in errors] == [(3, "手机号")]
    assert "李娜" in errors[0].reason
    assert await counts(db) == (1, 1, 0, 0)


async def test_a_contract_of_another_customer_is_rejected(
    db: Database, settings: Settings, tmp_path: Path
) -> None:
    async with db.session() as session:
        li = await customers.create(session, name="李娜", phones=["13700137000"])
        await projects.create(
            session, customer=li, contract_number="G-1", rules=ScheduleRules.from_settings(settings)
        )
    sheet = [CHINESE_HEADER, row(name="张伟", mobile="13800138000", contract="G-1")]
    errors = await rejected(db, write_xlsx(tmp_path / "theirs.xlsx", sheet), settings)
    assert [(e.row, e.column, e.value) for e in errors] == [(2, "合同编号", "G-1")]
    assert "李娜" in errors[0].reason


async def test_reimport_moves_pending_callbacks_and_keeps_done_ones(
    db: Database, settings: Settings, tmp_path: Path
) -> None:
    def sheet(start: str, concealed: str, midterm: str) -> list[list[Any]]:
        return [
            CHINESE_HEADER,
            row(
                name="张伟",
                mobile="13800138000",
                contract="H-1",
                grade="B",
                contract_date="2026-09-20",
                start=start,
                concealed=concealed,
                midterm=midterm,
            ),
        ]

    await run_import(
        db,
        write_xlsx(tmp_path / "october.xlsx", sheet("2026-10-01", "2026-10-20", "2026-11-30")),
        settings,
    )
    before = await tasks_of(db, "H-1")
    async with db.session() as session:
        task = await callbacks.get_or_raise(session, before[Stage.START].id)
        await callbacks.log_attempt(
            session,
            task=task,
            made_by=MadeBy.CAMPAIGN,
            outcome=Outcome.EFFECTIVE,
            at=datetime(2026, 10, 2, 3, 0, tzinfo=UTC),
            satisfaction={"quality": Satisfaction.SATISFIED},
        )

    november = write_xlsx(
        tmp_path / "november.xlsx", sheet("2026-10-03", "2026-10-25", "2026-12-05")
    )
    report = await run_import(db, november, settings)
    assert (report.projects_updated, report.customers_unchanged) == (1, 1)
    assert report.callback_tasks_created == 0
    after = await tasks_of(db, "H-1")
    assert after[Stage.START].status is TaskStatus.DONE
    assert after[Stage.START].due_date == date(2026, 10, 1)  # history is never rewritten
    assert len(after[Stage.START].attempts) == 1
    assert after[Stage.CONCEALED_WORKS].due_date == date(2026, 10, 25)
    assert after[Stage.MIDTERM].due_date == date(2026, 12, 5)
    assert after[Stage.MIDTERM].status is TaskStatus.PENDING

    again = await run_import(db, november, settings)
    assert (again.projects_unchanged, again.projects_updated) == (1, 0)


async def test_a_database_error_mid_import_rolls_everything_back(
    db: Database, settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    add_projects = projects.add_projects

    async def failing_add(*args: Any, **kwargs: Any) -> None:
        await add_projects(*args, **kwargs)  # customers, projects and tasks written...
        raise OperationalError("INSERT INTO projects", {}, Exception("disk I/O error"))

    monkeypatch.setattr(projects, "add_projects", failing_add)
    path = write_xlsx(tmp_path / "customers.xlsx", chinese_sheet())
    with pytest.raises(OperationalError):
        await run_import(db, path, settings)
    assert await counts(db) == (0, 0, 0, 0)


async def test_rows_sharing_a_phone_link_into_one_customer(
    db: Database, settings: Settings, tmp_path: Path
) -> None:
    sheet = [
        CHINESE_HEADER,
        row(name="张伟", mobile="13800138000", contract="J-1"),
        row(name="张伟", mobile="13900139000", contract="J-2", grade="C"),
        row(name="张伟", mobile="13800138000/13900139000", grade="A"),
    ]
    report = await run_import(db, write_xlsx(tmp_path / "linked.xlsx", sheet), settings)
    assert (report.customers_created, report.projects_created) == (1, 2)
    assert report.warnings[1:] == ["row 4: 张伟's grade A differs from an earlier row's C; kept C"]
    async with db.session() as session:
        [zhang] = await customers.find_by_phone(session, "13900139000")
        assert zhang.grade is Grade.C and len(zhang.phones) == 2  # the first grade given
        assert len(await projects.get_for_customer(session, zhang.id)) == 2


async def test_a_customer_with_a_new_number_is_found_by_contract(
    db: Database, settings: Settings, tmp_path: Path
) -> None:
    async with db.session() as session:
        zhang = await customers.create(session, name="张伟", phones=["13800138000"])
        await projects.create(
            session,
            customer=zhang,
            contract_number="K-1",
            rules=ScheduleRules.from_settings(settings),
        )
    sheet = [
        CHINESE_HEADER,
        row(name="张伟", mobile="13911112222", contract="K-1", start="2026-11-02"),
    ]
    report = await run_import(db, write_xlsx(tmp_path / "new-number.xlsx", sheet), settings)
    assert (report.customers_created, report.customers_updated) == (0, 1)
    assert report.projects_updated == 1
    async with db.session() as session:
        [found] = await customers.find_by_phone(session, "139 1111 2222")
        assert found.id == zhang.id and len(found.phones) == 2
    assert set(await tasks_of(db, "K-1")) == {Stage.START}

"""The spreadsheet import on the admin page, in a real browser: an administrator uploads a
file with a bad row, reads the row's problem in Chinese, cannot commit, uploads the corrected
file, commits it, and the customers are there."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, expect

from crm.customers import service as customers
from crm.db import Database
from tests.support.browser import chromium, create_admin, log_in, open_tab, screenshot_path
from tests.support.live import LiveSystem, live_system

pytestmark = [
    pytest.mark.browser,
    pytest.mark.parametrize("database_url", ["sqlite"], indirect=True),
]

HEADER = "客户姓名,手机号,合同编号,开工日期,隐蔽工程验收日期\n"
GOOD = "张伟,13800138000,XA-1,2026-12-01,2026-12-20\n"
BAD = "李娜,13700137000,XA-2,2026-12-10,2026-12-01\n"  # concealed works before the start
FIXED = "李娜,13700137000,XA-2,2026-12-10,2026-12-28\n"


@pytest.fixture
async def system(db: Database, tmp_path: Path) -> AsyncIterator[LiveSystem]:
    async with live_system(db, tmp_path) as running:
        yield running


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with chromium() as running:
        yield running


def csv_file(name: str, text: str) -> dict[str, object]:
    return {"name": name, "mimeType": "text/csv", "buffer": ("\ufeff" + text).encode()}


async def test_admin_fixes_a_bad_row_and_imports_the_file(
    system: LiveSystem, db: Database, browser: Browser
) -> None:
    await create_admin(db)
    tab = await open_tab(browser, system)
    page = tab.page
    await log_in(tab, "admin", next_path="/admin")
    section = page.get_by_role("region", name="导入客户表格")
    await expect(section.get_by_role("heading", name="导入客户表格")).to_be_visible()

    # Nothing chosen: said next to the picker.
    await section.get_by_role("button", name="上传并检查").click()
    await expect(page.locator("#import-file-error")).to_have_text("请先选择一个表格文件")

    await section.get_by_label("表格文件").set_input_files(
        csv_file("客户.csv", HEADER + GOOD + BAD)  # type: ignore[arg-type]
    )
    await section.get_by_role("button", name="上传并检查").click()
    await expect(page.locator("#import-summary")).to_have_text("共 2 行：1 行无误，1 行有问题")
    table = page.locator("#import-table")
    bad_row = table.locator("tbody tr.import-bad")
    await expect(bad_row).to_have_count(1)  # only the rows with problems, at first
    await expect(bad_row.locator("th")).to_have_text("3")
    await expect(bad_row.locator(".import-problems li")).to_have_text(
        "隐蔽工程验收日期「2026-12-01」："
        "日期 2026-12-01 早于开工日期 2026-12-10：各阶段日期须按施工顺序"
    )
    await expect(table.locator("thead th")).to_have_text(
        ["行号", "客户姓名", "手机号", "合同编号", "开工日期", "隐蔽工程验收日期", "问题"]
    )
    commit = section.get_by_role("button", name="全部导入")
    await expect(commit).to_be_disabled()
    await expect(page.locator("#import-commit-note")).to_contain_text("还有 1 行有问题")
    await page.get_by_label("只显示有问题的行").uncheck()
    await expect(table.locator("tbody tr")).to_have_count(2)
    await page.screenshot(path=screenshot_path("admin-import-preview.png"), full_page=True)

    # The corrected file: every row fine, the commit button comes alive.
    await section.get_by_label("表格文件").set_input_files(
        csv_file("客户-改.csv", HEADER + GOOD + FIXED)  # type: ignore[arg-type]
    )
    await section.get_by_role("button", name="上传并检查").click()
    await expect(page.locator("#import-summary")).to_have_text("共 2 行：2 行无误，0 行有问题")
    await expect(page.locator("#import-plan")).to_have_text(
        "导入后将新建客户 2 位、更新客户 0 位，新建工程 2 个、更新工程 0 个"
    )
    await expect(commit).to_be_enabled()
    await commit.click()
    result = page.locator("#import-result")
    await expect(result).to_contain_text("导入完成：新建客户 2 位", timeout=20_000)
    bar = page.get_by_role("progressbar", name="处理进度")  # named by its label
    await expect(bar).to_be_visible()
    await expect(bar).to_have_attribute("aria-valuemin", "0")
    await expect(bar).to_have_attribute("aria-valuemax", "100")
    await expect(bar).to_have_attribute("aria-valuenow", "100")
    await expect(bar).to_have_attribute("aria-valuetext", "写入数据：100%")
    async with db.session() as session:
        [li] = await customers.find_by_phone(session, "13700137000")
    assert li.name == "李娜"
    assert tab.errors == []


async def test_a_long_preview_pages_through_every_row(
    system: LiveSystem, db: Database, browser: Browser
) -> None:
    """450 rows: the table shows 200 at a time, and the buttons reach the last row."""
    await create_admin(db)
    tab = await open_tab(browser, system)
    page = tab.page
    await log_in(tab, "admin", next_path="/admin")
    lines = "".join(f"客户{i},139{i:08d},PG-{i},2026-12-01,2026-12-20\n" for i in range(450))
    await page.get_by_label("表格文件").set_input_files(
        csv_file("长表.csv", HEADER + lines)  # type: ignore[arg-type]
    )
    await page.get_by_role("button", name="上传并检查").click()
    await expect(page.locator("#import-summary")).to_have_text(
        "共 450 行：450 行无误，0 行有问题", timeout=30_000
    )
    rows, showing = page.locator("#import-table tbody tr"), page.locator("#import-showing")
    previous, following = (
        page.get_by_role("button", name="上一页"),
        page.get_by_role("button", name="下一页"),
    )
    await expect(showing).to_have_text("第 1–200 行，共 450 行")
    await expect(rows).to_have_count(200)
    await expect(previous).to_be_disabled()
    await following.click()
    await expect(showing).to_have_text("第 201–400 行，共 450 行")
    await expect(rows.first.locator("th")).to_have_text("202")  # the header is row 1
    await following.click()
    await expect(showing).to_have_text("第 401–450 行，共 450 行")
    await expect(rows).to_have_count(50)
    await expect(rows.last.locator("th")).to_have_text("451")
    await expect(following).to_be_disabled()
    await previous.click()
    await expect(showing).to_have_text("第 201–400 行，共 450 行")
    assert tab.errors == []

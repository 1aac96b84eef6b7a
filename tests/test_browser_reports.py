"""The reports page in a real browser (Debian's chromium through Playwright) against the live
server: a supervisor opens the weekly callback analysis of a known week and sees its figures,
tables and drawn charts, downloads the XLSX, reads it in English and steps to the week before;
an agent is kept out."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from openpyxl import load_workbook
from playwright.async_api import Browser, expect

from crm.db import Database
from tests.support.browser import log_in, open_tab, screenshot_path
from tests.support.live import LiveSystem, live_system
from tests.support.report_fixture import ReportFixture, build

pytestmark = [
    pytest.mark.browser,
    pytest.mark.parametrize("database_url", ["sqlite"], indirect=True),
]
CHARTS_DRAWN = """() => {
  const canvases = [...document.querySelectorAll('canvas[data-chart]')];
  return canvases.length === 2 && canvases.every((c) => window.Chart && Chart.getChart(c));
}"""


@pytest.fixture
async def fx(db: Database) -> ReportFixture:
    return await build(db)


@pytest.fixture
async def system(db: Database, tmp_path: Path, fx: ReportFixture) -> AsyncIterator[LiveSystem]:
    async with live_system(db, tmp_path) as running:
        yield running


async def test_supervisor_reads_the_weekly_report(
    system: LiveSystem, fx: ReportFixture, browser: Browser, tmp_path: Path
) -> None:
    tab = await open_tab(browser, system)
    page = tab.page
    await log_in(tab, "supervisor", next_path="/console")
    await page.click("#nav-reports")
    await page.wait_for_url("**/reports**")
    await page.goto("/reports?kind=weekly&date=2026-11-17")
    await expect(page.locator("#report-title")).to_have_text("周回访情况分析表")
    await expect(page.locator("#report-period")).to_have_text(
        "2026-11-10 至 2026-11-16（周二至周一），2026-11-17 周二上报"
    )
    assert await page.title() == "报表 · 呼叫中心"
    fact = page.locator(".report-fact")
    await expect(fact.filter(has_text="回访次数").locator("dd")).to_have_text("7")
    await expect(fact.filter(has_text="有效率").locator("dd")).to_have_text("57.1%")
    await expect(fact.filter(has_text="逾期未回访").locator("dd")).to_have_text("2")

    stages = page.locator("[data-table=stages]")
    concealed = stages.locator("tbody tr", has_text="隐蔽工程回访")
    await expect(concealed.locator("td")).to_have_text(
        # attempts, effective, no answer, busy, congestion, failed, wrong person, refused,
        # call later, effective rate, satisfied, neutral, unsatisfied, satisfaction rate
        [
            "隐蔽工程回访",
            "3",
            "2",
            "0",
            "1",
            "0",
            "0",
            "0",
            "0",
            "0",
            "66.7%",
            "1",
            "0",
            "1",
            "50.0%",
        ]
    )
    await expect(stages.locator("tfoot td").nth(1)).to_have_text("7")
    unsatisfied = page.locator("[data-table=unsatisfied] tbody tr")
    await expect(unsatisfied).to_have_count(2)
    await expect(unsatisfied.first).to_contain_text("李强")
    await expect(unsatisfied.first).to_contain_text(
        f"已立投诉 #{fx.complaints['c1']}（工程部，已结案）"
    )
    await expect(unsatisfied.nth(1)).to_have_class("is-flagged")  # nothing done yet
    await expect(page.locator("[data-table=overdue] tbody tr")).to_have_count(3)
    await page.wait_for_function(CHARTS_DRAWN)
    await page.screenshot(path=screenshot_path("reports-weekly.png"), full_page=True)

    # The download is the same report.
    await expect(page.locator("#reports-xlsx")).to_have_attribute(
        "href", "/api/reports/weekly.xlsx?date=2026-11-16&lang=zh-CN"
    )
    async with page.expect_download() as caught:
        await page.click("#reports-xlsx")
    download = await caught.value
    saved = tmp_path / download.suggested_filename
    await download.save_as(saved)
    assert download.suggested_filename == "report-weekly-2026-11-10_2026-11-16.xlsx"
    book = load_workbook(io.BytesIO(saved.read_bytes()))
    assert book.worksheets[0]["A1"].value == "周回访情况分析表"

    # English, then the week before.
    await page.select_option("#lang-select", "en")
    await expect(page.locator("#report-title")).to_have_text("Weekly callback analysis")
    await expect(stages.locator("tbody tr", has_text="Concealed works")).to_have_count(1)
    await expect(page.locator("#reports-pdf")).to_have_attribute(
        "href", "/api/reports/weekly.pdf?date=2026-11-16&lang=en"
    )
    await page.click("#reports-previous")
    await expect(page.locator("#report-period")).to_have_text(
        "2026-11-03 to 2026-11-09 (Tuesday to Monday), due Tuesday 2026-11-10"
    )
    await expect(fact.filter(has_text="Callback attempts").locator("dd")).to_have_text("0")
    await page.wait_for_function(CHARTS_DRAWN)
    assert tab.errors == []


async def test_agents_are_kept_out(system: LiveSystem, fx: ReportFixture, browser: Browser) -> None:
    tab = await open_tab(browser, system)
    await log_in(tab, "agent1", next_path="/console")
    await expect(tab.page.locator("#nav-reports")).to_have_count(0)
    # The server's answer, read directly: a browser navigation racing the console's own
    # start-up requests is aborted now and then (net::ERR_ABORTED), which proves nothing.
    agent = await system.login("agent1")
    response = await agent.get("/reports", follow_redirects=False)
    assert response.status_code == 403  # the "no access" page (tests/test_authz_matrix.py)
    assert 'href="/console"' in response.text
    await agent.aclose()

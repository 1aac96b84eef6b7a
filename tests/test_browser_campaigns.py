"""The supervisors' campaign page in a real browser (Debian's chromium through Playwright)
against the live system with the PBX simulator: a supervisor creates and starts a campaign for
the due midterm callbacks through the form, a ready agent's console pops the customer with the
task, the agent logs an effective callback, and the supervisor's page shows the progress and
the attempt by itself; the server's validation problems read in Chinese beside their fields;
the buttons follow the campaign's status."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from datetime import date
from pathlib import Path

import pytest
from playwright.async_api import Browser, Dialog, Locator, Page, Route, expect

from crm.callbacks import service as callbacks
from crm.callbacks.schedule import ScheduleRules
from crm.clock import FixedClock
from crm.customers import service as customers
from crm.customers.models import Grade
from crm.db import Database
from crm.projects import service as projects
from crm.projects.models import ProjectStatus
from tests.support.browser import log_in, open_tab, screenshot_path
from tests.support.live import LiveSystem, live_system

pytestmark = [
    pytest.mark.browser,
    pytest.mark.parametrize("database_url", ["sqlite"], indirect=True),
]


@pytest.fixture
async def system(db: Database, tmp_path: Path, clock: FixedClock) -> AsyncIterator[LiveSystem]:
    # Monday 10:00 in Shanghai: inside the calling hours whatever the hour of the test run.
    async with live_system(db, tmp_path, clock=clock, dialer_calls_per_second=20.0) as running:
        yield running


async def _midterm_due(db: Database) -> int:
    """张伟's project reached its midterm inspection yesterday: that callback is due (the
    start and concealed-works ones are overdue too, but not in a midterm campaign)."""
    async with db.session() as session:
        customer = await customers.create(
            session, name="张伟", phones=["13812345678"], grade=Grade.A, address="雁塔区科技路8号"
        )
        project = await projects.create(
            session,
            customer=customer,
            contract_number="XA2026-000777",
            rules=ScheduleRules(window_days=3, post_completion_months=0),
            status=ProjectStatus.IN_PROGRESS,
            start_date=date(2026, 10, 10),
            concealed_works_date=date(2026, 10, 30),
            midterm_date=date(2026, 11, 22),
        )
        [task] = [
            t
            for t in await callbacks.get_for_project(session, project.id)
            if t.stage.value == "midterm"
        ]
        return task.id


async def _new_campaign(page: Page) -> None:
    await page.click("#campaign-new")
    await expect(page.locator("#campaign-form-heading")).to_have_text("新建外呼活动")


def _counter(page: Page, stage: str, name: str) -> Locator:
    return page.locator(
        f'#campaign-progress-rows tr[data-stage="{stage}"] td[data-counter="{name}"]'
    )


async def test_supervisor_starts_a_campaign_and_watches_an_agent_complete_a_callback(
    system: LiveSystem, db: Database, browser: Browser
) -> None:
    task_id = await _midterm_due(db)
    boss = await open_tab(browser, system)
    page = boss.page
    await log_in(boss, "supervisor", next_path="/campaigns")
    await expect(page.locator("#campaigns-heading")).to_have_text("外呼活动")
    await expect(page).to_have_title("外呼活动 · 呼叫中心")
    await expect(page.locator("#campaigns-status")).to_have_text("还没有外呼活动")

    # Through the form: midterm callbacks, answered by agent1, one call at a time.
    await _new_campaign(page)
    form = page.locator("#campaign-form")
    await form.locator("input[name=name]").fill("11月中期回访")
    await form.locator('input[name=stages][value="midterm"]').check()
    await form.locator('input[name=project_statuses][value="in_progress"]').check()
    agent = form.locator('[data-field="agent_ids"] .check', has_text="坐席1001")
    await expect(agent).to_contain_text("分机 1001")
    await agent.locator("input").check()
    await form.locator("input[name=max_concurrent]").fill("1")
    await form.locator("input[name=busy_retry_minutes]").fill("15")
    await form.locator("button[type=submit]").click()
    await expect(page.locator(".toast")).to_contain_text("已创建活动“11月中期回访”")
    await expect(page).to_have_url(re.compile(r"/campaigns#campaign=\d+$"))
    campaign_id = int(page.url.rsplit("=", 1)[1])
    head = page.locator(".campaign-head")
    await expect(page.locator("#campaign-title")).to_have_text("11月中期回访")
    await expect(page.locator("#campaign-status")).to_have_text("草稿")
    await expect(head.locator(".campaign-facts")).to_contain_text("中期回访")
    await expect(head.locator(".campaign-facts")).to_contain_text("坐席1001")
    await expect(head.locator(".campaign-facts")).to_contain_text("忙线 15 分钟后")
    await expect(page.locator("#campaign-actions button")).to_have_text(["开始", "结束"])
    await expect(_counter(page, "midterm", "due")).to_have_text("1")
    await expect(page.locator("#campaign-progress-rows tr")).to_have_count(1)  # midterm only
    await expect(page.locator("#campaign-attempts-rows")).to_contain_text("还没有外呼记录")
    listed = page.locator(f'#campaign-list a[data-campaign-id="{campaign_id}"]')
    await expect(listed).to_contain_text("草稿")

    await page.click("#campaign-start")
    await expect(page.locator("#campaign-status")).to_have_text("进行中")
    await expect(page.locator("#campaign-actions button")).to_have_text(["暂停", "结束"])
    await expect(page.locator("#campaign-dialer")).to_have_attribute("data-state", "active")
    await expect(listed).to_contain_text("进行中")
    await page.wait_for_function(
        "() => window.Chart"
        " && document.querySelector('#campaign-chart').getAttribute('width') !== null"
    )

    # The agent goes ready: the dialer rings their phone and the console pops 张伟's task.
    desk = await open_tab(browser, system)
    console = desk.page
    await log_in(desk, "agent1")
    await console.click("#state-ready")
    pop = console.locator(".call-card").first
    await expect(pop.locator(".call-name")).to_have_text("张伟")
    await expect(pop.locator(".call-task")).to_have_text("回访外呼：中期回访")
    await expect(console.locator(".customer-name")).to_have_text("张伟")
    callback = console.locator("#callback-form")
    await expect(callback.locator("select[name=task_id]")).to_have_value(str(task_id))
    await expect(callback.locator(".linked-call")).to_contain_text("本次为回访外呼")
    # The supervisor sees the call in progress without touching the page.
    await expect(_counter(page, "midterm", "dialing")).to_have_text("1")
    await expect(page.locator("#campaign-attempts-rows tr[data-attempt-id]")).to_contain_text(
        "进行中"
    )

    await callback.locator("input[name=outcome][value=effective]").check()
    for area, value in (
        ("quality", "satisfied"),
        ("crew", "satisfied"),
        ("supervisor", "satisfied"),
        ("designer", "neutral"),
    ):
        await callback.locator(f'input[name="satisfaction.{area}"][value="{value}"]').check()
    await callback.locator("textarea[name=notes]").fill("中期验收顺利，客户满意")
    await callback.locator("button[type=submit]").click()
    await expect(console.locator(".toast")).to_contain_text("回访记录已保存")

    # The supervisor's page moves on its own: effective and satisfied, the attempt listed.
    for name, value in (
        ("effective", "1"),
        ("satisfied", "1"),
        ("reached", "1"),
        ("dialing", "0"),
        ("unsatisfied", "0"),
        ("due", "0"),
    ):
        await expect(_counter(page, "midterm", name)).to_have_text(value, timeout=15_000)
    total = page.locator(".campaign-progress-table tfoot")
    await expect(total.locator('td[data-counter="effective"]')).to_have_text("1")
    row = page.locator("#campaign-attempts-rows tr[data-attempt-id]")
    await expect(row).to_have_count(1)
    await expect(row).to_have_attribute("data-outcome", "effective")
    await expect(row).to_contain_text("张伟")
    await expect(row).to_contain_text("138 1234 5678")
    await expect(row).to_contain_text("中期回访")
    await expect(row).to_contain_text("坐席1001")
    await expect(row).to_contain_text("有效回访")
    await expect(row).to_contain_text("施工质量：满意")
    await expect(row).to_contain_text("设计师：一般")
    await expect(row).to_contain_text("中期验收顺利，客户满意")
    await page.screenshot(path=screenshot_path("campaigns-progress.png"), full_page=True)

    export = page.locator("#campaign-export")
    await expect(export).to_have_text("导出 XLSX")
    response = await page.request.get(await export.get_attribute("href") or "")
    assert response.ok and (await response.body())[:2] == b"PK"
    assert response.headers["content-disposition"].endswith(
        f'filename="campaign-{campaign_id}.xlsx"'
    )
    assert boss.errors == [] and desk.errors == []


async def test_validation_in_chinese_and_the_buttons_follow_the_status(
    system: LiveSystem, browser: Browser
) -> None:
    tab = await open_tab(browser, system)
    page = tab.page
    await log_in(tab, "supervisor", next_path="/campaigns")
    await _new_campaign(page)
    form = page.locator("#campaign-form")

    # The business rules, each problem by its field.
    await form.locator("input[name=due_from]").fill("2026-11-30")
    await form.locator("input[name=due_to]").fill("2026-11-01")
    await form.locator("input[name=calling_hours]").fill("9点到12点")
    await form.locator("input[name=max_concurrent]").fill("0")
    await form.locator("input[name=max_attempts_per_day]").fill("5")
    await form.locator("input[name=max_attempts_total]").fill("2")
    await form.locator("button[type=submit]").click()
    errors = {
        "name": "必填",
        "due_to": "结束日期早于开始日期",
        "calling_hours": "呼叫时段格式不正确，例如 09:00-12:00,14:00-20:00",
        "max_concurrent": "超出允许的范围",
        "max_attempts_total": "超出允许的范围",
    }
    for name, text in errors.items():
        box = form.locator(f'[data-field="{name}"]')
        await expect(box).to_have_class(re.compile(r"\bhas-error\b"))
        await expect(box.locator(".field-error")).to_have_text(text)
    await expect(form.locator('[data-field="max_attempts_per_day"]')).not_to_have_class(
        re.compile(r"\bhas-error\b")
    )
    await expect(form.locator("[data-form-error]")).to_be_visible()
    await page.screenshot(path=screenshot_path("campaigns-form-errors.png"), full_page=True)
    await expect(page.locator("#campaign-list a")).to_have_count(0)  # nothing was created

    # A cleared number is refused as such, and the earlier problems go.
    await form.locator("input[name=name]").fill("完工回访")
    await form.locator("input[name=due_to]").fill("")
    await form.locator("input[name=calling_hours]").fill("09:00-11:30")
    await form.locator("input[name=max_concurrent]").fill("")
    await form.locator("input[name=max_attempts_total]").fill("6")
    await form.locator("button[type=submit]").click()
    await expect(form.locator('[data-field="max_concurrent"] .field-error')).to_have_text(
        "请填写整数"
    )
    await expect(form.locator(".has-error")).to_have_count(1)

    await form.locator("input[name=max_concurrent]").fill("3")
    await form.locator("button[type=submit]").click()
    await expect(page.locator("#campaign-status")).to_have_text("草稿")
    await expect(page.locator(".campaign-facts")).to_contain_text("09:00-11:30")

    # Editing: the server's range check, then a good value.
    await page.click("#campaign-edit")
    await expect(page.locator("#campaign-form-heading")).to_have_text("编辑活动“完工回访”")
    form = page.locator("#campaign-form")
    await expect(form.locator("input[name=max_concurrent]")).to_have_value("3")
    pacing = form.locator('[data-field="pacing_ratio"]')
    await expect(pacing).to_be_hidden()  # the pace is the customer-first mode's
    await form.locator('input[name=mode][value="customer_first"]').check()
    await form.locator("input[name=pacing_ratio]").fill("5")
    await form.locator('input[name=mode][value="agent_first"]').check()
    await expect(pacing).to_be_hidden()
    await form.locator("button[type=submit]").click()
    await expect(pacing).to_be_visible()  # a refused value is never out of sight
    await expect(pacing.locator(".field-error")).to_have_text("超出允许的范围")
    await form.locator("input[name=pacing_ratio]").fill("1.5")
    await form.locator("input[name=max_concurrent]").fill("4")
    await form.locator("button[type=submit]").click()
    await expect(page.locator(".toast").last).to_contain_text("已保存活动“完工回访”")
    await expect(page.locator(".campaign-facts")).to_contain_text("同时通话上限4")

    # The buttons each status allows. The attempts list answers slowly (a busy server): the
    # buttons drawn for the new status work while it still loads.
    async def slow_attempts(route: Route) -> None:
        await asyncio.sleep(1.5)
        await route.continue_()

    await page.route("**/api/campaigns/*/attempts*", slow_attempts)
    actions = page.locator("#campaign-actions button")
    await expect(actions).to_have_text(["开始", "结束"])
    await page.click("#campaign-start")
    await expect(page.locator("#campaign-status")).to_have_text("进行中")
    await expect(actions).to_have_text(["暂停", "结束"])
    await page.click("#campaign-pause")
    await expect(page.locator("#campaign-status")).to_have_text("已暂停")
    await expect(actions).to_have_text(["继续", "结束"])
    await expect(page.locator(".toast").last).to_contain_text("不再拨新的号码")
    answers = [False, True]  # stopping is for good: asked first, refused once
    questions: list[str] = []

    async def answer(dialog: Dialog) -> None:
        questions.append(dialog.message)
        await (dialog.accept() if answers.pop(0) else dialog.dismiss())

    page.on("dialog", answer)
    await page.click("#campaign-stop")
    await expect(page.locator("#campaign-stop")).to_be_enabled()
    await expect(page.locator("#campaign-status")).to_have_text("已暂停")
    await page.click("#campaign-stop")
    await expect(page.locator("#campaign-status")).to_have_text("已结束")
    await expect(actions).to_have_count(0)
    await expect(page.locator("#campaign-edit")).to_have_count(0)
    await expect(page.locator("#campaign-list a").first).to_contain_text("已结束")
    assert questions == ["结束活动“完工回访”？结束后不能再开始或修改，已有的外呼记录会保留。"] * 2

    # And in English.
    await page.select_option("#lang-select", "en")
    await expect(page.locator("#campaigns-heading")).to_have_text("Campaigns")
    await expect(page.locator("#campaign-status")).to_have_text("Stopped")
    await expect(page.locator(".campaign-facts")).to_contain_text("Calls at once4")
    assert tab.errors == []

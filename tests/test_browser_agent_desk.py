"""An agent's day on the console in a real browser (Debian's chromium through Playwright)
against the live system and the PBX simulator: the header pill follows the call (ringing, on
a call with its timer, wrap-up), the wrap-up form codes the call (and, when coding is
required, going ready waits for it), the worklist lists the callbacks by deadline one click
from the card and the dial button, and a dissatisfied answer's complaint is announced and
listed at once."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
from playwright.async_api import Browser, expect

from crm.callbacks import service as callbacks
from crm.callbacks.models import MadeBy, Outcome
from crm.callbacks.schedule import ScheduleRules
from crm.clock import FixedClock
from crm.customers.models import Grade
from crm.db import Database
from crm.projects import service as projects
from crm.users import service as users
from tests.support.browser import (
    go_ready,
    logged_in_tab,
    screenshot_path,
    seed_customer,
)
from tests.support.live import LiveSystem, live_system

pytestmark = [
    pytest.mark.browser,
    pytest.mark.parametrize("database_url", ["sqlite"], indirect=True),
]


@pytest.fixture
async def system(db: Database, tmp_path: Path) -> AsyncIterator[LiveSystem]:
    async with live_system(db, tmp_path, wrapup_seconds=1, disposition_required=True) as running:
        yield running


async def test_the_pill_follows_the_call_and_ready_waits_for_the_wrapup_code(
    system: LiveSystem, db: Database, browser: Browser
) -> None:
    today = system.services.today()
    wang = await seed_customer(
        db, today, name="王建国", phones=["13800138000"], contract_number="XA2026-000001"
    )
    tab = await logged_in_tab(browser, system, "agent1")
    page = tab.page
    await go_ready(page)
    chip = page.locator("#state-chip")
    ready = page.locator("#state-ready")

    # An unknown number rings: the pill says so, not 就绪.
    system.sim.set_answer("1001", None)
    linkedid = await system.sim.place_inbound_call("13912345678", talk_seconds=60)
    await expect(chip).to_have_attribute("data-status", "ringing")
    await expect(chip).to_contain_text("振铃中")
    await expect(chip).to_have_attribute("data-linkedid", linkedid)

    system.sim.set_answer("1001", 0.5)
    await expect(chip).to_have_attribute("data-status", "on_call")
    await expect(chip).to_contain_text(re.compile(r"通话中\s*已持续 00:0\d"))
    await expect(chip.locator(".state-time")).not_to_have_text("已持续 00:00", timeout=3000)
    await page.screenshot(path=screenshot_path("console-on-call.png"))

    # Meanwhile the agent finds the caller's customer record (the number was not on it).
    await page.fill("#search-q", "王建国")
    await page.press("#search-q", "Enter")
    await expect(page.locator(".customer-name")).to_have_text("王建国")

    # The call ends: wrap-up, the form to code it, and ready waits for the code.
    form = page.locator("#wrapup-form")
    await expect(form).to_be_visible(timeout=15_000)
    await expect(chip).to_have_attribute("data-status", "wrapup")
    await expect(ready).to_be_disabled()
    await expect(chip).to_contain_text("待填写通话小结")  # its time is over, it is held
    await expect(page.locator("#wrapup .wrapup-call")).to_contain_text("139 1234 5678")

    await form.locator("button[type=submit]").click()  # no code chosen
    await expect(form.locator('[data-field="code"] .field-error')).not_to_be_empty()
    await expect(ready).to_be_disabled()
    link = form.locator('input[name="link_customer"]')
    await expect(link).to_be_checked()
    await expect(form.locator(".wrapup-link")).to_contain_text("关联到客户 王建国")
    await form.locator('label[data-code="consultation"]').click()  # as a person picks it
    await expect(form.get_by_label("咨询")).to_be_checked()
    await form.locator('select[name="project_id"]').select_option(str(wang.project_id))
    await form.locator("textarea").fill("问开工日期")
    await page.screenshot(path=screenshot_path("console-wrapup.png"))
    await form.locator("button[type=submit]").click()
    await expect(page.locator(".toast")).to_contain_text("通话小结已保存：咨询")
    await expect(page.locator("#wrapup-form")).to_have_count(0)
    await expect(ready).to_be_enabled()
    await expect(chip).to_have_attribute("data-status", "ready")
    mine = page.locator("#mycalls .mycall-disposition")
    await expect(mine).to_have_text("咨询")

    client = await system.login("agent1")
    [call] = (await client.get("/api/calls/mine")).json()
    assert (call["linkedid"], call["customer_name"], call["disposition"]) == (
        linkedid,
        "王建国",
        "consultation",
    )
    coded = (await client.get(f"/api/calls/{call['id']}/disposition")).json()
    assert (coded["project_id"], coded["note"]) == (wang.project_id, "问开工日期")
    await client.aclose()
    assert tab.errors == []


@pytest.fixture
async def dialing_system(
    db: Database, tmp_path: Path, clock: FixedClock
) -> AsyncIterator[LiveSystem]:
    # A fixed Monday morning: an agent's calls keep to the calling hours.
    async with live_system(db, tmp_path, clock=clock) as running:
        yield running


async def test_the_worklist_is_by_deadline_one_click_from_the_card_and_the_dial_button(
    dialing_system: LiveSystem, db: Database, browser: Browser
) -> None:
    system = dialing_system
    today = system.services.today()
    late = await seed_customer(  # started ten days ago: its start callback is overdue
        db, today, name="王建国", phones=["13800138000"], contract_number="XA2026-000001"
    )
    promised = await seed_customer(
        db,
        today,
        name="李秀英",
        phones=["13700137000"],
        contract_number="XA2026-000002",
        grade=Grade.B,
    )
    async with db.session() as session:
        agent = await users.get_by_username(session, "agent1")
        assert agent is not None
        project = await projects.get_or_raise(session, promised.project_id)
        await projects.update(  # started yesterday: due, three days left
            session,
            project,
            rules=ScheduleRules(window_days=3, post_completion_months=1),
            start_date=today - timedelta(days=1),
        )
        task = await callbacks.get_or_raise(session, promised.task_ids["start"])
        await callbacks.log_attempt(
            session,
            task=task,
            made_by=MadeBy.AGENT,
            agent_id=agent.id,
            outcome=Outcome.CALL_LATER,
            at=system.services.clock.now() - timedelta(days=1),
            call_back_at=system.services.clock.now() + timedelta(hours=1),
        )
    tab = await logged_in_tab(browser, system, "agent1")
    page = tab.page
    items = page.locator("#worklist .worklist-item")
    await expect(items).to_have_count(2)
    assert [await i.get_attribute("data-task-id") for i in await items.all()] == [
        str(late.task_ids["start"]),
        str(promised.task_ids["start"]),
    ]
    first, second = items.nth(0), items.nth(1)
    await expect(first).to_have_class(re.compile(r"\bis-overdue\b"))
    await expect(first).to_contain_text("开工回访 · 合同 XA2026-000001")
    await expect(second).to_have_attribute("data-mine", "true")
    await expect(second).to_contain_text("我约定的")
    await expect(page.locator("#worklist-status")).to_have_text("2 项 · 逾期 1")

    await second.locator(".worklist-open").click()
    await expect(page.locator(".customer-name")).to_have_text("李秀英")
    await expect(page.locator("#callback-form select[name=task_id]")).to_have_value(
        str(promised.task_ids["start"])
    )

    system.sim.set_answer("1001", None)
    await first.locator(".worklist-dial").click()
    await expect(page.locator(".toast")).to_contain_text("正在呼叫 138 0013 8000")
    await expect(page.locator(".customer-name")).to_have_text("王建国")
    await expect(page.locator("#callback-form select[name=task_id]")).to_have_value(
        str(late.task_ids["start"])
    )
    # Being dialed now, it leaves the worklist.
    await expect(items).to_have_count(1)
    await page.screenshot(path=screenshot_path("console-worklist.png"))
    await expect(page.locator('#today [data-figure="callbacks"] .today-value')).to_have_text(
        "0 / 1"
    )
    assert tab.errors == []


async def test_a_dissatisfied_answer_announces_and_lists_its_complaint(
    system: LiveSystem, db: Database, browser: Browser
) -> None:
    seeded = await seed_customer(
        db,
        system.services.today(),
        name="王建国",
        phones=["13800138000"],
        contract_number="XA2026-000001",
    )
    tab = await logged_in_tab(browser, system, "agent1")
    page = tab.page
    await page.fill("#search-q", "王建国")
    await page.press("#search-q", "Enter")
    await expect(page.locator(".customer-name")).to_have_text("王建国")
    tickets = page.locator("#customer-tickets")
    await expect(tickets).to_contain_text("没有")  # nothing open yet

    start = page.locator(f'.task[data-task-id="{seeded.task_ids["start"]}"]')
    await start.locator("[data-action=log]").click()
    form = page.locator("#callback-form")
    await form.locator("input[name=outcome][value=effective]").check()
    await form.locator('input[name="satisfaction.quality"][value="satisfied"]').check()
    await form.locator('input[name="satisfaction.crew"][value="unsatisfied"]').check()
    await form.locator("textarea[name=notes]").fill("施工队迟到两次")
    await form.locator("button[type=submit]").click()

    toast = page.locator(".toast", has_text="客户不满意")
    await expect(toast).to_contain_text(re.compile(r"已自动登记投诉 #\d+，转工程部"))
    complaint_id = re.search(r"#(\d+)", await toast.inner_text())
    assert complaint_id is not None
    await expect(toast.locator("a")).to_have_attribute(
        "href", f"/complaints?open={complaint_id.group(1)}"
    )
    line = tickets.locator(f'li[data-complaint-id="{complaint_id.group(1)}"]')
    await expect(line).to_contain_text("工程部")
    assert tab.errors == []

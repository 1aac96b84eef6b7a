"""The console's call controls in a real browser (Debian's chromium through Playwright) on
calls the PBX simulator places: hold and resume, a blind transfer to a colleague, a number
called from the dial pad and hung up; each button enabled only when the call's state allows
it, each result shown."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, Locator, Page, expect

from crm.clock import FixedClock
from crm.db import Database
from tests.support.browser import log_in, open_tab, screenshot_path, seed_customer
from tests.support.live import LiveSystem, live_system
from tests.support.waiting import until

pytestmark = [
    pytest.mark.browser,
    pytest.mark.parametrize("database_url", ["sqlite"], indirect=True),
]


@pytest.fixture
async def system(db: Database, tmp_path: Path, clock: FixedClock) -> AsyncIterator[LiveSystem]:
    async with live_system(db, tmp_path, clock=clock) as running:
        yield running


def button(page: Page, control: str) -> Locator:
    return page.locator(f'#call-controls button[data-control="{control}"]')


async def test_hold_transfer_and_hang_up_from_the_console(
    system: LiveSystem, db: Database, browser: Browser
) -> None:
    await seed_customer(
        db, system.services.today(), name="王建国", phones=["13800138000"],
        contract_number="XA2026-000001",
    )  # fmt: skip
    tab = await open_tab(browser, system)
    page = tab.page
    await log_in(tab, "agent1")
    controls = page.locator("#call-controls")
    await expect(controls).to_be_hidden()  # no call, nothing to control
    await page.click("#state-ready")
    await expect(page.locator("#state-chip")).to_have_attribute("data-status", "ready")
    system.sim.set_answer("1001", 1)
    linkedid = await system.sim.place_inbound_call("13800138000", talk_seconds=100_000)

    # Answered: the controls follow the call, enabled as its state allows.
    await expect(controls).to_be_visible()
    await expect(controls.locator(".controls-status")).to_have_text("通话中")
    await expect(button(page, "hold")).to_be_enabled()
    await expect(button(page, "resume")).to_be_hidden()
    await expect(button(page, "complete")).to_be_hidden()

    await button(page, "hold").click()
    await expect(page.locator(".toast")).to_contain_text("客户已保持")
    await expect(controls.locator(".controls-status")).to_contain_text("保持中")
    await expect(button(page, "resume")).to_be_enabled()
    await expect(button(page, "hold")).to_be_hidden()
    await page.screenshot(path=screenshot_path("call-controls-held.png"))
    await button(page, "resume").click()
    await expect(controls.locator(".controls-status")).to_have_text("通话中")

    # A blind transfer to 1002: a bad target first, said next to nothing but a toast.
    await button(page, "transfer").click()
    form = controls.locator("form[data-form=transfer]")
    await form.locator("input[name=target]").fill("1009")
    await form.locator("button[type=submit]").click()
    await expect(page.locator(".toast-error")).to_contain_text("没有坐席使用这个分机")
    await form.locator("input[name=target]").fill("1002")
    await form.locator("button[type=submit]").click()
    await expect(page.locator(".toast").last).to_contain_text("已转接至 1002")
    await expect(controls.locator(".controls-status")).to_have_text("通话已结束")
    for control in ("hangup", "hold", "transfer"):
        await expect(button(page, control)).to_be_disabled()

    # The colleague has the customer; they hang up and the call is one answered call.
    bridge = system.bridge
    await until(lambda: any(r.agent_extension == "1001" for r in bridge.tracker.live_calls()))
    await until(
        lambda: any("PJSIP/1002" in r.agents_connected for r in bridge.tracker.live_calls()),
        timeout=15,
    )
    colleague = next(c.name for c in system.sim.pbx.channels if c.name.startswith("PJSIP/1002-"))
    await bridge.client.send_checked({"Action": "Hangup", "Channel": colleague})
    await until(lambda: bridge.tracker.ended(linkedid), timeout=15)

    # The dial pad calls a typed number (the agent's phone first); the agent hangs up from
    # the console.
    await page.fill("#dial-number", "139 0013 9000")
    await page.click("#dial-pad button[type=submit]")
    await expect(page.locator(".toast").last).to_contain_text("正在呼叫 139 0013 9000")
    await until(lambda: len(bridge.tracker.live_calls()) == 1, timeout=15)
    second = bridge.tracker.live_calls()[0].linkedid
    await expect(page.locator(f'.call-card[data-linkedid="{second}"]')).to_be_visible()
    await expect(controls.locator(".controls-status")).to_have_text("通话中", timeout=15_000)
    await button(page, "hangup").click()
    await expect(page.locator(".toast").last).to_contain_text("已挂断")
    await until(lambda: bridge.tracker.ended(second), timeout=15)
    await expect(page.locator(f'.call-card[data-linkedid="{second}"]')).to_have_attribute(
        "data-status", "ended"
    )
    await expect(controls).to_be_hidden()
    assert tab.errors == []

"""The supervisors' wallboard in a real browser (Debian's chromium through Playwright) against
the live system and the PBX simulator: a caller waits while nobody is ready, then an agent
goes ready and answers — the waiting count, the answered count and the agent's state change
on the open page, pushed over the websocket, without a reload. Agents are kept out."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, expect

from crm.db import Database
from tests.support.browser import chromium, log_in, open_tab, screenshot_path
from tests.support.live import LiveSystem, live_system

pytestmark = [
    pytest.mark.browser,
    pytest.mark.parametrize("database_url", ["sqlite"], indirect=True),
]


@pytest.fixture
async def system(db: Database, tmp_path: Path) -> AsyncIterator[LiveSystem]:
    # One simulated second is 0.25 s: a caller nobody answers stays 15 s (the queue's 60).
    async with live_system(db, tmp_path, time_scale=0.25) as running:
        yield running


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with chromium() as running:
        yield running


def figure(page: Page, name: str, queue: str = "service"):  # type: ignore[no-untyped-def]
    return page.locator(f"[data-queue={queue}] [data-figure={name}] .wb-figure-value")


def agent_row(page: Page, extension: str):  # type: ignore[no-untyped-def]
    return page.locator(f"#wb-agent-rows tr[data-extension='{extension}']")


async def test_wallboard_moves_when_a_waiting_call_is_answered(
    system: LiveSystem, browser: Browser
) -> None:
    tab = await open_tab(browser, system)
    page = tab.page
    await log_in(tab, "supervisor", next_path="/wallboard")
    await expect(figure(page, "waiting")).to_have_text("0")
    await expect(figure(page, "answered")).to_have_text("0")
    await expect(page.locator("[data-queue=callbacks]")).to_be_visible()
    await expect(agent_row(page, "1001")).to_have_attribute("data-status", "logged_out")
    await expect(agent_row(page, "1001").locator(".wb-state")).to_contain_text("已签出")
    await expect(page.locator("#wb-live")).to_have_attribute("data-state", "up")
    # The definitions are on the page, with the configured threshold.
    await page.locator("#wb-definitions summary").click()
    await expect(page.locator("#wb-definition-list")).to_contain_text(
        "15 秒内接通的来电 ÷（呼入 − 15 秒内放弃的来电）"
    )
    await page.evaluate("window.wallboardMarker = 'same page'")

    # Nobody is ready: the call waits, and its wait runs on the tile. agent1 is logged in but
    # paused: with nobody logged in at all, the queue (joinempty, as on a real Asterisk)
    # would turn the caller away instead.
    agent = await system.login("agent1")
    await agent.put("/api/agent/state", json={"status": "paused", "reason": "training"})
    await expect(agent_row(page, "1001")).to_have_attribute("data-status", "paused")
    await system.sim.place_inbound_call("13800138000", answer_after=2, talk_seconds=60)
    await expect(figure(page, "waiting")).to_have_text("1")
    await expect(figure(page, "longest_now")).to_have_text(re.compile(r"^00:0[1-9]$"))  # runs
    await expect(page.locator("[data-queue=service]")).to_have_class("wb-queue is-waiting")

    # agent1 goes ready; the queue rings the phone, which answers after 2 simulated seconds.
    response = await agent.put("/api/agent/state", json={"status": "ready"})
    assert response.json()["pbx_synced"] is True
    await expect(figure(page, "answered")).to_have_text("1")
    await expect(figure(page, "waiting")).to_have_text("0")
    await expect(figure(page, "offered")).to_have_text("1")
    await expect(agent_row(page, "1001")).to_have_attribute("data-status", "on_call")
    await expect(agent_row(page, "1001").locator(".wb-state")).to_have_text("通话中")
    await expect(agent_row(page, "1001").locator("[data-figure=handled]")).to_have_text("1")
    await expect(agent_row(page, "1002")).to_have_attribute("data-status", "logged_out")
    await expect(page.locator("#wb-agents-summary")).to_contain_text("通话 1")
    assert await page.evaluate("window.wallboardMarker") == "same page"  # never reloaded
    frames = tab.messages("wallboard")
    assert frames and any(
        next(q for q in f["queues"] if q["queue"] == "service")["answered"] == 1 for f in frames
    )
    await page.screenshot(path=screenshot_path("wallboard.png"), full_page=True)

    # The page speaks English too.
    await page.select_option("#lang-select", "en")
    await expect(agent_row(page, "1001").locator(".wb-state")).to_have_text("On a call")
    await expect(page.locator("[data-queue=service] [data-figure=service_level]")).to_contain_text(
        "Answered in 15 s"
    )
    assert tab.errors == []
    await agent.aclose()


async def test_agents_are_kept_out(system: LiveSystem, browser: Browser) -> None:
    tab = await open_tab(browser, system)
    await log_in(tab, "agent1")
    await expect(tab.page.locator("#nav-wallboard")).to_have_count(0)
    agent = await system.login("agent1")
    response = await agent.get("/wallboard", follow_redirects=False)
    assert (response.status_code, response.headers["location"]) == (303, "/console")
    await agent.aclose()
    boss = await open_tab(browser, system)
    await log_in(boss, "supervisor")
    await boss.page.click("#nav-wallboard")
    await boss.page.wait_for_url("**/wallboard")
    await expect(boss.page.locator("#wb-heading")).to_have_text("实时监控大屏")

"""The supervisors' wallboard in a real browser (Debian's chromium through Playwright) against
the live system and the PBX simulator: a caller waits while nobody is ready, then an agent
goes ready and answers — the waiting count, the answered count and the agent's state change
on the open page, pushed over the websocket, without a reload. Agents are kept out."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.async_api import Browser, Locator, Page, expect

from crm.db import Database
from crm.users import service as users
from tests.support.browser import log_in, open_tab, screenshot_path
from tests.support.live import LiveSystem, live_system

pytestmark = [
    pytest.mark.browser,
    pytest.mark.parametrize("database_url", ["sqlite"], indirect=True),
]

# Records each wallboard notice (its measure and words) the moment it is added to the page.
RECORD_NOTICES = """() => {
  window.ccNotices = [];
  new MutationObserver((changes) => {
    for (const change of changes) for (const node of change.addedNodes) {
      if (node.classList && node.classList.contains("toast-wallboard-alert")) {
        window.ccNotices.push({ measure: node.dataset.measure, text: node.textContent });
      }
    }
  }).observe(document.body, { childList: true, subtree: true });
}"""


@pytest.fixture
async def system(db: Database, tmp_path: Path) -> AsyncIterator[LiveSystem]:
    # One simulated second is 0.25 s: a caller nobody answers stays 15 s (the queue's 60).
    async with live_system(db, tmp_path, time_scale=0.25) as running:
        yield running


def figure(page: Page, name: str, queue: str = "service") -> Locator:
    return page.locator(f"[data-queue={queue}] [data-figure={name}] .wb-figure-value")


def agent_row(page: Page, extension: str) -> Locator:
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
    await expect(agent_row(page, "1001").locator(".wb-state")).to_contain_text("未在队列")
    await expect(page.locator("#wb-live")).to_have_attribute("data-state", "up")
    await expect(page.locator("#wb-disk")).to_be_hidden()  # room on the recordings' disk
    # The definitions are on the page, with the configured threshold.
    await page.locator("#wb-definitions summary").click()
    await expect(page.locator("#wb-definition-list")).to_contain_text(
        "15 秒内接通的来电 ÷（呼入 − 15 秒内放弃的来电）"
    )
    await expect(page.locator("#wb-definition-list")).to_contain_text(  # the alert levels
        "排队等待 ≥ 2 / 5 位；当前最长等待 ≥ 10 / 15 秒；放弃率 ≥ 5% / 10%"
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
    assert response.status_code == 403
    await agent.aclose()

    # Opened in the browser, the wallboard says why not, who it is for and who grants it.
    refused = await open_tab(browser, system)
    page = refused.page
    await log_in(refused, "agent1", next_path="/wallboard")
    assert urlsplit(page.url).path == "/wallboard"
    await expect(page.locator("h1")).to_have_text("您没有打开此页面的权限")
    await expect(page.locator("#forbidden-page")).to_have_text("“监控大屏”页面仅供以下角色使用：")
    await expect(page.locator("#forbidden-roles li")).to_have_text(["客服经理", "管理员"])
    await expect(page.locator("#forbidden-yours")).to_contain_text("客服专员")
    await expect(page.locator("#forbidden-grant")).to_contain_text("管理员")
    await page.select_option("#lang-select", "en")
    await expect(page.locator("h1")).to_have_text("You do not have access to this page")
    await expect(page.locator("#forbidden-roles li")).to_have_text(["Supervisor", "Administrator"])
    await expect(page.locator("#forbidden-page")).to_contain_text("Wallboard")
    await expect(page.locator("#forbidden-grant")).to_contain_text("administrator")
    await page.click("#forbidden-home")
    await page.wait_for_url("**/console")
    assert refused.errors == []
    boss = await open_tab(browser, system)
    await log_in(boss, "supervisor")
    await boss.page.click("#nav-wallboard")
    await boss.page.wait_for_url("**/wallboard")
    await expect(boss.page.locator("#wb-heading")).to_have_text("实时监控大屏")


async def _boss_with_a_phone(system: LiveSystem, extension: str = "2001") -> None:
    async with system.database.session() as session:
        boss = await users.get_by_username(session, "supervisor")
        assert boss is not None
        await users.update(session, boss, extension=extension)


@pytest.fixture
async def floor(db: Database, tmp_path: Path) -> AsyncIterator[LiveSystem]:
    """As `system`, the longest-wait alert at 3 and 6 s: well inside the queue's 60 simulated
    seconds (15 real ones here), so the red comes before the callers time out."""
    async with live_system(
        db, tmp_path, time_scale=0.25, alert_longest_wait_seconds=(3.0, 6.0)
    ) as running:
        await _boss_with_a_phone(running)
        yield running


async def test_supervisor_listens_in_pauses_an_agent_and_sees_the_alerts(
    floor: LiveSystem, browser: Browser
) -> None:
    """The supervisor's home is the wallboard; listen on agent1's live call (the simulator
    receives the Originate into the spy context); pause agent2 with a reason from the row;
    two callers waiting colour the hotline's tile and are pushed as an alert."""
    system = floor
    tab = await open_tab(browser, system)
    page = tab.page
    await log_in(tab, "supervisor", next_path="/")
    assert urlsplit(page.url).path == "/wallboard"  # the supervisor's home page
    await expect(page.locator("#wb-live")).to_have_attribute("data-state", "up")

    agent1, agent2 = await system.login("agent1"), await system.login("agent2")
    await agent1.put("/api/agent/state", json={"status": "ready"})
    await agent2.put("/api/agent/state", json={"status": "paused", "reason": "break"})
    await system.sim.place_inbound_call("13800138000", answer_after=1, talk_seconds=400)
    row = agent_row(page, "1001")
    await expect(row).to_have_attribute("data-status", "on_call")

    # Listen: the supervisor's own phone is originated into ChanSpy on agent1's call.
    await expect(row.locator("[data-action=whisper]")).to_have_text("耳语")
    await expect(row.locator("[data-action=barge]")).to_have_text("强插")
    await row.locator("[data-action=listen]").click()
    await expect(page.locator(".toast").last).to_contain_text("正在呼叫您的话机")
    spies = [a for a in system.sim.actions_received("Originate") if a.get("Context") == "cc-spy"]
    assert [(a.get("Channel"), a.get("Exten"), a.get_all("Variable")) for a in spies] == [
        ("PJSIP/2001", "listen", ["CC_SPY_EXTEN=1001"])
    ]
    await expect(agent_row(page, "1002").locator("[data-action=listen]")).to_have_count(0)

    # Pause agent2 (ready again first) with a reason, from the row's dialog.
    await agent2.put("/api/agent/state", json={"status": "ready"})
    row2 = agent_row(page, "1002")
    await expect(row2).to_have_attribute("data-status", "ready")
    await row2.locator("[data-action=pause]").click()
    await expect(page.locator("#wb-pause-dialog")).to_be_visible()
    await expect(page.locator("#wb-pause-heading")).to_have_text("暂停 坐席1002")
    await page.select_option("#wb-pause-reason", "meeting")
    await page.click("#wb-pause-confirm")
    await expect(row2).to_have_attribute("data-status", "paused")
    await expect(row2.locator(".wb-state")).to_contain_text("会议")
    state = (await agent2.get("/api/agent/state")).json()
    assert (state["status"], state["reason"]) == ("paused", "meeting")

    # Two callers wait (agent1 busy, agent2 paused): the hotline's tile warns, and the
    # crossing is pushed once as a notice.
    # A warning's notice leaves after a few seconds: every notice shown is recorded as it
    # appears, so a slow machine cannot make the check miss it.
    await page.evaluate(RECORD_NOTICES)
    await system.sim.place_inbound_call("13900139001")
    await system.sim.place_inbound_call("13900139002")
    await expect(figure(page, "waiting")).to_have_text("2")
    tile = page.locator("[data-queue=service]")
    await expect(tile).to_have_attribute("data-alert", re.compile("warn|alert"))
    await expect(tile.locator("[data-figure=waiting]")).to_have_attribute("data-alert", "warn")
    await page.wait_for_function("window.ccNotices.some(n => n.measure === 'callers_waiting')")
    shown = await page.evaluate("window.ccNotices")
    waiting = [n["text"] for n in shown if n["measure"] == "callers_waiting"]
    assert len(waiting) == 1, shown
    assert "客服热线：2 位来电排队等待（阈值 2）" in waiting[0]
    # Their wait reaches the alarm level (6 s here; the service level's 15 s by default): red.
    # The check may start well before the 6 s are up: it waits longer than expect's 5 s.
    longest = tile.locator("[data-figure=longest_now]")
    await expect(longest).to_have_attribute("data-alert", "alert", timeout=20_000)
    await expect(tile).to_have_attribute("data-alert", "alert")
    alerts = tab.messages("wallboard_alert")
    measures = [a["measure"] for f in alerts for a in f["alerts"]]
    assert measures.count("callers_waiting") == 1, measures
    await page.screenshot(path=screenshot_path("wallboard-alerts.png"), full_page=True)
    assert tab.errors == []
    await agent1.aclose()
    await agent2.aclose()


FONT_SIZE = "el => parseFloat(getComputedStyle(el).fontSize)"


async def test_the_wall_screen_mode(system: LiveSystem, browser: Browser) -> None:
    tab = await open_tab(browser, system)
    page = tab.page
    await log_in(tab, "supervisor", next_path="/wallboard?wall=1")
    await expect(page.locator("body")).to_have_class(re.compile(r"\bwb-wall\b"))
    await expect(figure(page, "waiting")).to_have_text("0")
    await expect(page.locator("header.topbar")).to_be_hidden()
    await expect(page.locator("#wb-wall-toggle")).to_be_hidden()
    await expect(page.locator("th.wb-col-actions")).to_be_hidden()
    await expect(agent_row(page, "1001").locator(".wb-actions")).to_be_hidden()
    size = await figure(page, "waiting").evaluate(FONT_SIZE)
    assert size >= 90, size
    await page.screenshot(path=screenshot_path("wallboard-wall.png"), full_page=True)
    # Esc leaves it (the address too); the toggle brings it back.
    await page.keyboard.press("Escape")
    await expect(page.locator("body")).not_to_have_class(re.compile(r"\bwb-wall\b"))
    assert "wall=" not in page.url
    await expect(page.locator("header.topbar")).to_be_visible()
    await expect(agent_row(page, "1001").locator("[data-action=logout]")).to_have_count(0)
    small = await figure(page, "waiting").evaluate(
        "el => parseFloat(getComputedStyle(el).fontSize)"
    )
    assert small < size
    await page.click("#wb-wall-toggle")
    await expect(page.locator("body")).to_have_class(re.compile(r"\bwb-wall\b"))
    assert "wall=1" in page.url
    await page.keyboard.press("Escape")
    await page.select_option("#lang-select", "en")
    await expect(page.locator("#wb-wall-toggle")).to_have_text("Wall screen")
    await expect(page.locator("th.wb-col-actions")).to_have_text("Actions")
    assert tab.errors == []


async def test_a_filling_recordings_disk_is_a_banner(
    db: Database, tmp_path: Path, browser: Browser
) -> None:
    """Less free than CALLCENTRE_DISK_WARN_PERCENT (here 100: any disk): the supervisors see a
    warning with the free space, and the English page says it in English."""
    async with live_system(db, tmp_path, disk_warn_percent=100.0) as system:
        tab = await open_tab(browser, system)
        page = tab.page
        await log_in(tab, "supervisor", next_path="/wallboard")
        banner = page.locator("#wb-disk")
        await expect(banner).to_be_visible()
        await expect(banner).to_contain_text("录音磁盘空间不足")
        await expect(banner).to_contain_text(re.compile(r"剩余 [0-9.]+%（[0-9.]+ GB）"))
        await page.evaluate("document.cookie = 'cc_lang=en; path=/'")
        await page.reload()
        await expect(banner).to_contain_text("The recordings disk is filling")

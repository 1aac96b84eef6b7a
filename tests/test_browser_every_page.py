"""Every page, for every role, at a phone's, a tablet's and a desk's width (issue 18): no
sideways scrolling, nothing cut off, no script error, no failed request, a level-one heading,
and no serious or critical axe-core finding against WCAG 2.1 AA. A page a role may not open is
the "no access" page, held to the same standard. On the agent console at phone width every
control is a touch target of at least 44 × 44 px."""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from axe_playwright_python.async_playwright import Axe
from playwright.async_api import Browser, Page, Response, expect

from crm.db import Database
from crm.users.models import Role
from tests.support.browser import (
    ROLE_USERS,
    Tab,
    chromium,
    create_every_role,
    log_in,
    open_tab,
    screenshot_path,
    seed_customer,
)
from tests.support.live import LiveSystem, live_system
from web.pages import HOME, PAGE_ROLES

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="module")]

WIDTHS = (360, 768, 1440)
HEIGHT = 800
# WCAG 2.1 A and AA: what a public-facing product is held to.
AXE_OPTIONS = {
    "runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]},
    "resultTypes": ["violations"],
}
BLOCKING = ("serious", "critical")
TOUCH = 44  # px, each way (WCAG 2.5.5)
AXE = Axe()  # only for the axe-core script it bundles

# Which controls a visitor can reach that are cut off by the edge of the screen (not inside
# something that scrolls sideways on purpose, such as a wide table's own scroller).
CUT_OFF = """
() => {
  const width = document.documentElement.clientWidth;
  const scrolls = (el) => {
    for (let up = el.parentElement; up && up !== document.body; up = up.parentElement) {
      const overflow = getComputedStyle(up).overflowX;
      if (overflow === "auto" || overflow === "scroll") return true;
    }
    return false;
  };
  const controls = document.querySelectorAll(
    "a[href], button, input, select, textarea, summary, [role=button], [role=tab], h1, h2");
  const out = [];
  for (const el of controls) {
    const box = el.getBoundingClientRect();
    if (box.width === 0 || box.height === 0 || el.closest(".sr-only, [popover]")) continue;
    if (getComputedStyle(el).visibility === "hidden") continue;
    if ((box.left < -1 || box.right > width + 1) && !scrolls(el)) {
      out.push(`${el.tagName.toLowerCase()}#${el.id || ""}.${el.className || ""} `
               + `[${Math.round(box.left)}..${Math.round(box.right)}] of ${width}`);
    }
  }
  return out;
}
"""
# What makes a page wider than the screen: the innermost elements reaching past its edge.
TOO_WIDE = """
() => {
  const width = document.documentElement.clientWidth;
  const over = (el) => el.getBoundingClientRect().right > width + 1;
  const name = (el) => `${el.tagName.toLowerCase()}#${el.id || ""}.${el.className || ""}`;
  return [...document.body.querySelectorAll("*")]
    .filter((el) => over(el) && ![...el.children].some(over))
    .slice(0, 5)
    .map((el) => `${name(el)} in ${name(el.parentElement)}`
                 + ` to ${Math.round(el.getBoundingClientRect().right)}`);
}
"""
# Controls smaller than a fingertip: links inside a sentence are exempt (WCAG 2.5.8).
SMALL_TARGETS = """
(least) => {
  const controls = document.querySelectorAll(
    "a[href], button, input, select, textarea, summary, [role=button], [role=tab]");
  const out = [];
  for (const el of controls) {
    if (el.closest(".sr-only, .skip-link, [popover]:not(:popover-open)")) continue;
    if (el.matches(".radio input")) continue;  // covers its label: the label is measured
    const target = el.matches(".radio label *") ? el.closest("label") : el;
    const box = target.getBoundingClientRect();
    if (box.width === 0 || box.height === 0) continue;
    if (getComputedStyle(el).visibility === "hidden") continue;
    if (el.tagName === "A" && getComputedStyle(el).display === "inline"
        && el.parentElement.textContent.trim() !== el.textContent.trim()) continue;
    if (box.width < least || box.height < least) {
      out.push(`${el.tagName.toLowerCase()}#${el.id || ""}.${el.className || ""} `
               + `${Math.round(box.width)}×${Math.round(box.height)}`);
    }
  }
  return out;
}
"""


@dataclass
class Visitor:
    """One role's logged-in tab, and the requests that went wrong in it since the last page."""

    tab: Tab
    failed: list[str] = field(default_factory=list)


@pytest.fixture(scope="module")
def walk_database_url(sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("every-page") / "callcentre.db"
    shutil.copyfile(sqlite_template, path)
    return f"sqlite+aiosqlite:///{path}"


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def system(
    walk_database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[LiveSystem]:
    database = Database(walk_database_url)
    try:
        async with live_system(database, tmp_path_factory.mktemp("live")) as running:
            await create_every_role(database)
            yield running
    finally:
        await database.dispose()


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def browser() -> AsyncIterator[Browser]:
    async with chromium() as running:
        yield running


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def visitors(system: LiveSystem, browser: Browser) -> AsyncIterator[dict[str, Visitor]]:
    """One tab per role, logged in once; and one nobody is logged in to (the login page)."""
    made: dict[str, Visitor] = {}

    async def visitor(name: str) -> Visitor:
        tab = await open_tab(browser, system)
        seen = Visitor(tab)
        tab.page.on(
            "requestfailed",
            lambda request: seen.failed.append(f"{request.url} {request.failure}"),
        )

        def answered(response: Response) -> None:
            if response.status >= 400:
                seen.failed.append(f"{response.status} {response.request.method} {response.url}")

        tab.page.on("response", answered)
        return seen

    made["anonymous"] = await visitor("anonymous")
    for role, username in ROLE_USERS.items():
        made[role.value] = await visitor(role.value)
        await log_in(made[role.value].tab, username, next_path=HOME[role])
    yield made
    for seen in made.values():
        await seen.tab.page.context.close()


def _pages() -> list[tuple[str, str]]:
    walk = [("anonymous", "login")]
    walk += [(role.value, page) for role in ROLE_USERS for page in PAGE_ROLES]
    return walk


async def _visit(seen: Visitor, path: str) -> Response:
    """Open `path` at a phone's width (the first paint a phone gets) and wait until it has
    settled; the failed requests and script errors from here on are this page's."""
    page = seen.tab.page
    await page.set_viewport_size({"width": WIDTHS[0], "height": HEIGHT})
    seen.failed.clear()
    seen.tab.errors.clear()
    # Generous: the machine running the suite may be busy; a page that never loads still fails.
    response = await page.goto(path, timeout=30_000)
    assert response is not None
    await page.wait_for_selector("html:not(.i18n-pending)")
    await page.wait_for_load_state("networkidle")
    if path == "/wallboard" and response.status == 200:
        await page.wait_for_selector("canvas")  # its charts, drawn once Chart.js has loaded
    if await page.locator("#live-indicator").count():  # the console, once its socket is up
        await page.wait_for_selector("#live-indicator[data-state=up]")
    return response


async def _axe(page: Page) -> list[str]:
    """axe-core's serious and critical findings on the page as it is now."""
    if not await page.evaluate("() => window.axe !== undefined"):
        await page.evaluate(AXE.axe_script)  # once per page load: the widths reuse it
    results: dict[str, Any] = await page.evaluate(
        "(options) => axe.run(document, options)", AXE_OPTIONS
    )
    found: list[str] = []
    for violation in results["violations"]:
        if violation["impact"] not in BLOCKING:
            continue
        for node in violation["nodes"]:
            found.append(
                f"axe {violation['impact']} {violation['id']}: {node['target']}"
                f" — {node.get('failureSummary', '').splitlines()[-1].strip()}"
            )
    return found


async def _layout(page: Page, width: int, *, touch: bool) -> list[str]:
    """At `width`: what scrolls sideways or is cut off, the axe findings, and (`touch`) the
    controls smaller than a fingertip."""
    await page.set_viewport_size({"width": width, "height": HEIGHT})
    await page.evaluate("() => new Promise((done) => requestAnimationFrame(() => done()))")
    problems: list[str] = []
    overflow = await page.evaluate(
        "() => [document.scrollingElement.scrollWidth, document.scrollingElement.clientWidth]"
    )
    if overflow[0] > overflow[1]:
        wide = "; ".join(await page.evaluate(TOO_WIDE))
        problems.append(f"scrolls sideways: {overflow[0]} px wide in {overflow[1]} px: {wide}")
    problems += [f"cut off: {c}" for c in await page.evaluate(CUT_OFF)]
    problems += await _axe(page)
    if touch:
        small = await page.evaluate(SMALL_TARGETS, TOUCH)
        problems += [f"touch target under {TOUCH} px: {s}" for s in small]
    return [f"at {width} px: {problem}" for problem in problems]


@pytest.mark.parametrize(("who", "page"), _pages())
async def test_the_page_works_at_every_width(
    visitors: dict[str, Visitor], who: str, page: str
) -> None:
    seen = visitors[who]
    allowed = who == "anonymous" or Role(who) in PAGE_ROLES[page]
    response = await _visit(seen, f"/{page}")
    # The "no access" page answers 403 on purpose: the one failed answer this visit expects.
    expected = 200 if allowed else 403
    assert response.status == expected, f"/{page} as {who}: {response.status}"
    browser_page = seen.tab.page
    if not allowed:
        assert await browser_page.locator("#forbidden-heading").is_visible()
    problems: list[str] = []
    headings = await browser_page.locator("h1").count()
    if headings != 1:
        problems.append(f"{headings} level-one headings")
    for width in WIDTHS:
        touch = page == "console" and allowed and width == WIDTHS[0]
        problems += await _layout(browser_page, width, touch=touch)
    problems += [f"script error: {error}" for error in seen.tab.errors]
    document = f"{expected} GET {response.url}"
    problems += [f"request: {f}" for f in seen.failed if f != document]
    assert problems == [], f"/{page} as {who}:\n" + "\n".join(problems)


# `README_SCREENSHOTS=1 pytest tests/test_browser_every_page.py -k progress` writes the README's
# pictures of the console; otherwise they go to test-artifacts/ like every test's screenshots.
README_PICTURES = Path(__file__).resolve().parents[1] / "docs" / "screenshots"


def _picture(name: str) -> Path:
    return README_PICTURES / name if os.environ.get("README_SCREENSHOTS") else screenshot_path(name)


async def test_a_call_in_progress_at_phone_and_desk_width(
    system: LiveSystem, browser: Browser
) -> None:
    """The console as it matters most: on a customer's call, their card open, the call controls
    shown. At 360 px the state buttons, the pop, the controls and the customer stack in one
    column, every control a fingertip's size; at 1440 px, three columns. (A second agent, so
    the walk's tabs are untouched.)"""
    await seed_customer(
        system.database,
        system.services.today(),
        name="王建国",
        phones=["13800138000"],
        contract_number="XA2026-000001",
        address="雁塔区科技路1号 装修工程",
    )
    tab = await open_tab(browser, system)
    page = tab.page
    await log_in(tab, "agent2")
    await page.wait_for_selector("#live-indicator[data-state=up]")
    await page.click("#state-ready")
    await expect(page.locator("#state-chip")).to_have_attribute("data-status", "ready")
    system.sim.set_answer("1002", 0.5)
    # The call lasts longer than the test: on the pictures it is in progress.
    linkedid = await system.sim.place_inbound_call("13800138000", talk_seconds=100_000)
    pop = page.locator(f'.call-card[data-linkedid="{linkedid}"]')
    await expect(pop.locator(".call-name")).to_have_text("王建国")
    await expect(pop).to_have_attribute("data-status", "answered")
    await expect(page.locator("#call-controls")).to_be_visible()
    await expect(page.locator(".customer-name")).to_have_text("王建国")
    for width, height in ((360, 800), (768, 1024), (1024, 768), (1440, 900)):
        await page.set_viewport_size({"width": width, "height": height})
        scroll = await page.evaluate(
            "() => document.scrollingElement.scrollWidth - document.scrollingElement.clientWidth"
        )
        assert scroll <= 0, await page.evaluate(TOO_WIDE)
        assert await page.evaluate(CUT_OFF) == []
        assert await _axe(page) == []
        if width == 360:
            assert await page.evaluate(SMALL_TARGETS, TOUCH) == []
        if width in (360, 1440):
            picture = _picture(f"agent-console-{width}.png")
            await page.screenshot(path=picture, animations="disabled")
    assert tab.errors == []

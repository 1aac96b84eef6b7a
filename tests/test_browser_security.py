"""The pages under the server's Content-Security-Policy in a real browser (Debian's chromium):
every page every role may open loads, translates and runs without a single violation
(`tests.support.browser` reports each one as a page error), while an injected inline script
or a foreign image is refused; and `next` after login cannot send the browser off-site."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.async_api import Browser

from crm.db import Database
from crm.users.models import Role
from tests.support.browser import (
    ROLE_USERS,
    Tab,
    create_every_role,
    log_in,
    open_tab,
)
from tests.support.live import PASSWORD, LiveSystem, live_system
from web.pages import HOME, PAGE_ROLES

pytestmark = [
    pytest.mark.browser,
    pytest.mark.parametrize("database_url", ["sqlite"], indirect=True),
]

ROLES = ROLE_USERS


@pytest.fixture
async def system(db: Database, tmp_path: Path) -> AsyncIterator[LiveSystem]:
    async with live_system(db, tmp_path) as running:
        await create_every_role(db)
        yield running


async def _settled(tab: Tab) -> None:
    await tab.page.wait_for_selector("html:not(.i18n-pending)")
    await tab.page.wait_for_load_state("networkidle")


@pytest.mark.parametrize("role", list(ROLES))
async def test_every_page_of_every_role_runs_under_the_policy(
    system: LiveSystem, browser: Browser, role: Role
) -> None:
    tab = await open_tab(browser, system)
    home = HOME[role]
    await log_in(tab, ROLES[role], next_path=home)
    pages = [f"/{page}" for page, roles in PAGE_ROLES.items() if role in roles]
    assert home in pages
    for path in pages:
        await tab.page.goto(path)
        assert urlsplit(tab.page.url).path == path  # not sent back to the login page
        await _settled(tab)
        if path == "/wallboard":  # its charts: the vendored Chart.js, loaded on first use
            await tab.page.wait_for_function("() => window.Chart !== undefined")
            await tab.page.wait_for_selector("canvas")
    await tab.page.goto("/login")
    await _settled(tab)
    assert tab.errors == [], tab.errors


async def test_the_policy_refuses_what_the_pages_never_do(
    system: LiveSystem, browser: Browser
) -> None:
    """The watch can fail: markup injected into a page is refused and reported."""
    tab = await open_tab(browser, system)
    await tab.page.goto("/login")
    await _settled(tab)
    ran = await tab.page.evaluate(
        """() => {
          window.injected = false;
          const script = document.createElement("script");
          script.textContent = "window.injected = true;";
          document.body.append(script);
          const div = document.createElement("div");
          div.innerHTML = '<img src="http://evil.example/pixel.png">'
                          + '<p style="color: red" onclick="window.injected = true">x</p>';
          document.body.append(div);
          return window.injected;
        }"""
    )
    await tab.page.wait_for_timeout(300)
    assert ran is False
    assert any("script-src" in e for e in tab.errors), tab.errors
    assert any("img-src" in e for e in tab.errors), tab.errors
    assert any("style-src" in e for e in tab.errors), tab.errors


@pytest.mark.parametrize(
    "hostile", ["/%09/evil.example/", "/%0A/evil.example/", "/%5Cevil.example"]
)
async def test_next_after_login_never_leaves_the_site(
    system: LiveSystem, browser: Browser, hostile: str
) -> None:
    tab = await open_tab(browser, system)
    page = tab.page
    await page.goto(f"/login?next={hostile}")
    await page.fill("#username", "agent1")
    await page.fill("#password", PASSWORD)
    await page.click("#login-form button[type=submit]")
    await page.wait_for_url(f"{system.url}/console")  # "/" sends an agent to the console
    assert page.url.startswith(system.url)

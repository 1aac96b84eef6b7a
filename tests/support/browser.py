"""Browser tests: Debian's chromium driven by Playwright (async API) against a live system
(`tests.support.live`): the pages, the API and the websocket exactly as an agent uses them."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from playwright.async_api import (
    Browser,
    Page,
    ViewportSize,
    WebSocket,
    async_playwright,
    expect,
)
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol

from crm.callbacks import service as callbacks
from crm.callbacks.schedule import ScheduleRules
from crm.customers import service as customers
from crm.customers.models import Grade
from crm.db import Database
from crm.projects import service as projects
from crm.projects.models import ProjectStatus
from crm.users import service as users
from crm.users.models import Role
from tests.support.live import PASSWORD, LiveSystem

CHROMIUM = "/usr/bin/chromium"  # Debian's: Playwright's own download is not available here
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
# The smallest screen the console is built for.
VIEWPORT: ViewportSize = {"width": 1280, "height": 720}
# What chromium logs by itself for answers the page expects (a 422 shown next to a field, a
# websocket refused while offline); anything else on the console is a bug in the page.
EXPECTED_NOISE = re.compile(r"Failed to load resource|WebSocket connection to .* failed")
# Every page runs under the server's Content-Security-Policy (web/security_headers.py): a
# violation is an error of the page's, reported like any other (`Tab.errors`).
CSP_WATCH = """
document.addEventListener("securitypolicyviolation", (event) => {
  console.error(`CSP violation: ${event.violatedDirective} blocked ${event.blockedURI || "inline"}`
                + ` in ${event.sourceFile || location.pathname}:${event.lineNumber}`);
});
"""


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    """Debian's chromium for one test (tests/conftest.py registers this module as a plugin, so
    every browser test shares this fixture; a module may still define its own, longer-lived)."""
    async with chromium() as running:
        yield running


@asynccontextmanager
async def chromium() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
        )
        try:
            yield browser
        finally:
            await browser.close()


@dataclass
class Tab:
    """A page in its own browser context (its own cookies), with what went wrong in it and
    every websocket frame it received."""

    page: Page
    errors: list[str] = field(default_factory=list)
    sockets: list[WebSocket] = field(default_factory=list)
    frames: list[dict[str, Any]] = field(default_factory=list)

    def messages(self, kind: str | None = None) -> list[dict[str, Any]]:
        return [f for f in self.frames if kind is None or f.get("type") == kind]


async def open_tab(browser: Browser, system: LiveSystem) -> Tab:
    context = await browser.new_context(
        base_url=system.url,
        viewport=VIEWPORT,
        locale="zh-CN",
        timezone_id="Asia/Shanghai",
    )
    context.set_default_timeout(10_000)
    await context.add_init_script(CSP_WATCH)
    page = await context.new_page()
    tab = Tab(page)
    page.on("pageerror", lambda error: tab.errors.append(str(error)))
    page.on(
        "console",
        lambda message: (
            tab.errors.append(message.text)
            if message.type == "error" and not EXPECTED_NOISE.search(message.text)
            else None
        ),
    )

    def track(socket: WebSocket) -> None:
        tab.sockets.append(socket)
        socket.on(
            "framereceived",
            lambda payload: tab.frames.append(
                json.loads(payload) if isinstance(payload, str) else {"binary": True}
            ),
        )

    page.on("websocket", track)
    return tab


async def log_in(
    tab: Tab, username: str, password: str = PASSWORD, *, next_path: str = "/console"
) -> None:
    """Through the login form, as a person does; lands on `next_path`."""
    page = tab.page
    await page.goto(f"/login?next={next_path}")
    await page.fill("#username", username)
    await page.fill("#password", password)
    await page.click("#login-form button[type=submit]")
    # The path itself: a glob like `**/console` already matches `/login?next=/console`. ("/"
    # redirects to the role's home page.)
    target = urlsplit(next_path).path

    def arrived(url: str) -> bool:
        path = urlsplit(url).path
        return path != "/login" and target in ("/", path)

    await page.wait_for_url(arrived)
    await page.wait_for_selector("html:not(.i18n-pending)")


async def logged_in_tab(
    browser: Browser,
    system: LiveSystem,
    username: str,
    password: str = PASSWORD,
    *,
    next_path: str = "/console",
) -> Tab:
    """A new tab, logged in through the form (`log_in`) and on `next_path`."""
    tab = await open_tab(browser, system)
    await log_in(tab, username, password, next_path=next_path)
    return tab


async def go_ready(page: Page) -> None:
    """The agent on the console makes themselves ready, and the state chip says so."""
    await page.click("#state-ready")
    await expect(page.locator("#state-chip")).to_have_attribute("data-status", "ready")


async def drop_websockets(system: LiveSystem) -> int:
    """Cut every websocket at the server, as a network failure would (no closing handshake)."""
    dropped = 0
    for connection in list(system.server.server_state.connections):
        if isinstance(connection, WebSocketsSansIOProtocol) and connection.transport:
            connection.transport.abort()
            dropped += 1
    return dropped


def screenshot_path(name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS / name


@dataclass(frozen=True)
class SeededCustomer:
    id: int
    project_id: int
    task_ids: dict[str, int]  # stage → callback task


async def seed_customer(
    database: Database,
    today: date,
    *,
    name: str,
    phones: list[str],
    contract_number: str,
    grade: Grade = Grade.A,
    address: str = "雁塔区科技路1号",
) -> SeededCustomer:
    """A customer whose project started ten days ago (the start callback is due) and reaches
    the concealed-works inspection in five days."""
    async with database.session() as session:
        customer = await customers.create(
            session, name=name, phones=phones, address=address, grade=grade, default_area_code="029"
        )
        project = await projects.create(
            session,
            customer=customer,
            contract_number=contract_number,
            rules=ScheduleRules(window_days=3, post_completion_months=1),
            status=ProjectStatus.IN_PROGRESS,
            designer="周子涵",
            project_manager="杨永刚",
            foreman="王满仓",
            crew="第三施工队",
            contract_date=today - timedelta(days=20),
            start_date=today - timedelta(days=10),
            concealed_works_date=today + timedelta(days=5),
        )
        tasks = {t.stage.value: t.id for t in await callbacks.get_for_project(session, project.id)}
        return SeededCustomer(customer.id, project.id, tasks)


async def create_admin(database: Database, username: str = "admin") -> None:
    async with database.session() as session:
        if await users.get_by_username(session, username) is None:
            await users.create(
                session,
                username=username,
                password=PASSWORD,
                display_name="系统管理员",
                role=Role.ADMIN,
            )


async def create_qa_reviewer(
    database: Database, username: str = "qa", display_name: str = "质检员李娜"
) -> int:
    """A QA reviewer (质检): reviews calls on the QA page, has no extension."""
    async with database.session() as session:
        user = await users.get_by_username(session, username)
        if user is None:
            user = await users.create(
                session,
                username=username,
                password=PASSWORD,
                display_name=display_name,
                role=Role.QA,
            )
        return user.id


async def create_department_user(database: Database, username: str = "engineering") -> None:
    """A department user (工程部): their home is the complaints page."""
    async with database.session() as session:
        if await users.get_by_username(session, username) is None:
            await users.create(
                session,
                username=username,
                password=PASSWORD,
                display_name="工程部李工",
                role=Role.DEPARTMENT,
                department="工程部",
            )


# A user of each role, once `create_every_role` has run beside `live_system`'s agents and
# supervisor.
ROLE_USERS = {
    Role.AGENT: "agent1",
    Role.SUPERVISOR: "supervisor",
    Role.QA: "qa",
    Role.ADMIN: "admin",
    Role.DEPARTMENT: "engineering",
}


async def create_every_role(database: Database) -> None:
    """The users `live_system` does not make: an administrator, a QA reviewer, a department."""
    await create_admin(database)
    await create_qa_reviewer(database)
    await create_department_user(database)

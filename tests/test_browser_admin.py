"""The admin page in a real browser: an admin creates an agent with the extension of their
softphone, and the new agent can sign in and sees it in the console."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, expect

from crm.db import Database
from tests.support.browser import create_admin, log_in, open_tab, screenshot_path
from tests.support.live import LiveSystem, live_system

pytestmark = [
    pytest.mark.browser,
    pytest.mark.parametrize("database_url", ["sqlite"], indirect=True),
]


@pytest.fixture
async def system(db: Database, tmp_path: Path) -> AsyncIterator[LiveSystem]:
    async with live_system(db, tmp_path) as running:
        yield running


async def test_admin_creates_an_agent_with_an_extension(
    system: LiveSystem, db: Database, browser: Browser
) -> None:
    await create_admin(db)
    tab = await open_tab(browser, system)
    page = tab.page
    await log_in(tab, "admin", next_path="/admin")
    rows = page.locator("#users tr")
    await expect(rows.filter(has_text="agent1")).to_contain_text("1001")

    form = page.locator("#create-user-form")
    await form.locator("input[name=username]").fill("agent9")
    await form.locator("input[name=display_name]").fill("赵九")
    await form.locator("input[name=password]").fill("password-9")
    await expect(form.locator("select[name=role]")).to_have_value("agent")
    await form.locator("button[type=submit]").click()
    # An agent without an extension: the API's answer sits under the extension input.
    await expect(form.locator('[data-field="extension"] .field-error')).to_have_text(
        "客服专员必须设置分机号"
    )
    await form.locator("input[name=extension]").fill("1001")
    await form.locator("button[type=submit]").click()
    await expect(form.locator('[data-field="extension"] .field-error')).to_have_text(
        "该分机已分配给其他坐席"
    )
    await form.locator("input[name=extension]").fill("1009")
    await form.locator("button[type=submit]").click()
    await expect(page.locator(".toast")).to_contain_text("已创建用户 agent9")
    created = rows.filter(has_text="agent9")
    await expect(created).to_contain_text("赵九")
    await expect(created).to_contain_text("客服专员")
    await expect(created).to_contain_text("1009")
    await expect(form.locator("input[name=username]")).to_have_value("")  # ready for the next

    # Edited in a dialog: the new name shows in the list (and in the agent's header).
    await created.get_by_role("button", name="编辑").click()
    dialog = page.locator("#edit-dialog")
    await expect(dialog).to_be_visible()
    await dialog.locator("input[name=display_name]").fill("赵九（夜班）")
    await dialog.locator("button[type=submit]").click()
    await expect(dialog).to_be_hidden()
    await expect(created).to_contain_text("赵九（夜班）")
    await page.screenshot(path=screenshot_path("admin.png"))

    agent = await open_tab(browser, system)
    await log_in(agent, "agent9", "password-9")
    await expect(agent.page.locator("#who-ext")).to_have_text("分机 1009")
    await expect(agent.page.locator("#who-name")).to_have_text("赵九（夜班）")

    page.once("dialog", lambda d: d.accept())
    await created.get_by_role("button", name="停用").click()
    await expect(created).to_contain_text("已停用")
    client = await system.login("admin")
    [user] = [u for u in (await client.get("/api/users")).json() if u["username"] == "agent9"]
    assert (user["role"], user["extension"], user["is_active"]) == ("agent", "1009", False)
    await client.aclose()
    assert tab.errors == [] and agent.errors == []

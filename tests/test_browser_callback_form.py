"""The callback form in a real browser (Debian's chromium through Playwright): each problem
with an attempt is said once, next to its field, and a satisfaction option is chosen by
clicking the words on it (issue 18)."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, Locator, Page, expect

from crm.db import Database
from tests.support.browser import logged_in_tab, seed_customer
from tests.support.live import LiveSystem, live_system

pytestmark = [
    pytest.mark.browser,
    pytest.mark.parametrize("database_url", ["sqlite"], indirect=True),
]


@pytest.fixture
async def system(db: Database, tmp_path: Path) -> AsyncIterator[LiveSystem]:
    async with live_system(db, tmp_path) as running:
        yield running


async def _open_form(system: LiveSystem, db: Database, browser: Browser) -> tuple[Page, Locator]:
    await seed_customer(
        db,
        system.services.today(),
        name="王建国",
        phones=["13800138000"],
        contract_number="XA2026-000001",
    )
    tab = await logged_in_tab(browser, system, "agent1")
    page = tab.page
    await page.fill("#search-q", "13800138000")
    await page.keyboard.press("Enter")
    await expect(page.locator(".customer-name")).to_have_text("王建国")
    form = page.locator("#callback-form")
    await expect(form).to_be_visible()
    return page, form


async def _shown_errors(form: Locator) -> list[str]:
    """Every error message visible on the form, one entry per place it is shown."""
    shown: list[str] = await form.evaluate(
        """(form) => {
          const seen = [];
          for (const el of form.querySelectorAll(".field-error, .form-error p")) {
            if (!el.checkVisibility()) continue;
            for (const part of el.textContent.split("；")) if (part.trim()) seen.push(part.trim());
          }
          return seen;
        }"""
    )
    return shown


async def test_each_problem_is_shown_once(
    system: LiveSystem, db: Database, browser: Browser
) -> None:
    page, form = await _open_form(system, db, browser)
    submit = form.locator("button[type=submit]")
    for choose in (None, "effective", "call_later", "past", "en"):
        if choose == "en":
            await page.select_option("#lang-select", "en")
            # The problems on show are said again in the new language, before any submit.
            for message in await _shown_errors(form):
                assert not re.search(r"[\u4e00-\u9fff]", message), message
        elif choose == "past":
            await form.locator("input[name=call_back_at]").fill("2020-01-01T10:00")
        elif choose:
            await form.locator(f"input[name=outcome][value={choose}]").check()
        if choose == "call_later":
            await form.locator("input[name=call_back_at]").fill("")
        await submit.click()
        # This submit's answer, not the last one's problems still on show (the form is busy
        # from the click until the answer is shown).
        await expect(form).not_to_have_attribute("aria-busy", "true")
        await expect(form.locator(".has-error").first).to_be_visible()
        shown = await _shown_errors(form)
        assert shown, choose
        twice = [text for text, n in Counter(shown).items() if n > 1]
        assert twice == [], (choose, shown)
        text = await form.inner_text()
        for message in set(shown):
            assert text.count(message) == 1, (choose, message, text)


async def test_clicking_the_words_of_a_satisfaction_option_chooses_it(
    system: LiveSystem, db: Database, browser: Browser
) -> None:
    page, form = await _open_form(system, db, browser)
    await form.locator("input[name=outcome][value=effective]").check()
    rows = form.locator(".sat-row")
    await expect(rows).to_have_count(4)
    for area, value in (("quality", "satisfied"), ("crew", "neutral"), ("designer", "unsatisfied")):
        option = form.locator(f'[data-field="satisfaction.{area}"] .sat-option-{value}')
        label = option.locator("label")
        box = await label.bounding_box()
        assert box is not None
        # Where a person aims: on the words, and near each edge of the toggle.
        for x, y in (
            (box["width"] / 2, box["height"] / 2),
            (3, 3),
            (box["width"] - 3, box["height"] - 3),
        ):
            await form.locator(f'input[name="satisfaction.{area}"][value=""]').check()
            # What is under the pointer is this option's label or what is inside it, not an
            # input laid over the label from outside it.
            inside = await label.evaluate(
                "(label, [x, y]) => label.contains(document.elementFromPoint(x, y))",
                [box["x"] + x, box["y"] + y],
            )
            assert inside, (area, value, x, y)
            await page.mouse.click(box["x"] + x, box["y"] + y)
            await expect(option.locator("input")).to_be_checked()
        await label.click()  # Playwright's own check that nothing else takes the click
        await expect(option.locator("input")).to_be_checked()
    # The keyboard still moves within a group.
    first = form.locator('input[name="satisfaction.quality"]').first
    await first.focus()
    await page.keyboard.press("ArrowRight")
    await expect(form.locator('input[name="satisfaction.quality"]').nth(1)).to_be_checked()

"""A call stored compressed (Ogg Opus, issue 20) plays in the QA player in a real browser
(Debian's chromium through Playwright): the recording endpoint serves audio/ogg with Range
requests, the player knows the whole length, and a seek (a word's moment, or currentTime set
directly) plays on from there, on one leg and on both legs mixed."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, Response, expect

from crm.clock import SystemClock
from crm.db import Database
from crm.recordings.service import enqueue_compression
from crm.users import service as users
from telephony.recordings.compression import RecordingCompressor
from telephony.recordings.files import RecordingFiles
from tests.support.browser import chromium, create_qa_reviewer, log_in, open_tab
from tests.support.live import LiveSystem, live_system
from tests.support.qa_calls import RECORDED_SECONDS, scored_call
from tests.support.rows import found

pytestmark = [
    pytest.mark.browser,
    pytest.mark.parametrize("database_url", ["sqlite"], indirect=True),
]

AUDIO = "document.querySelector('audio.qa-audio')"


@pytest.fixture
async def system(db: Database, tmp_path: Path) -> AsyncIterator[LiveSystem]:
    async with live_system(db, tmp_path) as running:
        yield running


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with chromium() as running:
        yield running


@pytest.fixture
async def compressed_call(system: LiveSystem, db: Database) -> int:
    """A scored call whose legs the compression step replaced by Ogg Opus."""
    await create_qa_reviewer(db)
    async with db.session() as session:
        agent1 = found(await users.get_by_username(session, "agent1"), "agent1").id
    directory = system.settings.recordings_dir
    call_id = await scored_call(
        db,
        directory,
        agent_id=agent1,
        started_at=datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1),
        linkedid="ogg.1",
        customer_number="13700001234",
    )
    async with db.session() as session:
        await enqueue_compression(session, call_id=call_id)
    clock = SystemClock()
    compressor = RecordingCompressor(
        db, RecordingFiles.of(system.settings, clock), clock=clock, worker="test"
    )
    done = await compressor.run_for_call(call_id)
    assert done is not None and done.files == 2
    assert sorted(p.name for p in directory.glob("ogg.1-*")) == [
        "ogg.1-agent.ogg",
        "ogg.1-customer.ogg",
    ]
    return call_id


async def _plays_from(page: Page, seconds: float) -> None:
    """Set the position, play, and see it play on from there with data to play."""
    await page.evaluate(f"{AUDIO}.currentTime = {seconds}")
    await page.wait_for_function(f"() => Math.abs({AUDIO}.currentTime - {seconds}) < 0.05")
    await page.evaluate(f"{AUDIO}.muted = true")
    await page.evaluate(f"{AUDIO}.play()")
    await page.wait_for_function(
        f"() => {AUDIO}.currentTime > {seconds} + 0.3 && {AUDIO}.readyState >= 3"
        f" && !{AUDIO}.paused",
        timeout=15_000,
    )
    assert await page.evaluate(f"{AUDIO}.error") is None
    await page.evaluate(f"{AUDIO}.pause()")


async def test_a_compressed_call_plays_and_seeks_in_chromium(
    system: LiveSystem, compressed_call: int, browser: Browser
) -> None:
    tab = await open_tab(browser, system)
    page = tab.page
    answers: list[Response] = []
    page.on(
        "response",
        lambda response: answers.append(response) if "/recording?" in response.url else None,
    )
    await log_in(tab, "qa", next_path="/qa")
    await page.goto(f"/qa#call={compressed_call}")
    await expect(page.locator("#qa-call-title")).to_have_text(f"通话 #{compressed_call}")

    # One leg: the Ogg itself. A word's moment seeks there, then a seek set directly.
    await page.locator(".qa-legs input[value=customer]").check()
    await page.wait_for_function(f"() => {AUDIO}.src.endsWith('leg=customer')")
    word = page.locator(".qa-turn-customer .qa-word", has_text="墙面")
    await word.click()
    await page.wait_for_function(f"() => Math.abs({AUDIO}.currentTime - 5.4) < 0.05")
    await page.wait_for_function(f"() => {AUDIO}.readyState >= 1")
    duration = await page.evaluate(f"{AUDIO}.duration")
    assert duration == pytest.approx(RECORDED_SECONDS, abs=0.05)
    await _plays_from(page, 11.0)
    await _plays_from(page, 2.0)  # backwards too

    ogg = [r for r in answers if r.url.endswith("leg=customer")]
    assert ogg and all(r.headers["content-type"] == "audio/ogg" for r in ogg)
    # The browser reads the file in ranges: what makes seeking work without the whole file.
    assert any(r.status == 206 and "content-range" in r.headers for r in ogg)

    # Both legs mixed: made here from the two Oggs, played and seeked the same way.
    await page.locator(".qa-legs input[value=mixed]").check()
    await page.wait_for_function(f"() => {AUDIO}.src.endsWith('leg=mixed')")
    await _plays_from(page, 9.0)
    duration = await page.evaluate(f"{AUDIO}.duration")
    assert duration == pytest.approx(RECORDED_SECONDS, abs=0.05)
    assert tab.errors == []

"""The QA review page in a real browser (Debian's chromium through Playwright) against the live
server: a reviewer finds a call in the list, hears the moment of a word and of a rule's
evidence, overrides a rule (a reason is required) and sees the reviewed score beside the
automatic one; an agent reads only their own calls; the page speaks both languages."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, expect

from crm.customers import service as customers
from crm.customers.models import Grade
from crm.db import Database
from crm.transcripts.models import JobStatus
from crm.users import service as users
from tests.support.browser import (
    create_qa_reviewer,
    log_in,
    open_tab,
    screenshot_path,
)
from tests.support.live import LiveSystem, live_system
from tests.support.qa_calls import scored_call, untranscribed_call
from tests.support.rows import found

pytestmark = [
    pytest.mark.browser,
    pytest.mark.parametrize("database_url", ["sqlite"], indirect=True),
]

AUDIO = "document.querySelector('audio.qa-audio')"
FAILED_JOB_ERROR = "vosk: no speech model at /opt/models/vosk-cn"


@dataclass(frozen=True)
class Calls:
    mine: int  # agent1's, with a known customer
    theirs: int  # agent2's
    failed: int  # agent2's, its transcription failed: no score


@pytest.fixture
async def system(db: Database, tmp_path: Path) -> AsyncIterator[LiveSystem]:
    # The calls' WAV legs go to the server's own recordings directory (settings.recordings_dir).
    async with live_system(db, tmp_path) as running:
        yield running


@pytest.fixture
async def calls(system: LiveSystem, db: Database) -> Calls:
    await create_qa_reviewer(db)
    async with db.session() as session:
        agent1 = found(await users.get_by_username(session, "agent1"), "agent1").id
        agent2 = found(await users.get_by_username(session, "agent2"), "agent2").id
        customer = await customers.create(
            session,
            name="王建国",
            phones=["13800138000"],
            address="雁塔区科技路1号",
            grade=Grade.A,
            default_area_code="029",
        )
    directory = system.settings.recordings_dir
    now = datetime.now(UTC).replace(microsecond=0)
    mine = await scored_call(
        db,
        directory,
        agent_id=agent1,
        started_at=now - timedelta(hours=3),
        linkedid="qa.1",
        customer_id=customer.id,
    )
    theirs = await scored_call(
        db,
        directory,
        agent_id=agent2,
        started_at=now - timedelta(hours=2),
        linkedid="qa.2",
        customer_number="13700001234",
    )
    failed = await untranscribed_call(
        db,
        directory,
        agent_id=agent2,
        started_at=now - timedelta(hours=1),
        linkedid="qa.3",
        status=JobStatus.FAILED,
        last_error=FAILED_JOB_ERROR,
        attempts=3,
    )
    return Calls(mine, theirs, failed)


async def _player_at(page: Page, seconds: float) -> None:
    await page.wait_for_function(f"() => Math.abs({AUDIO}.currentTime - {seconds}) < 0.05")


async def test_reviewer_hears_the_evidence_and_overrides_a_rule(
    system: LiveSystem, calls: Calls, browser: Browser
) -> None:
    client = await system.login("qa")
    automatic = (await client.get(f"/api/qa/calls/{calls.mine}")).json()["score"]
    await client.aclose()
    tab = await open_tab(browser, system)
    page = tab.page
    await log_in(tab, "qa", next_path="/qa")
    await expect(page.locator("#qa-heading")).to_have_text("通话质检")
    assert await page.title() == "质检复核 · 呼叫中心"

    # The list: newest first, scores coloured by what they lost, failed rules by title.
    rows = page.locator("#qa-rows tr[data-call-id]")
    await expect(rows).to_have_count(3)
    assert [await r.get_attribute("data-call-id") for r in await rows.all()] == [
        str(calls.failed),
        str(calls.theirs),
        str(calls.mine),
    ]
    row = page.locator(f'#qa-rows tr[data-call-id="{calls.mine}"]')
    await expect(row).to_contain_text("王建国")
    await expect(row).to_contain_text("坐席1001")
    await expect(row).to_contain_text("呼入")
    await expect(row.locator(".qa-score")).to_have_text(
        f"{automatic['automatic_score']}/{automatic['automatic_max']}"
    )
    await expect(row.locator(".qa-score")).to_have_class(re.compile(r"\bqa-score-bad\b"))
    await expect(row.locator('.qa-rule-chip[data-rule="forbidden_phrases"]')).to_have_text("禁用语")
    await expect(row.locator('.qa-rule-chip[data-rule="answer_within_3_rings"]')).to_have_text(
        "三声内接听"
    )
    failed = page.locator(f'#qa-rows tr[data-call-id="{calls.failed}"]')
    await expect(failed).to_contain_text("未评分")
    job = failed.locator(".qa-job")
    await expect(job).to_have_text("失败")
    await job.hover()  # the error text is fetched when someone points at it
    await expect(job).to_have_attribute("title", re.compile(re.escape(FAILED_JOB_ERROR)))
    await page.screenshot(path=screenshot_path("qa-list.png"))

    # Filters: by a failed rule (Chinese titles in the choice), then back to everything.
    await expect(page.locator("#qa-f-rule option[value=greeting]")).to_have_text("开场问候")
    await page.select_option("#qa-f-rule", "greeting")
    await expect(page.locator("#qa-rows")).to_contain_text("没有符合条件的通话")
    assert "failed_rule=greeting" in page.url
    await page.select_option("#qa-f-rule", "forbidden_phrases")
    await expect(rows).to_have_count(2)
    await page.select_option("#qa-f-agent", label="坐席1001")  # learned from the list
    await expect(rows).to_have_count(1)
    await page.click("#qa-filter-form button[type=button]")  # 重置
    await expect(rows).to_have_count(3)

    # The call: facts, the player, both lanes.
    await row.locator("a.qa-open").click()
    await expect(page.locator("#qa-call-title")).to_have_text(f"通话 #{calls.mine}")
    assert page.url.endswith(f"#call={calls.mine}")
    await expect(page.locator(".qa-facts")).to_contain_text("138 0013 8000")
    await expect(page.locator(".qa-turn-agent").first).to_contain_text("您好")
    await expect(page.locator(".qa-turn-customer")).to_have_text(re.compile("我家墙面裂"))
    await expect(page.locator(".qa-legs input[value=mixed]")).to_be_checked()

    # A word: the player goes to its moment, and the word lights up.
    word = page.locator(".qa-turn-customer .qa-word", has_text="墙面")
    await word.click()
    await _player_at(page, 5.4)
    await expect(word).to_have_class(re.compile(r"\bis-current\b"))

    # Switching the leg keeps the position.
    await page.locator(".qa-legs input[value=customer]").check()
    await page.wait_for_function(f"() => {AUDIO}.src.endsWith('leg=customer')")
    await page.wait_for_function(f"() => {AUDIO}.readyState > 0")
    await _player_at(page, 5.4)
    await page.locator(".qa-legs input[value=mixed]").check()
    await page.wait_for_function(f"() => {AUDIO}.src.endsWith('leg=mixed')")

    # A rule's evidence: the player goes there and the words are marked.
    forbidden = page.locator('.qa-rule[data-rule-id="forbidden_phrases"]')
    await expect(forbidden.locator(".qa-rule-title")).to_have_text("禁用语")
    await expect(forbidden.locator('.qa-verdict[data-kind="automatic"]')).to_have_text(
        re.compile("自动\\s*未通过")
    )
    evidence = forbidden.locator(".qa-evidence-item")
    await expect(evidence).to_have_text(re.compile("00:09.0\\s*坐席\\s*我不知道"))
    await evidence.click()
    await _player_at(page, 9.0)
    spoken = page.locator(".qa-turn-agent .qa-word", has_text="我不知道")
    await expect(spoken).to_have_class(re.compile(r"\bis-evidence\b"))
    ring = page.locator('.qa-rule[data-rule-id="answer_within_3_rings"] .qa-evidence-fact')
    await expect(ring).to_have_text("振铃 20.0 秒后接听（上限 15 秒）")

    # Space plays from there (the evidence button has the focus): the word is highlighted as
    # it is spoken; space again pauses.
    await page.keyboard.press("Space")
    await page.wait_for_function(
        f"() => !{AUDIO}.paused && {AUDIO}.currentTime > 9.05 && {AUDIO}.currentTime < 9.55"
        " && [...document.querySelectorAll('.qa-word.is-current')]"
        ".some((w) => w.textContent === '我不知道')",
        polling="raf",
    )
    await page.wait_for_function(f"() => {AUDIO}.currentTime > 9.7")
    await page.keyboard.press("Space")
    await page.wait_for_function(f"() => {AUDIO}.paused")
    await page.locator("#qa-call-title").click()
    at = await page.evaluate(f"{AUDIO}.currentTime")
    await page.keyboard.press("ArrowLeft")
    await _player_at(page, max(0.0, at - 5))

    # Override without a reason: the error sits by the reason field.
    await forbidden.locator(".qa-override-open").click()
    form = forbidden.locator("form.qa-override-form")
    await expect(form.locator("input[name=passed][value=true]")).to_be_checked()
    await form.locator("button[type=submit]").click()
    reason = form.locator('[data-field="reason"]')
    await expect(reason).to_have_class(re.compile(r"\bhas-error\b"))
    await expect(reason.locator(".field-error")).to_have_text("请说明改判理由")
    await expect(reason.locator("textarea")).to_have_attribute("aria-invalid", "true")
    await expect(reason.locator("textarea")).to_be_focused()

    await reason.locator("textarea").fill("“我不知道”后面是“怎么走”，是在确认地址，不算推诿")
    await form.locator("button[type=submit]").click()
    await expect(page.locator(".toast")).to_contain_text("已改判：禁用语")
    await expect(forbidden).to_have_attribute("data-final", "true")
    await expect(forbidden.locator('.qa-verdict[data-kind="automatic"]')).to_have_text(
        re.compile("自动\\s*未通过")
    )  # the automatic verdict stays, beside the reviewed one
    await expect(forbidden.locator('.qa-verdict[data-kind="final"]')).to_have_text(
        re.compile("改判\\s*通过")
    )
    await expect(forbidden.locator(".qa-review-note")).to_contain_text("质检员李娜 改判")
    await expect(forbidden.locator(".qa-review-note")).to_contain_text("是在确认地址")
    await expect(forbidden.locator(".qa-rule-lost")).to_have_count(0)
    boxes = page.locator(".qa-score-box")
    await expect(boxes.nth(0)).to_contain_text(
        f"{automatic['automatic_score']} / {automatic['automatic_max']}"
    )
    await expect(boxes.nth(1)).to_contain_text(f"{automatic['score'] + 3} / {automatic['max']}")
    await expect(boxes.nth(1).locator(".qa-score-delta")).to_have_text("+3")

    # Confirming another rule.
    greeting = page.locator('.qa-rule[data-rule-id="greeting"]')
    await greeting.locator(".qa-confirm").click()
    await expect(greeting.locator('.qa-verdict[data-kind="final"]')).to_have_text(
        re.compile("确认\\s*通过")
    )
    await expect(greeting.locator(".qa-confirm")).to_be_disabled()
    await expect(page.locator(".qa-scorecard-head")).to_contain_text("已复核 2/10 项")

    await evidence.click()  # marked again for the picture
    await _player_at(page, 9.0)
    await page.screenshot(path=screenshot_path("qa-review.png"))

    # Back in the list: the call is marked reviewed, and still the current one.
    await page.click("#qa-back")
    await expect(page.locator("#qa-list-view")).to_be_visible()
    await expect(row.locator(".qa-reviewed")).to_have_text("✓ 已复核")
    await expect(row).to_have_class(re.compile(r"\bis-current\b"))
    assert tab.errors == []


async def test_an_agent_reads_only_their_own_calls(
    system: LiveSystem, calls: Calls, browser: Browser
) -> None:
    tab = await open_tab(browser, system)
    page = tab.page
    await log_in(tab, "agent1")  # the console, with the way to the QA page in the header
    await page.click("#nav-qa")
    await page.wait_for_url("**/qa")
    await expect(page.locator("#qa-heading")).to_have_text("我的通话质检")
    rows = page.locator("#qa-rows tr[data-call-id]")
    await expect(rows).to_have_count(1)
    await expect(rows).to_have_attribute("data-call-id", str(calls.mine))
    await expect(page.locator("#qa-f-agent")).to_have_count(0)

    await rows.locator("a.qa-open").click()
    await expect(page.locator("#qa-call-title")).to_have_text(f"通话 #{calls.mine}")
    await expect(page.locator(".qa-rule")).to_have_count(10)
    await expect(page.locator(".qa-read-only")).to_be_visible()
    await expect(page.locator(".qa-review-actions, .qa-override-form")).to_have_count(0)
    await page.locator(".qa-word", has_text="再见").click()
    await _player_at(page, 14.0)

    # Another agent's call, by its address: refused, said so.
    await page.goto(f"/qa#call={calls.theirs}")
    await expect(page.locator("#qa-call-view [role=alert]")).to_contain_text(
        "坐席只能查看自己的通话"
    )
    assert tab.errors == []


async def test_the_page_switches_language_and_supervisors_pick_agents(
    system: LiveSystem, calls: Calls, browser: Browser
) -> None:
    tab = await open_tab(browser, system)
    page = tab.page
    await log_in(tab, "supervisor", next_path="/qa")
    # Supervisors choose from every agent, before any call of theirs is listed.
    await expect(page.locator("#qa-f-agent option")).to_have_count(3)
    await page.select_option("#qa-f-agent", label="坐席1002")
    rows = page.locator("#qa-rows tr[data-call-id]")
    await expect(rows).to_have_count(2)
    await rows.first.locator("a.qa-open").click()  # the newest: not transcribed, so no score
    await expect(page.locator("#qa-call-title")).to_have_text(f"通话 #{calls.failed}")
    await expect(page.locator(".qa-unscored")).to_contain_text("这通电话尚未评分")
    await expect(page.locator(".qa-unscored")).to_contain_text("失败")
    await expect(page.locator(".qa-job-error")).to_have_text(FAILED_JOB_ERROR)
    await expect(page.locator(".qa-no-transcript")).to_be_visible()
    await page.goto(f"/qa#call={calls.mine}")  # straight to a call: the list follows
    await expect(page.locator("#qa-call-title")).to_have_text(f"通话 #{calls.mine}")
    await expect(page.locator('.qa-step[data-step="qa.prev_call"]')).to_have_attribute(
        "href", f"#call={calls.theirs}"
    )
    forbidden = page.locator('.qa-rule[data-rule-id="forbidden_phrases"]')
    await expect(forbidden.locator(".qa-confirm")).to_have_text("确认")

    await page.select_option("#lang-select", "en")
    await expect(page.locator("#qa-call-title")).to_have_text(f"Call #{calls.mine}")
    await expect(forbidden.locator(".qa-rule-title")).to_have_text("Forbidden phrases")
    await expect(forbidden.locator('.qa-verdict[data-kind="automatic"]')).to_have_text(
        re.compile("Automatic\\s*Failed")
    )
    await expect(forbidden.locator(".qa-confirm")).to_have_text("Confirm")
    await expect(page.locator(".qa-lane-name.qa-lane-customer")).to_have_text("Customer")
    ring = page.locator('.qa-rule[data-rule-id="answer_within_3_rings"] .qa-evidence-fact')
    await expect(ring).to_have_text("Answered after 20.0 s (limit 15 s)")
    assert await page.get_attribute("html", "lang") == "en"
    await page.click("#qa-back")
    await expect(page.locator("#qa-heading")).to_have_text("Call quality")
    await expect(
        page.locator(
            f'#qa-rows tr[data-call-id="{calls.theirs}"] '
            '.qa-rule-chip[data-rule="forbidden_phrases"]'
        )
    ).to_have_text("Forbidden phrases")
    await page.reload()
    assert await page.title() == "QA review · Call centre"
    await expect(page.locator("#qa-f-rule option[value=greeting]")).to_have_text("Opening greeting")

    await page.select_option("#lang-select", "zh-CN")
    await expect(page.locator("#qa-heading")).to_have_text("通话质检")
    await expect(page.locator("#qa-f-rule option[value=greeting]")).to_have_text("开场问候")
    assert tab.errors == []

"""The QA review loop in a real browser (Debian's chromium through Playwright) against the live
server (issue 17): the sampling rules put a low-scored call in the reviewer's "待复核" queue;
the reviewer takes it and sends the agent a comment; the agent, on the console, is told at
once, opens the call and disputes the review; the dispute reaches the reviewer's open page,
who answers; the agent acknowledges. And the scorecard's evidence speaks the page's language:
every kind the scorer sends reads in Chinese with no English, in English too, and a phrase
nobody said shows no time."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, expect

from crm.clock import FixedClock
from crm.db import Database
from crm.users import service as users
from tests.support.browser import (
    create_qa_reviewer,
    log_in,
    open_tab,
    screenshot_path,
)
from tests.support.live import LiveSystem, live_system
from tests.support.qa_calls import CUSTOMER_WORDS, scored_call
from web.ws_messages import QaFeedbackMessage

pytestmark = [
    pytest.mark.browser,
    pytest.mark.parametrize("database_url", ["sqlite"], indirect=True),
]

NOW = datetime(2026, 12, 9, 2, 0, tzinfo=UTC)  # a Wednesday morning in Shanghai, 2026-W50
LATIN_WORD = re.compile(r"[A-Za-z]{2,}")
STAMP = re.compile(r"\d\d:\d\d\.\d")
# A call whose scorecard holds every kind of evidence: words said (the greeting, 我不知道),
# phrases nobody said (the closing question in the last 20 s; 谢谢 and 对不起 anywhere), the
# ring time and who hung up (PBX facts), a hold announced with 请稍等 and a silence that was not.
ALL_KINDS_AGENT = [
    ("您好", 0.5, 0.9),
    ("这里", 1.0, 1.3),
    ("是", 1.3, 1.4),
    ("装修", 1.4, 1.8),
    ("客服", 1.8, 2.2),
    ("我是", 2.3, 2.6),
    ("小王", 2.6, 3.0),
    ("请问", 3.1, 3.4),
    ("有什么", 3.4, 3.8),
    ("可以", 3.8, 4.0),
    ("帮", 4.0, 4.2),
    ("您", 4.2, 4.4),
    ("我不知道", 9.0, 9.6),
    ("请稍等", 10.0, 10.6),
    ("好的", 45.0, 45.4),
    ("再见", 80.0, 80.5),
]


@pytest.fixture
async def system(db: Database, tmp_path: Path) -> AsyncIterator[LiveSystem]:
    async with live_system(db, tmp_path, clock=FixedClock(NOW)) as running:
        yield running


async def _agent_id(db: Database, username: str) -> int:
    async with db.session() as session:
        user = await users.get_by_username(session, username)
        assert user is not None
        return user.id


async def _status(page: Page, text: str) -> None:
    await expect(page.locator("#qa-feedback .qa-fb-status")).to_have_text(text)


async def test_a_review_reaches_the_agent_and_a_dispute_comes_back(
    system: LiveSystem, db: Database, browser: Browser
) -> None:
    await create_qa_reviewer(db)
    call_id = await scored_call(
        db,
        system.settings.recordings_dir,
        agent_id=await _agent_id(db, "agent1"),
        started_at=NOW - timedelta(hours=2),
        linkedid="fb.1",
    )
    agent = await open_tab(browser, system)
    await log_in(agent, "agent1")  # the console: where an agent spends the shift
    reviewer = await open_tab(browser, system)
    qa = reviewer.page
    await log_in(reviewer, "qa", next_path="/qa")

    # The queue: empty until the rules run; then the low-scored call, with why.
    queue = qa.locator("#qa-review-queue")
    await expect(queue.locator("h2")).to_contain_text("待复核")
    await expect(queue.locator(".qa-sampling-rules")).to_have_text(
        "抽样规则： 每名坐席每周随机抽 20% · 投诉通话全部 · 得分低于 80% 的全部"
    )
    await expect(queue.locator(".qa-work-empty")).to_have_text("没有待复核的通话")
    await queue.locator(".qa-sample-now").click()
    await expect(qa.locator(".toast")).to_contain_text("新抽取 1 通")
    row = queue.locator(f'tr[data-call-id="{call_id}"]')
    await expect(row.locator(".qa-reason")).to_have_text("低分")
    await expect(row).to_contain_text("坐席1001")
    await expect(row.locator(".qa-score")).to_have_text("6/14")
    await qa.screenshot(path=screenshot_path("qa-queue.png"))

    # The reviewer takes it and writes the agent a comment.
    await row.locator(".qa-take").click()
    await expect(qa.locator("#qa-call-title")).to_have_text(f"通话 #{call_id}")
    panel = qa.locator("#qa-feedback")
    await expect(panel.locator("h2")).to_have_text("质检评语")
    await panel.locator(".qa-fb-write").click()
    send = panel.locator("form.qa-fb-send-form")
    await send.locator("button[type=submit]").click()  # empty: said by the field
    await expect(send.locator(".field-error")).to_have_text("请填写评语")
    comment = "“我不知道”是禁用语，可以说“我帮您查一下”；结束前请问客户还有没有其他需要"
    await send.locator("textarea").fill(comment)
    await send.locator("button[type=submit]").click()
    await expect(qa.locator(".toast").last).to_contain_text("评语已发送给 坐席1001")
    await _status(qa, "待坐席确认")
    await expect(panel.locator(".qa-fb-comment .qa-fb-text")).to_have_text(comment)

    # The agent is told on the console, and opens the call from the notice.
    page = agent.page
    notice = page.locator(".toast-qa-feedback")
    await expect(notice).to_have_text(
        re.compile(f"质检员李娜 复核了你的通话 #{call_id}，请查看评语")
    )
    await notice.locator("a").click()
    await page.wait_for_url(f"**/qa#call={call_id}")
    await expect(page.locator("#qa-call-title")).to_have_text(f"通话 #{call_id}")
    mine = page.locator("#qa-feedback")
    await expect(mine.locator(".qa-fb-comment .qa-fb-text")).to_have_text(comment)
    await expect(mine.locator(".qa-fb-comment .qa-fb-who")).to_contain_text("质检员李娜 的评语")
    await expect(page.locator(".qa-rule")).to_have_count(10)  # the scorecard beside it
    await expect(page.locator(".qa-fb-answer-form, .qa-fb-send-form")).to_have_count(0)

    # The agent disputes, saying why.
    await mine.locator(".qa-fb-dispute-open").click()
    dispute = mine.locator("form.qa-fb-dispute-form")
    await dispute.locator("button[type=submit]").click()
    await expect(dispute.locator(".field-error")).to_have_text("请说明申诉理由")
    reason = "“我不知道”后面是“怎么走”，我在确认客户家的地址"
    await dispute.locator("textarea").fill(reason)
    # The review's notice told again meanwhile (a backlog replayed when the live channel
    # resumes): the page looks again, finds nothing new, and the form typed in stays.
    textarea = dispute.locator("textarea")
    await textarea.evaluate("(el) => { el.dataset.typedIn = 'yes'; }")
    [told, *_] = agent.messages("qa_feedback")
    again = QaFeedbackMessage.model_validate({k: v for k, v in told.items() if k != "seq"})
    user_id = agent.messages("hello")[-1]["user"]["id"]
    feedback_url = f"/api/qa/calls/{call_id}/feedback"
    async with page.expect_response(lambda r: r.url.endswith(feedback_url)) as looked:
        system.services.outbox.push(user_id, again)
    await (await looked.value).finished()
    await page.wait_for_timeout(200)  # what the page does with the answer
    await expect(dispute.locator("textarea[data-typed-in=yes]")).to_have_value(reason)
    await dispute.locator("button[type=submit]").click()
    await _status(page, "申诉中")
    await expect(mine.locator(".qa-fb-acknowledge, .qa-fb-dispute-open")).to_have_count(0)
    await page.screenshot(path=screenshot_path("qa-feedback-agent.png"))

    # It comes back to the reviewer's open page: the notice, the dispute, the answer form.
    await expect(qa.locator('.toast-qa-feedback[data-status="disputed"]')).to_have_text(
        re.compile(f"坐席1001 对通话 #{call_id} 的质检提出申诉")
    )
    await expect(panel.locator(".qa-fb-dispute .qa-fb-text")).to_have_text(reason)
    await _status(qa, "申诉中")
    answer = panel.locator("form.qa-fb-answer-form")
    await answer.locator("textarea").fill("同意，已将“禁用语”改判为通过")
    await answer.locator("button[type=submit]").click()
    await _status(qa, "已答复申诉")
    await qa.screenshot(path=screenshot_path("qa-feedback-reviewer.png"))

    # The agent reads the answer and acknowledges it.
    await expect(page.locator('.toast-qa-feedback[data-status="answered"]')).to_have_text(
        re.compile(f"质检员李娜 答复了你对通话 #{call_id} 的申诉")
    )
    await expect(mine.locator(".qa-fb-answer .qa-fb-text")).to_have_text(
        "同意，已将“禁用语”改判为通过"
    )
    await mine.locator(".qa-fb-acknowledge").click()
    await _status(page, "已确认")
    await page.click("#qa-back")
    my_reviews = page.locator("#qa-mine")
    await expect(my_reviews.locator("h2")).to_have_text("我的质检")
    await expect(my_reviews.locator(f'tr[data-call-id="{call_id}"] .qa-fb-status')).to_have_text(
        "已确认"
    )
    await expect(my_reviews.locator(".qa-mine-waiting")).to_have_count(0)

    # Reviewed: out of the reviewer's queue, no dispute left open.
    await expect(qa.locator('.toast-qa-feedback[data-status="acknowledged"]')).to_be_visible()
    await qa.click("#qa-back")
    await expect(qa.locator("#qa-review-queue .qa-work-empty")).to_have_text("没有待复核的通话")
    await expect(qa.locator("#qa-disputes")).to_have_count(0)
    assert agent.errors == [] and reviewer.errors == []


async def test_evidence_speaks_the_pages_language_and_absence_has_no_time(
    system: LiveSystem, db: Database, browser: Browser
) -> None:
    await create_qa_reviewer(db)
    call_id = await scored_call(
        db,
        system.settings.recordings_dir,
        agent_id=await _agent_id(db, "agent1"),
        started_at=NOW - timedelta(hours=1),
        linkedid="ev.1",
        agent_words=ALL_KINDS_AGENT,
        customer_words=CUSTOMER_WORDS,
    )
    tab = await open_tab(browser, system)
    page = tab.page
    await log_in(tab, "qa", next_path="/qa")
    await page.goto(f"/qa#call={call_id}")
    await expect(page.locator("#qa-call-title")).to_have_text(f"通话 #{call_id}")
    items = page.locator(".qa-evidence li")
    await expect(items.first).to_be_visible()
    kinds = {await item.get_attribute("data-kind") for item in await items.all()}
    assert kinds == {
        "said",
        "not_found",
        "ring_time",
        "hung_up_first",
        "silence",
        "silence_after_hold",
    }

    async def check_every_item(language: str) -> dict[str, list[str]]:
        texts: dict[str, list[str]] = {}
        for item in await items.all():
            kind = await item.get_attribute("data-kind")
            assert kind is not None
            text = (await item.inner_text()).strip()
            texts.setdefault(kind, []).append(text)
            stamped = await item.locator(".qa-evidence-time").count()
            if kind in ("said", "silence", "silence_after_hold"):
                assert stamped == 1 and STAMP.search(text), (kind, text)
            else:  # a fact of the PBX, or a phrase nobody said: no moment, no time shown
                assert stamped == 0 and not STAMP.search(text), (kind, text)
                assert await item.locator("button").count() == 0
            if language == "zh-CN":
                assert not LATIN_WORD.search(text), (kind, text)
        return texts

    zh = await check_every_item("zh-CN")
    assert "最后 20 秒内未找到：还有其他需要帮助的吗" in " ".join(zh["not_found"])
    assert "未找到：谢谢" in " ".join(zh["not_found"])
    assert zh["ring_time"] == ["振铃 20.0 秒后接听（上限 15 秒）"]
    assert zh["hung_up_first"][0].endswith("坐席先挂机")
    assert any("说了“请稍等”之后静音 34.4 秒" in t for t in zh["silence_after_hold"])
    assert any("静音 34.6 秒，之前没有说“请稍等”" in t for t in zh["silence"])
    await page.locator('.qa-evidence li[data-kind="not_found"]').first.scroll_into_view_if_needed()
    await page.screenshot(path=screenshot_path("qa-evidence-zh.png"))

    await page.select_option("#lang-select", "en")
    await expect(page.locator("#qa-call-title")).to_have_text(f"Call #{call_id}")
    en = await check_every_item("en")
    assert "Not found in the last 20 s: anything else? (还有其他需要帮助的吗)" in " ".join(
        en["not_found"]
    )
    assert en["ring_time"] == ["Answered after 20.0 s (limit 15 s)"]
    assert en["hung_up_first"][0].endswith("The agent hung up first")
    assert any("Silent 34.6 s with no “please hold” before it" in t for t in en["silence"])
    assert tab.errors == []

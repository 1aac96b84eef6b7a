"""The agent console in a real browser (Debian's chromium through Playwright) against the live
system: the PBX simulator rings the agent's phone, the pop shows the caller's card before the
answer, and the agent logs the stage callback from the page."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, expect

from crm.clock import FixedClock
from crm.customers.models import Grade
from crm.db import Database
from tests.support.browser import (
    drop_websockets,
    go_ready,
    log_in,
    logged_in_tab,
    open_tab,
    screenshot_path,
    seed_customer,
)
from tests.support.live import LiveSystem, live_system
from tests.support.waiting import until
from web.ws_messages import EndedMessage

pytestmark = [
    pytest.mark.browser,
    pytest.mark.parametrize("database_url", ["sqlite"], indirect=True),
]


@pytest.fixture
async def system(db: Database, tmp_path: Path) -> AsyncIterator[LiveSystem]:
    # A long wrap-up, so the page can be seen counting it down.
    async with live_system(db, tmp_path, wrapup_seconds=30) as running:
        yield running


@pytest.fixture
async def dialing_system(
    db: Database, tmp_path: Path, clock: FixedClock
) -> AsyncIterator[LiveSystem]:
    # A fixed Monday morning: the agent's calls keep to the calling hours.
    async with live_system(db, tmp_path, clock=clock) as running:
        yield running


async def test_pop_then_an_effective_callback_on_the_timeline(
    system: LiveSystem, db: Database, browser: Browser
) -> None:
    seeded = await seed_customer(
        db,
        system.services.today(),
        name="王建国",
        phones=["13800138000"],
        contract_number="XA2026-000001",
    )
    tab = await logged_in_tab(browser, system, "agent1")
    page = tab.page
    await expect(page.locator("#who-ext")).to_have_text("分机 1001")
    await expect(page.locator("#pbx-indicator")).to_have_attribute("data-state", "up")
    await expect(page.locator("#live-indicator")).to_have_attribute("data-state", "up")
    await go_ready(page)

    # The phone rings and nobody picks up yet: the card is there before the answer.
    system.sim.set_answer("1001", None)
    linkedid = await system.sim.place_inbound_call("13800138000", talk_seconds=60)
    pop = page.locator(f'.call-card[data-linkedid="{linkedid}"]')
    await expect(pop.locator(".call-name")).to_have_text("王建国")
    await expect(pop.locator(".grade")).to_have_text("A")
    await expect(pop).to_contain_text("138 0013 8000")
    await expect(pop).to_contain_text("XA2026-000001")
    assert await pop.get_attribute("data-status") in ("ringing", "ring_stopped")
    assert not tab.messages("answered")
    # ...and the customer opened in the middle, with the stage timeline.
    await expect(page.locator(".customer-name")).to_have_text("王建国")
    start = page.locator(f'.task[data-task-id="{seeded.task_ids["start"]}"]')
    await expect(start.locator(".task-name")).to_have_text("开工回访")
    await expect(start).to_have_class(re.compile(r"\bis-overdue\b"))
    await expect(
        page.locator(f'.task[data-task-id="{seeded.task_ids["concealed_works"]}"] .task-name')
    ).to_have_text("隐蔽工程回访")

    system.sim.set_answer("1001", 1)  # the agent answers on the next ring
    await expect(pop).to_have_attribute("data-status", "answered")
    form = page.locator("#callback-form")
    await expect(form.locator(".linked-call")).to_contain_text("138 0013 8000")
    await start.locator("[data-action=log]").click()
    await expect(form.locator("select[name=task_id]")).to_have_value(str(seeded.task_ids["start"]))

    # Effective without the customer's satisfaction: the API's error sits by that fieldset.
    await form.locator("input[name=outcome][value=effective]").check()
    await form.locator("button[type=submit]").click()
    satisfaction = form.locator('[data-field="satisfaction"]')
    await expect(satisfaction).to_have_class(re.compile(r"\bhas-error\b"))
    await expect(satisfaction.locator(":scope > .field-error")).to_have_text(
        "有效回访须记录客户满意度（至少一项）"
    )

    for area, value in (
        ("quality", "satisfied"),
        ("crew", "satisfied"),
        ("supervisor", "neutral"),
        ("designer", "satisfied"),
    ):
        await form.locator(f'input[name="satisfaction.{area}"][value="{value}"]').check()
    await form.locator("textarea[name=notes]").fill("客户对开工交底满意")
    await form.locator("button[type=submit]").click()
    await expect(page.locator(".toast")).to_contain_text("回访记录已保存")
    await expect(satisfaction).not_to_have_class(re.compile(r"\bhas-error\b"))

    attempt = start.locator(".attempt[data-outcome=effective]")
    await expect(attempt).to_have_count(1)
    await expect(attempt).to_contain_text("有效回访")
    await expect(attempt).to_contain_text("施工质量：满意")
    await expect(attempt).to_contain_text("监理：一般")
    await expect(attempt).to_contain_text("客户对开工交底满意")
    await expect(start).to_have_attribute("data-status", "done")
    await expect(start).not_to_have_class(re.compile(r"\bis-overdue\b"))
    await page.screenshot(path=screenshot_path("console-pop.png"))

    client = await system.login("agent1")
    tasks = (await client.get(f"/api/projects/{seeded.project_id}/callbacks")).json()
    [task] = [t for t in tasks if t["id"] == seeded.task_ids["start"]]
    [logged] = task["attempts"]
    assert logged["outcome"] == "effective" and logged["agent_name"] == "坐席1001"
    assert logged["satisfaction"] == {
        "quality": "satisfied",
        "crew": "satisfied",
        "supervisor": "neutral",
        "designer": "satisfied",
    }
    await client.aclose()

    # The pop follows the call to its end; wrap-up counts down in the header.
    await expect(pop).to_have_attribute("data-status", "ended")
    await expect(pop.locator(".call-note")).to_contain_text("已接听")
    await expect(page.locator("#state-chip")).to_have_attribute("data-status", "wrapup")
    await expect(page.locator("#state-chip")).to_contain_text(re.compile(r"话后处理\s*剩余 \d+ 秒"))
    assert tab.errors == []


async def test_language_switch_persists(system: LiveSystem, browser: Browser) -> None:
    tab = await open_tab(browser, system)
    page = tab.page
    await page.goto("/login?next=/console")
    await expect(page.locator("h1")).to_have_text("登录")
    await page.fill("#username", "agent1")
    await page.fill("#password", "wrong-password")
    await page.click("#login-form button[type=submit]")
    await expect(page.locator("#login-form [data-form-error]")).to_have_text("用户名或密码错误")

    await log_in(tab, "agent1")
    assert await page.get_attribute("html", "lang") == "zh-CN"
    await expect(page.locator("#state-ready")).to_have_text("就绪")
    await expect(page.locator("#search-q")).to_have_attribute("placeholder", "姓名、电话或合同号")
    await expect(page.locator("#calls-heading")).to_have_text("来电弹屏")

    await page.select_option("#lang-select", "en")
    await expect(page.locator("#state-ready")).to_have_text("Ready")
    await expect(page.locator("#search-q")).to_have_attribute(
        "placeholder", "Name, phone or contract no."
    )
    await expect(page.locator("#calls-heading")).to_have_text("Screen pops")
    await expect(page.locator("#who-ext")).to_have_text("Ext. 1001")
    assert await page.get_attribute("html", "lang") == "en"
    cookies = {c["name"]: c["value"] for c in await page.context.cookies()}
    assert cookies["cc_lang"] == "en"

    await page.reload()
    await expect(page.locator("#state-ready")).to_have_text("Ready")
    assert await page.get_attribute("html", "lang") == "en"  # rendered so by the server
    assert await page.title() == "Agent console · Call centre"

    await page.click("#logout")
    await page.wait_for_url("**/login")
    await expect(page.locator("h1")).to_have_text("Sign in")
    await page.fill("#username", "agent1")
    await page.fill("#password", "wrong-password")
    await page.click("#login-form button[type=submit]")
    await expect(page.locator("#login-form [data-form-error]")).to_have_text(
        "Wrong username or password"
    )
    assert tab.errors == []


async def test_unknown_caller_becomes_a_customer(
    system: LiveSystem, db: Database, browser: Browser
) -> None:
    tab = await logged_in_tab(browser, system, "agent1")
    page = tab.page
    system.sim.set_answer("1001", None)
    linkedid = await system.sim.place_inbound_call("13912345678", extension="1001")
    pop = page.locator(f'.call-card[data-linkedid="{linkedid}"]')
    await expect(pop.locator(".call-name")).to_have_text("未知来电")
    await expect(pop).to_contain_text("是否为来电方建立客户档案")

    form = page.locator("form[data-form=create]")
    await expect(form.locator('input[name="phones[0]"]')).to_have_value("13912345678")
    await form.get_by_role("button", name="添加电话").click()
    await form.locator('input[name="phones[1]"]').fill("139-12ab")
    await form.locator("button[type=submit]").click()
    # Each problem next to its own input: the missing name, the second number.
    await expect(form.locator('[data-field="name"] .field-error')).to_have_text("必填")
    await expect(form.locator('[data-field="phones[1]"] .field-error')).to_have_text(
        "电话号码格式不正确"
    )
    await expect(form.locator('[data-field="phones[0]"] .field-error')).to_be_hidden()
    await expect(form.locator('input[name="phones[1]"]')).to_have_attribute("aria-invalid", "true")

    await form.locator('input[name="name"]').fill("刘女士")
    await form.locator('[data-field="phones[1]"]').get_by_role("button").click()
    await form.locator('input[name="address"]').fill("西安市长安区西长安街48号")
    await form.locator("button[type=submit]").click()
    await expect(page.locator(".customer-name")).to_have_text("刘女士")
    await expect(page.locator(".customer .phone")).to_have_text("☎139 1234 5678")
    await expect(pop.locator(".call-name")).to_have_text("刘女士")  # the pop knows them now

    client = await system.login("agent1")
    [found] = (await client.get("/api/customers", params={"q": "13912345678"})).json()
    assert found["name"] == "刘女士" and found["grade"] == "B"
    await client.aclose()
    assert tab.errors == []


async def test_a_shared_number_offers_the_candidates(
    system: LiveSystem, db: Database, browser: Browser
) -> None:
    today = system.services.today()
    husband = await seed_customer(
        db, today, name="张伟", phones=["13700001234"], contract_number="XA2026-000011"
    )
    wife = await seed_customer(
        db,
        today,
        name="李静",
        phones=["137-0000-1234"],
        contract_number="XA2026-000012",
        grade=Grade.B,
    )
    tab = await logged_in_tab(browser, system, "agent1")
    page = tab.page
    system.sim.set_answer("1001", None)
    linkedid = await system.sim.place_inbound_call("13700001234", extension="1001")
    pop = page.locator(f'.call-card[data-linkedid="{linkedid}"]')
    await expect(pop.locator(".call-candidates")).to_contain_text("有 2 位客户使用此号码")
    candidates = pop.locator(".candidate")
    await expect(candidates).to_have_count(2)
    await expect(page.locator(".customer-name")).to_have_text("张伟")  # the first, meanwhile
    await candidates.filter(has_text="李静").click()
    await expect(page.locator(".customer-name")).to_have_text("李静")
    await expect(page.locator(f'[data-customer-id="{wife.id}"] .project h4')).to_have_text(
        "合同号 XA2026-000012"
    )
    assert husband.id != wife.id
    assert tab.errors == []


async def test_search_by_a_number_then_edit_and_add_a_note(
    system: LiveSystem, db: Database, browser: Browser
) -> None:
    today = system.services.today()
    wang = await seed_customer(
        db, today, name="王建国", phones=["13800138000"], contract_number="XA2026-000001"
    )
    await seed_customer(
        db, today, name="李娜", phones=["029-8888 6666"], contract_number="XA2026-000002"
    )
    tab = await logged_in_tab(browser, system, "agent1")
    page = tab.page
    await page.locator("#customer-view").click()
    await page.keyboard.press("/")  # the shortcut to the search box
    await page.keyboard.type("+86 138-0013-8000")
    await page.keyboard.press("Enter")
    results = page.locator("#search-results .result")
    await expect(results).to_have_count(1)
    await expect(results.first).to_contain_text("王建国")
    await expect(results.first).to_contain_text("138 0013 8000")
    await expect(page.locator(".customer-name")).to_have_text("王建国")  # one match opens
    await expect(page.locator(f'[data-customer-id="{wang.id}"] .project h4')).to_have_text(
        "合同号 XA2026-000001"
    )

    await page.fill("#search-q", "88886666")  # a landline without its area code
    await page.press("#search-q", "Enter")
    await expect(results).to_have_count(1)
    await expect(results.first).to_contain_text("李娜")
    await page.fill("#search-q", "张三丰")
    await page.press("#search-q", "Enter")
    await expect(page.locator("#search-status")).to_have_text("没有找到匹配“张三丰”的客户")

    # Edit 李娜: a second number that is not one, then fixed; a new grade and address.
    await page.fill("#search-q", "XA2026-000002")
    await page.press("#search-q", "Enter")
    await expect(page.locator(".customer-name")).to_have_text("李娜")
    await page.get_by_role("button", name="编辑资料").click()
    form = page.locator("form[data-form=edit]")
    await expect(form.locator('input[name="phones[0]"]')).to_have_value("029-8888 6666")
    await form.get_by_role("button", name="添加电话").click()
    await form.locator('input[name="phones[1]"]').fill("110")
    await form.locator("input[name=grade][value=C]").check()
    await form.locator('input[name="address"]').fill("碑林区南大街8号")
    await form.locator("button[type=submit]").click()
    await expect(form.locator('[data-field="phones[1]"] .field-error')).to_have_text(
        "这不是客户的电话（可能是分机或热线号码）"
    )
    await form.locator('input[name="phones[1]"]').fill("+86 139 0000 1111")
    await form.locator("button[type=submit]").click()
    await expect(page.locator(".toast").last).to_contain_text("客户资料已保存")
    await expect(page.locator(".customer-head .grade")).to_have_text("C")
    await expect(page.locator(".customer-address")).to_have_text("碑林区南大街8号")
    await expect(page.locator(".customer .phone")).to_have_count(2)
    await expect(page.locator(".customer .phone").nth(1)).to_contain_text("139 0000 1111")

    notes = page.locator(".note-form")
    note = "客户周末在家，工作日请晚上七点后联系"
    await notes.locator("textarea").fill(note)
    await notes.get_by_role("button", name="添加备注").click()
    await expect(page.locator(".notes-text")).to_contain_text(note)
    await expect(page.locator(".notes-text")).to_contain_text("坐席1001")
    assert tab.errors == []


async def test_click_to_call_a_due_callback(
    dialing_system: LiveSystem, db: Database, browser: Browser
) -> None:
    system = dialing_system
    seeded = await seed_customer(
        db,
        system.services.today(),
        name="王建国",
        phones=["13800138000"],
        contract_number="XA2026-000001",
    )
    tab = await logged_in_tab(browser, system, "agent1")
    page = tab.page
    await page.fill("#search-q", "XA2026-000001")
    await page.press("#search-q", "Enter")
    start = page.locator(f'.task[data-task-id="{seeded.task_ids["start"]}"]')
    system.sim.set_answer("1001", 2)
    await start.locator("[data-action=call]").click()
    await expect(page.locator(".toast")).to_contain_text("正在呼叫 138 0013 8000")
    form = page.locator("#callback-form")
    await expect(form.locator(".linked-call")).to_contain_text("本次为回访外呼")
    await expect(form.locator("select[name=task_id]")).to_have_value(str(seeded.task_ids["start"]))
    pop = page.locator(".call-card").first
    await expect(pop.locator(".call-task")).to_have_text("回访外呼：开工回访")
    await expect(pop).to_contain_text("呼出")

    await form.locator("input[name=outcome][value=call_later]").check()
    await expect(form.locator("input[name=call_back_at]")).not_to_have_value("")
    await form.locator("input[name=call_back_at]").fill("2020-01-01T09:00")
    await form.locator("button[type=submit]").click()
    await expect(form.locator('[data-field="call_back_at"] .field-error')).to_have_text(
        "时间必须晚于现在"
    )
    await form.locator("input[name=call_back_at]").fill("2099-01-01T09:00")
    await form.locator("button[type=submit]").click()
    await expect(start.locator(".attempt[data-outcome=call_later]")).to_have_count(1)
    # The attempt the dial opened was completed, not a second one logged.
    await expect(start.locator(".attempt")).to_have_count(1)
    assert tab.errors == []


# What the live indicator showed, in order (`window.liveStates`).
WATCH_LIVE_STATES = """
window.liveStates = [];
const indicator = document.getElementById("live-indicator");
new MutationObserver(() => window.liveStates.push(indicator.dataset.state))
  .observe(indicator, { attributes: true, attributeFilter: ["data-state"] });
"""


@pytest.mark.parametrize("outage", ["offline", "cut"])
async def test_the_page_resumes_after_the_connection_drops(
    system: LiveSystem, db: Database, browser: Browser, outage: str
) -> None:
    """The live channel goes and comes back; the page resumes with what happened meanwhile,
    each message once.

    `offline`: the browser loses the network. The page says so at once, whatever the server
    still holds (chromium does not deliver an open socket's end while offline, so the page gives
    the socket up itself), and resumes as soon as the browser is back online.
    `cut`: the socket is cut at the server (no closing handshake) while the browser is online;
    the page notices and reconnects by itself."""
    await seed_customer(
        db,
        system.services.today(),
        name="王建国",
        phones=["13800138000"],
        contract_number="XA2026-000001",
    )
    tab = await logged_in_tab(browser, system, "agent1")
    page = tab.page
    indicator = page.locator("#live-indicator")
    await go_ready(page)
    system.sim.set_answer("1001", None)
    first = await system.sim.place_inbound_call("13800138000", talk_seconds=10)
    first_pop = page.locator(f'.call-card[data-linkedid="{first}"]')
    await expect(first_pop.locator(".call-name")).to_have_text("王建国")
    await page.evaluate(WATCH_LIVE_STATES)
    # Everything told so far has arrived (the agent's state after the ring comes a moment after
    # the pop): what the page has seen is then exactly what it resumes from.
    user_id = tab.messages("hello")[-1]["user"]["id"]
    outbox = system.services.outbox
    await until(lambda: max(m.get("seq", 0) for m in tab.frames) == outbox.last_seq(user_id))
    seen = outbox.last_seq(user_id)

    if outage == "offline":
        await page.context.set_offline(True)
        await expect(indicator).to_have_attribute("data-state", "down")
        await expect(page.locator("#live-banner")).to_be_visible()
    else:
        assert await drop_websockets(system) == 1
    # Meanwhile the call is answered and ends, and a stranger rings the extension.
    system.sim.set_answer("1001", 0.5)
    await system.sim.wait_calls()
    system.sim.set_answer("1001", None)
    second = await system.sim.place_inbound_call("13912345678", extension="1001")
    if outage == "offline":
        await page.context.set_offline(False)  # back: it resumes at once (the `online` event)

    await expect(indicator).to_have_attribute("data-state", "up")
    await expect(page.locator("#live-banner")).to_be_hidden()
    assert "down" in await page.evaluate("window.liveStates")
    await expect(first_pop).to_have_attribute("data-status", "ended")
    second_pop = page.locator(f'.call-card[data-linkedid="{second}"]')
    await expect(second_pop.locator(".call-name")).to_have_text("未知来电")
    await expect(first_pop).to_have_count(1)
    await expect(second_pop).to_have_count(1)

    assert len(tab.sockets) >= 2
    resumed = tab.sockets[-1].url
    assert f"since={seen}" in resumed and "epoch=" in resumed, resumed
    hello = tab.messages("hello")[-1]
    assert hello["resumed_from"] == seen
    if outage == "offline":
        assert hello["last_seq"] > seen  # what happened meanwhile came in the resumed backlog
    seqs = [m["seq"] for m in tab.frames if "seq" in m]
    assert len(seqs) == len(set(seqs)), "a message came twice"
    pops = [m["call"]["linkedid"] for m in tab.messages("pop")]
    assert pops.count(second) >= 1 and set(pops) == {first, second}
    assert tab.errors == []


async def test_a_repeated_ended_is_acted_on_once(system: LiveSystem, browser: Browser) -> None:
    """Issue 19: the same call's `ended` may reach a page twice (a backlog replayed by another
    web process after a reconnect, whose sequence the page's epoch does not match). The console
    acts on the first only: the call's end refreshes the agent's calls once."""
    tab = await logged_in_tab(browser, system, "agent1")
    page = tab.page
    await go_ready(page)
    asked: list[str] = []
    page.on("request", lambda r: asked.append(r.url) if "/api/calls/mine" in r.url else None)
    linkedid = await system.sim.place_inbound_call("13800138000", talk_seconds=1)
    pop = page.locator(f'.call-card[data-linkedid="{linkedid}"]')
    await expect(pop).to_have_attribute("data-status", "ended")
    await page.wait_for_timeout(800)  # the refresh the end asks for, 300 ms later
    refreshed = len(asked)
    assert refreshed >= 1
    [ended] = tab.messages("ended")
    user_id = tab.messages("hello")[-1]["user"]["id"]
    again = EndedMessage.model_validate({k: v for k, v in ended.items() if k != "seq"})
    system.services.outbox.push(user_id, again)  # the same end, told again
    await until(lambda: len(tab.messages("ended")) == 2)
    await page.wait_for_timeout(800)
    assert len(asked) == refreshed
    await expect(pop).to_have_count(1)
    assert tab.errors == []

"""Complaints, repairs and access requests in a real browser (Debian's chromium through
Playwright) against the live system with the PBX simulator and a clock the test moves: an
agent opens a complaint from the console for the caller on screen, linked to the call; once
the signing clock has run out the supervisor finds it among the overdue ones and the agent's
page warns; the engineering department signs for it late and works it to the resolution;
the call back it owes shows on the customer's timeline under the complaint's number, and the
agent's call back closes it. A department asks to read a project's callback records, the
manager approves it for less time than asked, the department reads them, the manager revokes
the grant and the records are closed again. A repair reported for a customer found by search
runs late, is followed through to the customer's verdict and counts in the crew's record. The
admin makes a department user, whose home is the complaints page."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, expect

from crm.clock import FixedClock
from crm.db import Database
from tests.support.browser import (
    create_admin,
    create_department_user,
    go_ready,
    logged_in_tab,
    screenshot_path,
    seed_customer,
)
from tests.support.live import PASSWORD, LiveSystem, live_system

pytestmark = [
    pytest.mark.browser,
    pytest.mark.parametrize("database_url", ["sqlite"], indirect=True),
]


@pytest.fixture
async def system(db: Database, tmp_path: Path, clock: FixedClock) -> AsyncIterator[LiveSystem]:
    async with live_system(db, tmp_path, clock=clock) as running:
        await create_department_user(db)
        yield running


async def _record(page: Page, action: str, **fields: str) -> None:
    form = page.locator(f'form[data-action="{action}"]')
    for name, value in fields.items():
        await form.locator(f'[name="{name}"]').fill(value)
    await form.locator("button[type=submit]").click()


async def test_a_complaint_from_the_console_runs_late_is_worked_and_closed(
    system: LiveSystem, db: Database, clock: FixedClock, browser: Browser
) -> None:
    seeded = await seed_customer(
        db,
        system.services.today(),
        name="王建国",
        phones=["13800138000"],
        contract_number="XA2026-000012",
    )
    desk = await logged_in_tab(browser, system, "agent1")
    console = desk.page
    await go_ready(console)

    # 王建国 rings; his card pops; the agent opens a complaint tied to this call.
    linkedid = await system.sim.place_inbound_call("13800138000", talk_seconds=30)
    await expect(
        console.locator(f'.call-card[data-linkedid="{linkedid}"] .call-name')
    ).to_have_text("王建国")
    await expect(console.locator(".customer-name")).to_have_text("王建国")
    await expect(console.locator("#customer-tickets")).to_contain_text("该客户没有未结的投诉或报修")
    await console.click("#open-complaint")
    form = console.locator("#complaint-form")
    await expect(form.locator("h2")).to_have_text("为 王建国 登记投诉")
    await expect(form.locator(".linked-call")).to_contain_text("138 0013 8000")
    await expect(form.locator("select[name=project_id]")).to_have_value(str(seeded.project_id))
    await expect(form.locator("select[name=category] option[value=quality]")).to_have_text(
        "施工质量"
    )
    await form.locator("button[type=submit]").click()  # nothing chosen: the API says what
    await expect(form.locator('[data-field="department"] .field-error')).to_have_text("必填")
    await form.locator("select[name=department]").select_option("工程部")
    await form.locator("select[name=category]").select_option("quality")
    await form.locator("textarea[name=description]").fill("卫生间墙面开裂，瓷砖空鼓")
    await form.locator("textarea[name=customer_demand]").fill("尽快返工")
    await form.locator("button[type=submit]").click()
    await expect(console.locator(".toast")).to_contain_text(
        re.compile(r"已登记投诉 #\d+，转工程部")
    )
    opened = console.locator("#customer-tickets li[data-complaint-id]")
    await expect(opened).to_have_count(1)
    complaint_id = int(await opened.get_attribute("data-complaint-id") or 0)
    await expect(opened).to_contain_text(f"投诉 #{complaint_id} · 工程部")

    boss = await system.login("supervisor")
    complaint = (await boss.get(f"/api/complaints/{complaint_id}")).json()
    assert complaint["source"] == "call" and complaint["call_id"] is not None
    assert complaint["first_contact_name"] == "坐席1001"
    assert complaint["project_id"] == seeded.project_id and complaint["grade"] == "general"

    # Three hours and five minutes later nobody has signed for it: overdue, and warned.
    clock.advance(hours=3, minutes=5)
    await system.app.state.deadline_alerts.check()
    warning = console.locator(f'.toast-deadline[data-id="{complaint_id}"]')
    await expect(warning).to_have_text(
        re.compile(f"投诉#{complaint_id}“签收”环节已超时 — 王建国 / 工程部")
    )
    await expect(warning.locator("a")).to_have_attribute("href", f"/complaints?open={complaint_id}")

    chief = await logged_in_tab(browser, system, "supervisor", next_path="/complaints")
    supervisor = chief.page
    await expect(supervisor).to_have_title("投诉与报修 · 呼叫中心")
    await supervisor.click('#complaint-filters button[data-filter="overdue"]')
    row = supervisor.locator(f'#complaint-rows tr[data-complaint-id="{complaint_id}"]')
    await expect(row).to_have_attribute("data-state", "overdue")
    await expect(supervisor.locator("#complaint-rows tr[data-complaint-id]")).to_have_count(1)
    await expect(row.locator(".ticket-clock")).to_have_text(
        re.compile(r"签收\s*已超时\s*已超时 5分钟")
    )
    await expect(row).to_contain_text("施工质量")
    await supervisor.screenshot(path=screenshot_path("complaints-overdue.png"))

    # The engineering department (its home page) signs for it late and works it through.
    works = await logged_in_tab(browser, system, "engineering", next_path="/complaints")
    department = works.page
    await expect(department.locator(".who-role")).to_have_text("部门")
    await expect(department.locator("#tab-access")).to_be_visible()
    await department.locator(f'#complaint-rows tr[data-complaint-id="{complaint_id}"]').click()
    detail = department.locator("#complaint-detail")
    await expect(detail.locator("h2")).to_have_text(f"投诉 #{complaint_id}")
    await expect(detail.locator('.clock-table tr[data-step="signed"]')).to_contain_text("已超时")
    await expect(detail.locator('form[data-action="step-signed"] h4')).to_have_text("记录“签收”")
    await _record(department, "step-signed")
    await expect(detail.locator('[data-field="signed_by"] .field-error')).to_have_text("必填")
    # Half typed when the page refreshes (every half minute; here at once, as on coming back
    # to the tab): the complaint is drawn afresh and the text and the focus stay.
    signed_by = detail.locator('form[data-action="step-signed"] [name="signed_by"]')
    await signed_by.fill("李")
    await signed_by.evaluate("(el) => { el.dataset.before = 'yes'; }")
    complaint_url = f"/api/complaints/{complaint_id}"
    async with department.expect_response(lambda r: r.url.endswith(complaint_url)) as looked:
        await department.evaluate("document.dispatchEvent(new Event('visibilitychange'))")
    await (await looked.value).finished()
    await expect(detail.locator("[data-before]")).to_have_count(0)  # drawn afresh
    await expect(signed_by).to_have_value("李")
    await expect(signed_by).to_be_focused()
    await _record(department, "step-signed", signed_by="李工")
    await expect(department.locator(".toast").last).to_contain_text(
        f"投诉 #{complaint_id}：已记录“签收”"
    )
    await expect(detail.locator('.clock-table tr[data-step="signed"]')).to_contain_text("超时完成")
    await _record(department, "step-verified", notes="已电话核实，墙面开裂属实")
    await expect(detail.locator('.clock-table tr[data-step="verified"]')).to_contain_text(
        "按时完成"
    )
    await _record(
        department, "step-solution", solution="铲除空鼓瓷砖重新铺贴", visit_at="2026-11-24T09:30"
    )
    await expect(detail.locator(".ticket-facts")).to_contain_text("2026-11-24 09:30")
    await _record(department, "step-resolved", notes="已返工")
    await expect(detail.locator("article")).to_have_attribute("data-status", "resolved")
    await expect(detail.locator("form")).to_have_count(0)  # the call back is customer service's

    # Customer service owes 王建国 a call back: on his timeline, named by the complaint.
    await console.fill("#search-q", "王建国")
    await console.press("#search-q", "Enter")
    await console.locator("#search-results .result").first.click()
    await expect(console.locator('.task[data-stage="complaint"] .task-name')).to_have_text(
        f"投诉回访（投诉#{complaint_id}）"
    )

    # The agent follows the warning to the complaint and calls the customer back: closed.
    await warning.locator("a").click()
    await console.wait_for_url(f"**/complaints?open={complaint_id}")
    panel = console.locator("#complaint-detail")
    await expect(panel.locator(".ticket-facts")).to_contain_text("李工")
    await panel.locator('form[data-action="call-back"] input[name=satisfied][value=true]').check()
    await _record(console, "call-back", notes="客户对返工满意")
    await expect(panel.locator("article")).to_have_attribute("data-status", "closed")
    await expect(panel.locator(".ticket-title")).to_contain_text("已结案")
    events = panel.locator(".ticket-events li")
    await expect(events.first).to_contain_text("受理")
    await expect(events.first).to_contain_text("坐席1001")
    await expect(panel.locator('.ticket-events li[data-kind="alert"]')).to_contain_text(
        "“签收”已超时"
    )
    await expect(events.last).to_contain_text("客户满意")
    await console.screenshot(path=screenshot_path("complaint-closed.png"))

    closed = (await boss.get(f"/api/complaints/{complaint_id}")).json()
    assert closed["status"] == "closed" and closed["callback_satisfied"] is True
    assert [e["kind"] for e in closed["events"]] == [
        "opened",
        "alert",
        "signed",
        "verified",
        "solution",
        "resolved",
        "call_back",
    ]
    assert closed["signed_by"] == "李工"
    await boss.aclose()
    assert desk.errors == [] and chief.errors == [] and works.errors == []


async def test_a_department_reads_callback_records_only_while_the_manager_allows(
    system: LiveSystem, db: Database, browser: Browser
) -> None:
    seeded = await seed_customer(
        db,
        system.services.today(),
        name="李秀英",
        phones=["13900139000"],
        contract_number="XA2026-000034",
    )
    works = await logged_in_tab(browser, system, "engineering", next_path="/complaints?tab=access")
    department = works.page
    form = department.locator("#access-request-form")
    await form.locator("input[name=target_id]").fill(str(seeded.project_id))
    await form.locator("input[name=wanted_until]").fill("2026-11-30T18:00")  # the clock's week
    await form.locator("button[type=submit]").click()
    await expect(form.locator('[data-field="reason"] .field-error')).to_have_text("必填")
    await form.locator("textarea[name=reason]").fill("核对隐蔽工程验收问题")
    await form.locator("button[type=submit]").click()
    await expect(department.locator(".toast")).to_contain_text("等待客服经理批准")
    request = department.locator("#access-rows tr[data-grant-id]")
    await expect(request).to_have_attribute("data-status", "requested")
    grant_id = await request.get_attribute("data-grant-id")
    await expect(request).to_contain_text(f"工程 #{seeded.project_id}")

    chief = await logged_in_tab(browser, system, "supervisor", next_path="/complaints?tab=access")
    supervisor = chief.page
    row = supervisor.locator(f'#access-rows tr[data-grant-id="{grant_id}"]')
    await expect(row).to_contain_text("工程部李工")
    await row.locator("button[data-action=approve]").click()
    decision = supervisor.locator("form[data-decision=approve]")
    await decision.locator("input[name=expires_at]").fill("2026-11-25T18:00")
    await decision.locator("input[name=note]").fill("两天内查完")
    await decision.locator("button[type=submit]").click()
    await expect(row).to_have_attribute("data-status", "approved")
    await expect(row).to_contain_text("2026-11-25 18:00")

    await department.reload()
    await expect(request).to_have_attribute("data-status", "approved")
    await expect(request).to_contain_text("两天内查完")
    await request.locator("button[data-action=read]").click()
    records = department.locator("#access-records")
    await expect(records.locator("h2")).to_have_text("回访记录：合同 XA2026-000034")
    await expect(records.locator(f'tr[data-task-id="{seeded.task_ids["start"]}"]')).to_contain_text(
        "开工回访"
    )

    await row.locator("button[data-action=revoke]").click()
    await supervisor.locator("form[data-decision=revoke] button[type=submit]").click()
    await expect(row).to_have_attribute("data-status", "revoked")
    await department.reload()
    await expect(request).to_have_attribute("data-status", "revoked")
    await expect(request.locator("button")).to_have_count(0)
    # Even from a stale page the server refuses: the records need a grant.
    refused = await department.evaluate(
        f"fetch('/api/granted/projects/{seeded.project_id}/callbacks').then((r) => r.status)"
    )
    assert refused == 403
    assert works.errors == [] and chief.errors == []


async def test_a_repair_reported_from_a_searched_customer_is_followed_to_the_crews_record(
    system: LiveSystem, db: Database, clock: FixedClock, browser: Browser
) -> None:
    await seed_customer(
        db,
        system.services.today(),
        name="张伟",
        phones=["13700137000"],
        contract_number="XA2026-000056",
    )
    desk = await logged_in_tab(browser, system, "agent1")
    console = desk.page
    await console.fill("#search-q", "张伟")
    await console.press("#search-q", "Enter")
    await console.locator("#search-results .result").first.click()
    await expect(console.locator(".customer-name")).to_have_text("张伟")
    await console.click("#report-repair")
    form = console.locator("#repair-form")
    await expect(form.locator(".linked-call")).to_have_count(0)  # no call on the line
    await form.locator("textarea[name=description]").fill("厨房水管接口渗水")
    await form.locator("button[type=submit]").click()
    await expect(console.locator(".toast")).to_contain_text(
        re.compile(r"已报修 #\d+，派给第三施工队")
    )
    listed = console.locator("#customer-tickets li[data-repair-id]")
    await expect(listed).to_contain_text("第三施工队")
    repair_id = await listed.get_attribute("data-repair-id")

    # Eight hours on, the crew has not come: the reporter is warned, supervisors see it.
    clock.advance(hours=8, minutes=10)
    await system.app.state.deadline_alerts.check()
    warning = console.locator(f'.toast-deadline[data-id="{repair_id}"]')
    await expect(warning).to_have_text(
        re.compile(f"报修#{repair_id} 维修队超时未到场 — 张伟 / 第三施工队")
    )

    chief = await logged_in_tab(browser, system, "supervisor", next_path="/complaints?tab=repairs")
    supervisor = chief.page
    await supervisor.click('#repair-filters button[data-filter="overdue"]')
    row = supervisor.locator(f'#repair-rows tr[data-repair-id="{repair_id}"]')
    await expect(row).to_have_attribute("data-late", "true")
    await expect(row.locator(".ticket-clock")).to_contain_text("已超时 10分钟")

    # The crew arrives (late) and finishes; customer service calls during and after.
    await warning.locator("a").click()
    await console.wait_for_url(f"**/complaints?tab=repairs&repair={repair_id}")
    detail = console.locator("#repair-detail")
    await _record(console, "arrived")
    await expect(detail.locator("article")).to_have_attribute("data-status", "on_site")
    await expect(detail.locator(".ticket-title")).to_contain_text("到场超时")
    await _record(console, "call-during", notes="师傅已到，正在更换接口")
    await expect(detail.locator(".ticket-facts")).to_contain_text("修中回访")
    await _record(console, "completed")
    await detail.locator('form[data-action="call-after"] input[value=unsatisfied]').check()
    await _record(console, "call-after", notes="客户嫌维修拖延")
    await expect(detail.locator("article")).to_have_attribute("data-status", "closed")

    await supervisor.reload()
    crew = supervisor.locator('#crew-rows tr[data-crew="第三施工队"]')
    await expect(crew.locator("td")).to_have_text(["1", "1", "0", "0%", "0", "0", "1"])
    assert desk.errors == [] and chief.errors == []


async def test_the_admin_makes_a_department_user_whose_home_is_the_complaints_page(
    system: LiveSystem, db: Database, browser: Browser
) -> None:
    await create_admin(db)
    tab = await logged_in_tab(browser, system, "admin", next_path="/admin")
    page = tab.page
    form = page.locator("#create-user-form")
    await form.locator("input[name=username]").fill("design")
    await form.locator("input[name=display_name]").fill("设计部周工")
    await form.locator("input[name=password]").fill(PASSWORD)
    await expect(form.locator('[data-field="department"]')).to_be_hidden()
    await form.locator("select[name=role]").select_option("department")
    await expect(form.locator('[data-field="extension"]')).to_be_hidden()
    await form.locator("select[name=department]").select_option("设计部")
    await form.locator("button[type=submit]").click()
    await expect(page.locator('#users tr[data-username="design"]')).to_contain_text("部门 · 设计部")

    other = await logged_in_tab(browser, system, "design", next_path="/")
    await expect(other.page).to_have_url(re.compile(r"/complaints$"))
    await expect(other.page.locator(".who-role")).to_have_text("部门")
    assert tab.errors == [] and other.errors == []

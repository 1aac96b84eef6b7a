"""One language at a time (issue 18), in a real browser (Debian's chromium): every page of every
role, on a floor seeded with the demo company, in Chinese shows no Latin-script word and in
English no Chinese character, except data. Data is what the page was given by the API (names,
addresses, notes, transcripts: any value that is not a code), numbers and codes (anything with
a digit: phone numbers, extensions, contract numbers, ids, times), usernames, and text marked
as another language (`lang`, like the language switch's 中文 / English). A code shown as it is
(a queue's `service`, a status `pending`) is not data: it must be translated. Also checked: the
words people read in attributes (placeholder, title, aria-label, alt), the tab's title, and
that no native date or time field is used (Chromium draws those in the browser's own language,
"mm/dd/yyyy" on a Chinese page, whatever the page's `lang`).

Without scripts, the login, no-access and not-found pages read in the reader's language
(`java_script_enabled=False`)."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from playwright.async_api import Browser, Response

from crm.customers.models import Grade
from crm.db import Database
from crm.demo.seed import DEMO_LOGINS, DEMO_PASSWORD, seed
from crm.users.models import Role
from tests.support.browser import CSP_WATCH, VIEWPORT, Tab, chromium, log_in, open_tab
from tests.support.live import AGENTS, PASSWORD, LiveSystem, live_system
from web.page_text import translate
from web.pages import HOME, PAGE_ROLES

pytestmark = [
    pytest.mark.browser,
    pytest.mark.parametrize("database_url", ["sqlite"], indirect=True),
]

ROLES = {  # a user of each role, from the demo company
    Role.AGENT: "agent1",
    Role.SUPERVISOR: "supervisor",
    Role.QA: "qa",
    Role.ADMIN: "admin",
    Role.DEPARTMENT: "engineering",
}
USERNAMES = {username for username, *_ in DEMO_LOGINS}
# The live system made these before the demo seed (which keeps existing users).
PASSWORDS = {**dict.fromkeys([*AGENTS, "supervisor"], PASSWORD)}

LATIN_WORD = re.compile(r"[A-Za-z]+(?:['’][A-Za-z]+)*")
CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
# Numbers and codes: any run of non-space characters holding a digit (138 0013 8000, 1001,
# HT-2026-0012, 10:05, 2026-12-07, #12, 95%), an address on the web or in mail.
WITH_DIGIT = re.compile(r"[^\s，。、；：（）()]*\d[^\s，。、；：（）()]*")
ADDRESS = re.compile(r"\S+@\S+|https?://\S+")
# A value the API gives as a code (queue `service`, status `pending`, rule `greeting`): never
# data, however it reaches the page, so a page showing it as it is fails here.
CODE_LIKE = re.compile(r"^[a-z][a-z0-9_.:-]*$")
ISO_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}")
# Latin words a Chinese page may show: names of file formats and of the protocols people
# configure by them (what is written on the file or the cable), never words of the interface.
# And the customers' grades (A 类客户): the business's own codes, written as letters in Chinese.
ZH_ALLOWED_LATIN = {"PDF", "XLSX", "CSV", "SIP", "PJSIP", "AMI", *(g.value for g in Grade)}
NATIVE_DATE_TIME = ("date", "datetime-local", "time", "month", "week")

VISIBLE_TEXT = """
(lang) => {
  const NATIVE = NATIVE_TYPES;
  const out = [];
  const where = (el) => {
    const parts = [];
    for (let e = el; e && e !== document.body && parts.length < 4; e = e.parentElement) {
      parts.unshift(e.tagName.toLowerCase() + (e.id ? `#${e.id}` : "")
                    + (e.classList.length ? `.${[...e.classList].join(".")}` : ""));
    }
    return parts.join(" > ");
  };
  const shown = (el) => {
    const box = el.closest("option") ? el.closest("select") : el;
    return box.checkVisibility({ visibilityProperty: true });
  };
  // Text marked as another language is not mixed language: it says which it is.
  const otherLanguage = (el) => {
    const marked = el.closest("[lang]");
    return marked && marked !== document.documentElement && marked.lang !== lang;
  };
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const el = node.parentElement;
    const text = node.nodeValue.trim();
    if (!el || !text || el.closest("script, style, template, noscript")) continue;
    if (!shown(el) || otherLanguage(el)) continue;
    out.push({ text, where: where(el) });
  }
  for (const attr of ["placeholder", "title", "aria-label", "alt"]) {
    for (const el of document.body.querySelectorAll(`[${attr}]`)) {
      if (!shown(el) || otherLanguage(el)) continue;
      const text = el.getAttribute(attr).trim();
      if (text) out.push({ text, where: `${where(el)} [${attr}]` });
    }
  }
  out.push({ text: document.title, where: "<title>" });
  const native = [...document.querySelectorAll("input")]
    .filter((el) => NATIVE.includes(el.type)).map((el) => `${where(el)} type=${el.type}`);
  return { texts: out, native };
}
""".replace("NATIVE_TYPES", json.dumps(NATIVE_DATE_TIME))


# Beyond each page's first view: what opens from it (a call's scorecard and transcript, a
# campaign, its form, a complaint, a customer from the worklist), when the role sees one.
DEEPER = {
    "/qa": ["#qa-rows a.qa-open"],
    "/campaigns": ["a.campaign-link", "#campaign-edit"],
    "/complaints": ["a.ticket-open"],
    "/console": ["button.worklist-open"],
}


@dataclass
class Seen:
    """What the API gave the page: the data it may show as it is."""

    data: set[str] = field(default_factory=set)

    def add(self, value: Any, key: str = "") -> None:
        if isinstance(value, dict):
            for k, v in value.items():
                self.add(v, k)
        elif isinstance(value, list):
            for v in value:
                self.add(v, key)
        elif isinstance(value, str):
            text = value.strip()
            if not text or ISO_TIME.match(text):
                return
            if key == "username" or not CODE_LIKE.match(text):
                self.data.add(text)


@dataclass
class Finding:
    path: str
    where: str
    text: str
    words: list[str]

    def __str__(self) -> str:
        return f"{self.path} {self.where}: {self.words} in {self.text!r}"


def strip_data(text: str, data: list[str]) -> str:
    for value in data:  # longest first: a name inside an address goes with the address
        if value in text:
            text = text.replace(value, " ")
    return ADDRESS.sub(" ", WITH_DIGIT.sub(" ", text))


def foreign_words(lang: str, text: str) -> list[str]:
    if lang == "zh-CN":
        return [
            word
            for word in LATIN_WORD.findall(text)
            if word not in ZH_ALLOWED_LATIN and word not in USERNAMES
        ]
    return CJK.findall(text)


@pytest.fixture
async def system(db: Database, tmp_path: Path) -> AsyncIterator[LiveSystem]:
    async with live_system(db, tmp_path) as running:
        today = datetime.now(running.settings.tz).date()
        await seed(db, settings=running.settings, customers=30, today=today)
        yield running


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with chromium() as running:
        yield running


async def _settled(tab: Tab) -> None:
    await tab.page.wait_for_selector("html:not(.i18n-pending)")
    await tab.page.wait_for_load_state("networkidle")
    await tab.page.wait_for_timeout(300)  # the last rendering after the last answer


async def _check_page(tab: Tab, seen: Seen, lang: str, path: str) -> tuple[list[Finding], int]:
    result = await tab.page.evaluate(VISIBLE_TEXT, lang)
    boot = await tab.page.evaluate(
        "() => JSON.parse(document.getElementById('cc-boot')?.textContent || '{}')"
    )
    seen.add(boot)
    for frame in tab.frames:
        seen.add(frame)
    data = sorted(seen.data, key=len, reverse=True)
    findings = [
        Finding(path, native, "", [f"native {native.rsplit('=', 1)[1]} field"])
        for native in result["native"]
    ]
    for item in result["texts"]:
        words = foreign_words(lang, strip_data(item["text"], data))
        if words:
            findings.append(Finding(path, item["where"], item["text"], words))
    return findings, len(result["texts"])


@pytest.mark.parametrize("lang", ["zh-CN", "en"])
async def test_every_page_of_every_role_reads_in_one_language(
    system: LiveSystem, browser: Browser, lang: str
) -> None:
    findings: list[Finding] = []
    checked: dict[str, int] = {}
    opened: list[str] = []
    for role, username in ROLES.items():
        tab = await open_tab(browser, system)
        context = tab.page.context
        await context.add_cookies([{"name": "cc_lang", "value": lang, "url": system.url}])
        seen = Seen()

        async def learn(response: Response, seen: Seen = seen) -> None:
            if "/api/" in response.url and "json" in response.headers.get("content-type", ""):
                with suppress(Exception):  # a body already gone with its page
                    seen.add(await response.json())

        tab.page.on("response", learn)
        password = PASSWORDS.get(username, DEMO_PASSWORD)
        await log_in(tab, username, password, next_path=HOME[role])
        for page, roles in PAGE_ROLES.items():
            if role not in roles:
                continue
            path = f"/{page}"
            await tab.page.goto(path)
            assert urlsplit(tab.page.url).path == path
            await _settled(tab)
            found, count = await _check_page(tab, seen, lang, f"{username} {path}")
            findings += found
            checked[f"{username} {path}"] = count
            for selector in DEEPER.get(path, []):
                opener = tab.page.locator(selector).first
                if not await opener.count():
                    continue
                await opener.click()
                await _settled(tab)
                found, _ = await _check_page(tab, seen, lang, f"{username} {path} {selector}")
                findings += found
                opened.append(f"{username} {path} {selector}")
        assert tab.errors == [], tab.errors
        await context.close()
    assert len(checked) == sum(len(roles) for roles in PAGE_ROLES.values())
    assert all(count > 10 for count in checked.values()), checked
    # The demo floor has scored calls and a campaign (complaints and a worklist, when the
    # day's plan has them).
    assert "qa /qa #qa-rows a.qa-open" in opened, opened
    assert any("a.campaign-link" in o for o in opened), opened
    assert sorted({str(f) for f in findings}) == []


@pytest.mark.parametrize("lang", ["zh-CN", "en"])
async def test_without_scripts_the_first_paint_reads_in_the_readers_language(
    system: LiveSystem, browser: Browser, lang: str
) -> None:
    """The login page, the no-access page and a wrong address, with JavaScript off."""
    # The session is made with scripts on (signing in needs them), then read with them off.
    tab = await open_tab(browser, system)
    await log_in(tab, "agent1", PASSWORDS["agent1"], next_path="/console")
    cookies = await tab.page.context.cookies()
    await tab.page.context.close()
    context = await browser.new_context(
        base_url=system.url,
        viewport=VIEWPORT,
        locale=lang,  # Accept-Language: the reader's browser, no cookie chosen yet
        java_script_enabled=False,
    )
    await context.add_init_script(CSP_WATCH)
    page = await context.new_page()
    other = "en" if lang == "zh-CN" else "zh-CN"

    await page.goto("/login")
    for key in ("login.heading", "login.username", "login.password", "login.submit"):
        assert await page.get_by_text(translate(lang, key), exact=True).first.is_visible(), key
    # (Chromium's switch turns scripts off but still parses <noscript> as if they ran.)
    assert translate(lang, "noscript") in await page.content()
    assert await page.title() == translate(lang, "title.login")
    assert await page.get_by_text(translate(other, "login.heading"), exact=True).count() == 0

    await context.add_cookies(
        [
            {"name": c["name"], "value": c["value"], "url": system.url}
            for c in cookies
            if c["name"] != "cc_lang"
        ]
    )
    response = await page.goto("/admin")
    assert response is not None and response.status == 403
    heading = page.get_by_role("heading", level=1)
    assert await heading.inner_text() == translate(lang, "forbidden.heading")
    assert await page.get_by_text(translate(lang, "forbidden.who_grants")).is_visible()

    response = await page.goto("/no-such-page")
    assert response is not None and response.status == 404
    assert await heading.inner_text() == translate(lang, "error.404.heading")
    assert await page.get_by_role("link", name=translate(lang, "error.home")).is_visible()
    for path in ("/admin", "/no-such-page"):
        await page.goto(path)
        text = await page.locator("body").inner_text()
        shown = text.replace("中文", "").replace("English", "").replace("客", "", 1)
        assert foreign_words(lang, strip_data(shown, ["坐席1001"])) == [], (path, text)
    await context.close()

"""The first paint rendered on the server, in the reader's language (issue 18): the login page
and the error pages carry their words in the HTML itself (no script needed), in the language
of the `cc_lang` cookie, else of the browser's Accept-Language, else Chinese; browsers get an
HTML error page, the API's clients keep their problems."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from html import unescape

import pytest

from crm.clock import FixedClock
from crm.db import Database
from crm.settings import Settings
from tests.support.api import Api, running_app
from web.page_text import translate

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
HTML = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}
CJK = re.compile(r"[\u3400-\u9fff]")


@pytest.fixture
async def api(db: Database, settings: Settings, clock: FixedClock) -> AsyncIterator[Api]:
    async with running_app(settings, db, clock=clock) as running:
        yield running


def visible_text(html: str) -> str:
    """The words a reader sees without scripts, in the page's language: no <script>, <style>
    or tags, nor what is decoration (aria-hidden) or marked as another language (the
    language switch names each language in itself)."""
    body = re.sub(r"<(script|style|head)\b.*?</\1>", " ", html, flags=re.S | re.I)
    body = re.sub(r'<(\w+)\b[^>]*(?:aria-hidden="true"|\slang=")[^>]*>[^<]*</\1>', " ", body)
    return unescape(re.sub(r"<[^>]+>", " ", body))


def html_lang(html: str) -> str:
    found = re.search(r'<html lang="([^"]+)"', html)
    assert found, html[:200]
    return found.group(1)


LOGIN_WORDS = ("app.product", "login.heading", "login.username", "login.password", "login.submit")


@pytest.mark.parametrize(
    ("cookie", "accept_language", "lang"),
    [
        (None, None, "zh-CN"),
        (None, "zh-CN,zh;q=0.9", "zh-CN"),
        (None, "en-US,en;q=0.9", "en"),
        (None, "fr-FR,en-GB;q=0.7,zh;q=0.3", "en"),
        ("zh-CN", "en-US,en;q=0.9", "zh-CN"),  # the reader's own choice wins
        ("en", "zh-CN", "en"),
        ("klingon", "zh-CN", "zh-CN"),
    ],
)
async def test_the_login_page_is_written_in_the_readers_language(
    api: Api, cookie: str | None, accept_language: str | None, lang: str
) -> None:
    client = api.anonymous()
    if cookie:
        client.cookies.set("cc_lang", cookie)
    headers = {**HTML, **({"Accept-Language": accept_language} if accept_language else {})}
    response = await client.get("/login", headers=headers)
    assert response.status_code == 200
    html = response.text
    assert html_lang(html) == lang
    text = visible_text(html)
    for key in LOGIN_WORDS:
        assert translate(lang, key) in text, (lang, key)
    other = "en" if lang == "zh-CN" else "zh-CN"
    assert translate(other, "login.heading") not in text
    assert 'class="i18n-pending"' not in html  # nothing waits for a script to be shown
    assert f'<title data-i18n="title.login">{translate(lang, "title.login")}</title>' in html
    # Without scripts the page says so in the same language, and a submit posts (the password
    # never lands in the address).
    assert translate(lang, "noscript") in html
    assert re.search(r'<form id="login-form" method="post"', html)


async def test_a_signed_in_reader_is_greeted_in_their_language(api: Api) -> None:
    client = await api.login("supervisor")
    response = await client.get("/login", headers={**HTML, "Accept-Language": "en"})
    assert translate("en", "login.signed_in_as", {"name": "SUPERVISOR"}) in response.text


@pytest.mark.parametrize("lang", ["zh-CN", "en"])
async def test_a_wrong_address_shows_a_not_found_page_in_the_readers_language(
    api: Api, lang: str
) -> None:
    client = api.anonymous()
    client.cookies.set("cc_lang", lang)
    response = await client.get("/no-such-page", headers=HTML)
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("text/html")
    html = response.text
    assert html_lang(html) == lang
    text = visible_text(html)
    for key in ("error.404.heading", "error.404.explained", "error.home"):
        assert translate(lang, key) in text, key
    assert translate(lang, "error.status", {"status": 404}) in text
    assert translate(lang, "noscript") not in html  # whole without scripts
    assert "content-security-policy" in response.headers
    if lang == "en":
        assert not CJK.search(text), text
    else:
        assert translate("en", "error.404.heading") not in text


async def test_a_form_posted_without_scripts_reads_as_a_page_not_json(api: Api) -> None:
    response = await api.anonymous().post(
        "/login", data={"username": "a", "password": "secret"}, headers=HTML
    )
    assert response.status_code == 405
    assert translate("zh-CN", "error.405.heading") in visible_text(response.text)
    assert "secret" not in response.text


async def test_the_api_keeps_answering_problems_not_pages(api: Api) -> None:
    client = await api.login("admin")
    for path in ("/api/customers/999999", "/api/no-such-route"):
        response = await client.get(path, headers=HTML)
        assert response.status_code == 404, path
        assert response.json()["detail"][0]["code"] == "not_found", path
    # A script's fetch (no HTML asked for) off the API also gets the problem.
    response = await client.get("/no-such-page", headers={"Accept": "application/json"})
    assert response.json()["detail"][0]["code"] == "not_found"

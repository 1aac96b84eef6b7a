"""The message catalogues (web/static/i18n/<lang>.json; no browser needed): both languages have
the same messages with the same placeholders, the server and the pages load the same files,
every key the pages use exists, and every error code the API can return reads in Chinese."""

from __future__ import annotations

import json
import re
import tomllib
from fnmatch import fnmatch
from pathlib import Path

from crm.campaigns.rules import DialBlockKind
from telephony.call_controls import Refusal
from web.catalogues import CATALOGUES, LANGUAGES, catalogue, negotiate
from web.page_text import translate

ROOT = Path(__file__).resolve().parents[1]
STATIC = ROOT / "web" / "static" / "js"
PLACEHOLDER = re.compile(r"\{(\w+)\}")
# Literal keys in the templates and modules: data-i18n="…", i18n: "…", t("…"), msg("…") …
USED = re.compile(
    r"""(?:data-i18n=|i18n:\s*\[?|setText\([^,]+,\s*|\bt\(|\btx\(|chip\([^,]+,\s*"""
    r"""|msg\(|"aria-label":\s*\[?|title:\s*\[?|placeholder:\s*\[?|label:\s*"""
    r"""|legend:\s*|hint:\s*)["']([a-z_]+\.[A-Za-z_.]+)["']"""
)
CODE = re.compile(r"""code="([a-z_]+)"|Problem\([^,]+,\s*"([a-z_]+)"|"code":\s*"([a-z_]+)\"""")


def test_both_languages_have_the_same_messages() -> None:
    zh, en = catalogue("zh-CN"), catalogue("en")
    assert len(zh) > 300
    assert sorted(set(zh) ^ set(en)) == []
    for key in zh:
        assert set(PLACEHOLDER.findall(zh[key])) == set(PLACEHOLDER.findall(en[key])), key
        assert zh[key].strip() and en[key].strip(), key


def test_the_catalogues_are_plain_json_the_pages_import_and_the_package_ships() -> None:
    """One format for both sides: the files the server reads are the ones i18n.js imports
    as JSON modules, no script catalogue is left, and the wheel carries them."""
    script = (STATIC / "i18n.js").read_text(encoding="utf-8")
    for lang in LANGUAGES:
        path = CATALOGUES / f"{lang}.json"
        assert json.loads(path.read_text(encoding="utf-8")) == catalogue(lang)
        assert f'from "../i18n/{lang}.json" with {{ type: "json" }}' in script
    assert not list(STATIC.rglob("i18n/*.js"))
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    shipped = project["tool"]["setuptools"]["package-data"]["web"]
    for path in CATALOGUES.glob("*.json"):
        inside = path.relative_to(ROOT / "web").as_posix()
        assert any(fnmatch(inside, pattern) for pattern in shipped), inside


def test_the_server_renders_in_the_readers_language() -> None:
    assert translate("en", "forbidden.home") == catalogue("en")["forbidden.home"]
    assert translate("fr", "forbidden.home") == catalogue("zh-CN")["forbidden.home"]
    assert translate("en", "header.extension", {"ext": "1001"}) == "Ext. 1001"
    assert negotiate("en", "zh-CN,zh;q=0.9") == "en"  # the reader's own choice first
    assert negotiate(None, "en-GB,en;q=0.9,zh;q=0.5") == "en"
    assert negotiate(None, "fr-FR,zh-TW;q=0.8,en;q=0.5") == "zh-CN"
    assert negotiate(None, "zh;q=0.2,en;q=0.8") == "en"
    assert negotiate("xx", "de, fr;q=0.5") == "zh-CN"
    assert negotiate(None, "en;q=0, *") == "zh-CN"
    assert negotiate(None, "en;q=bogus") == "zh-CN"
    assert negotiate(None, None) == "zh-CN"


def test_every_key_the_pages_use_exists() -> None:
    zh = catalogue("zh-CN")
    sources = [*STATIC.glob("*.js"), *(ROOT / "web" / "templates").glob("*.html")]
    used = {key for path in sources for key in USED.findall(path.read_text(encoding="utf-8"))}
    assert len(used) > 100
    assert sorted(used - set(zh)) == []


def test_every_api_error_code_reads_in_chinese() -> None:
    zh = catalogue("zh-CN")
    codes: set[str] = set()
    for folder in ("crm", "web", "telephony"):
        for path in (ROOT / folder).rglob("*.py"):
            for match in CODE.findall(path.read_text(encoding="utf-8")):
                codes.update(c for c in match if c)
    # Codes the API takes from enums: why a number may not be called, why a call control
    # was refused.
    codes.update(kind.value for kind in (*DialBlockKind, *Refusal))
    codes -= {"database_not_empty"}  # the seeding command's, never the API's
    assert {"invalid_phone", "satisfaction_required", "do_not_call"} <= codes
    assert sorted(c for c in codes if f"errors.{c}" not in zh) == []


def test_every_error_page_has_its_words() -> None:
    """error.html builds its keys from the status (web/pages.py ERROR_PAGES)."""
    from web.pages import ERROR_PAGES

    for kind in (*map(str, ERROR_PAGES), "other"):
        for part in ("heading", "explained"):
            assert f"error.{kind}.{part}" in catalogue("zh-CN"), (kind, part)

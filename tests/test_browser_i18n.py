"""The pages' message catalogues (no browser needed): both languages have the same messages
with the same placeholders, every key the pages use exists, and every error code the API can
return reads in Chinese."""

from __future__ import annotations

import re
from pathlib import Path

from crm.campaigns.rules import DialBlockKind
from telephony.call_controls import Refusal

ROOT = Path(__file__).resolve().parents[1]
STATIC = ROOT / "web" / "static" / "js"
ENTRY = re.compile(r'^\s*"([^"]+)":\s*"((?:[^"\\]|\\.)*)",?\s*$', re.MULTILINE)
PLACEHOLDER = re.compile(r"\{(\w+)\}")
# Literal keys in the templates and modules: data-i18n="…", i18n: "…", t("…"), msg("…") …
USED = re.compile(
    r"""(?:data-i18n=|i18n:\s*\[?|setText\([^,]+,\s*|\bt\(|\btx\(|chip\([^,]+,\s*"""
    r"""|msg\(|"aria-label":\s*\[?|title:\s*\[?|placeholder:\s*\[?|label:\s*"""
    r"""|legend:\s*|hint:\s*)["']([a-z_]+\.[A-Za-z_.]+)["']"""
)
CODE = re.compile(r"""code="([a-z_]+)"|Problem\([^,]+,\s*"([a-z_]+)"|"code":\s*"([a-z_]+)\"""")


def catalogue(name: str) -> dict[str, str]:
    return dict(ENTRY.findall((STATIC / "i18n" / name).read_text(encoding="utf-8")))


def test_both_languages_have_the_same_messages() -> None:
    zh, en = catalogue("zh-CN.js"), catalogue("en.js")
    assert len(zh) > 300
    # English may leave an error to the API's own English message; nothing else.
    assert {k for k in zh if not k.startswith("errors.")} == {
        k for k in en if not k.startswith("errors.")
    }
    assert set(en) <= set(zh)
    for key in en:
        assert set(PLACEHOLDER.findall(zh[key])) == set(PLACEHOLDER.findall(en[key])), key


def test_every_key_the_pages_use_exists() -> None:
    zh = catalogue("zh-CN.js")
    sources = [*STATIC.glob("*.js"), *(ROOT / "web" / "templates").glob("*.html")]
    used = {key for path in sources for key in USED.findall(path.read_text(encoding="utf-8"))}
    assert len(used) > 100
    assert sorted(used - set(zh)) == []


def test_every_api_error_code_reads_in_chinese() -> None:
    zh = catalogue("zh-CN.js")
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

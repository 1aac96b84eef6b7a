"""The message catalogues, one JSON file per language (web/static/i18n/<lang>.json): the pages'
scripts import them as JSON modules and the server reads them here, so a word is written once
for the page, the server-rendered first paint and the report exports."""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

CATALOGUES = Path(__file__).resolve().parent / "static" / "i18n"
LANGUAGES = ("zh-CN", "en")
DEFAULT = "zh-CN"


@lru_cache(maxsize=len(LANGUAGES))
def catalogue(lang: str) -> dict[str, str]:
    """Every message of a language, by key (read once per process)."""
    if lang not in LANGUAGES:
        raise ValueError(f"no catalogue for language {lang!r}")
    messages = json.loads((CATALOGUES / f"{lang}.json").read_text(encoding="utf-8"))
    if not isinstance(messages, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in messages.items()
    ):
        raise ValueError(f"{lang}.json: a catalogue is one object of key → text")
    return messages


def language(lang: str | None) -> str:
    """A language we have a catalogue for: `lang` itself, else Chinese."""
    return lang if lang in LANGUAGES else DEFAULT


def negotiate(chosen: str | None, accept_language: str | None) -> str:
    """The reader's language: the one they chose on a page (the `cc_lang` cookie), else the
    first of their browser's languages (Accept-Language, by weight) we have, else Chinese."""
    if chosen in LANGUAGES:
        return chosen
    ranked: list[tuple[float, int, str]] = []
    for position, part in enumerate((accept_language or "").split(",")):
        tag, _, params = part.strip().partition(";")
        weight = 1.0
        if params.strip().startswith("q="):
            try:
                weight = float(params.strip()[2:])
            except ValueError:
                continue
        if tag and weight > 0:
            ranked.append((-weight, position, tag.strip().lower()))
    for _, _, tag in sorted(ranked):
        if tag == "*":
            return DEFAULT
        primary = tag.split("-")[0]
        if primary == "zh":
            return "zh-CN"
        if primary == "en":
            return "en"
    return DEFAULT

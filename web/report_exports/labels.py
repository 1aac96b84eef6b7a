"""Report text in the reader's language, from the pages' own message catalogues
(web/catalogues.py): one wording for the page, the XLSX and the PDF."""

from __future__ import annotations

import re
from datetime import date, datetime

from web.catalogues import catalogue, language
from web.report_exports.document import Cell, Kind, Msg, Names

_PLACEHOLDER = re.compile(r"\{(\w+)\}")


class Labels:
    """Translates messages and formats cells the way the page does (i18n.js, reports-view.js)."""

    def __init__(self, lang: str | None) -> None:
        self.lang = language(lang)
        self._own = catalogue(self.lang)
        self._fallback = catalogue("zh-CN")

    def has(self, key: str) -> bool:
        return key in self._own or key in self._fallback

    def t(self, message: Msg | str) -> str:
        if isinstance(message, str):
            return message
        template = self._own.get(message.key) or self._fallback.get(message.key)
        if template is None:
            return message.key.rsplit(".", 1)[-1]

        def fill(match: re.Match[str]) -> str:
            value = message.args.get(match.group(1))
            return "" if value is None else self.t(value) if isinstance(value, Msg) else str(value)

        return _PLACEHOLDER.sub(fill, template)

    def cell(self, value: Cell, kind: Kind = Kind.TEXT) -> str:
        """A cell as text (the PDF); the XLSX keeps numbers and times as values."""
        if value is None:
            return "—" if kind in (Kind.PERCENT, Kind.SECONDS) else ""
        if isinstance(value, list):
            return self.t(Msg("reports.list_separator")).join(self.t(v) for v in value)
        if isinstance(value, Msg):
            return self.t(value)
        if isinstance(value, Names):
            return value.text(self.lang)
        if isinstance(value, datetime):
            return value.strftime("%Y-%m-%d %H:%M")
        if isinstance(value, date):
            return value.isoformat()
        if kind is Kind.PERCENT and isinstance(value, int | float):
            return f"{value * 100:.1f}%"
        if kind is Kind.SECONDS and isinstance(value, int | float):
            return self.t(Msg("reports.seconds", {"n": f"{value:.1f}"}))
        return str(value)

"""The one table model of a report: what the page, the XLSX file and the PDF file all show.

Text is never final here: labels are messages (a catalogue key and its arguments) that each
renderer translates, so the three show the same figures in the reader's language."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from typing import Any, Union


@dataclass(frozen=True, slots=True)
class Msg:
    key: str
    args: Mapping[str, Any] = field(default_factory=dict)

    def json(self) -> dict[str, Any]:
        """The shape the page's i18n.t() takes as a parameter: {"$t": key, "args": {...}}."""
        return {"$t": self.key, "args": {k: to_json(v) for k, v in self.args.items()}}


@dataclass(frozen=True, slots=True)
class Names:
    """A name the configuration gives in each language (a disposition code's), not a
    catalogue message: shown in the reader's language, else in Chinese."""

    by_language: Mapping[str, str]

    def json(self) -> dict[str, Any]:
        """The shape the page's reports-view.js text() reads: {"$names": {lang: name}}."""
        return {"$names": dict(self.by_language)}

    def text(self, lang: str) -> str:
        return self.by_language.get(lang) or self.by_language.get("zh-CN") or ""


Cell = Union[str, int, float, None, Msg, Names, datetime, date, list[Union[str, Msg]]]  # noqa: UP007


class Kind(StrEnum):
    TEXT = "text"
    COUNT = "count"
    PERCENT = "percent"  # a fraction, shown as a percentage; None: nothing to divide by
    SECONDS = "seconds"
    DATETIME = "datetime"  # local, naive
    DATE = "date"


@dataclass(frozen=True, slots=True)
class Column:
    label: Msg
    kind: Kind = Kind.TEXT
    wide: bool = False  # notes and the like: the renderers give it room and wrap it


@dataclass(frozen=True, slots=True)
class Table:
    id: str
    title: Msg
    columns: list[Column]
    rows: list[list[Cell]]
    total: list[Cell] | None = None  # a last row, set apart
    flagged: list[bool] = field(default_factory=list)  # rows to draw attention to
    note: Msg | None = None


@dataclass(frozen=True, slots=True)
class Fact:
    """A headline figure."""

    id: str
    label: Msg
    value: Cell
    kind: Kind = Kind.COUNT


@dataclass(frozen=True, slots=True)
class Series:
    label: Msg
    data: list[float | int | None]
    stack: str | None = None
    color: str | None = None


@dataclass(frozen=True, slots=True)
class Chart:
    id: str
    title: Msg
    type: str  # "bar" or "doughnut"
    labels: list[str | Msg]
    series: list[Series]
    percent: bool = False
    horizontal: bool = False
    threshold: float | None = None  # a line drawn across (the QA points limit)


@dataclass(frozen=True, slots=True)
class Document:
    kind: str
    day: date  # the date that selects the period
    first: date
    last: date
    due: date | None
    as_of: datetime  # local
    title: Msg
    period: Msg
    facts: list[Fact]
    charts: list[Chart]
    tables: list[Table]
    definitions: list[Msg]

    def table(self, table_id: str) -> Table:
        return next(t for t in self.tables if t.id == table_id)


def to_json(value: Any) -> Any:
    if isinstance(value, Msg | Names):
        return value.json()
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return [to_json(v) for v in value]
    if isinstance(value, StrEnum):
        return value.value
    if hasattr(value, "__dataclass_fields__"):
        return {name: to_json(getattr(value, name)) for name in value.__dataclass_fields__}
    if isinstance(value, Mapping):
        return {k: to_json(v) for k, v in value.items()}
    return value


def document_json(document: Document) -> dict[str, Any]:
    return to_json(document)

"""Reading one cell's value: dates, grades, yes/no, statuses and names as offices write them.

Pure functions of the cell; a bad value raises CellError (a ValueError) with the reason shown
to the user and its code.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date, datetime
from typing import Any

from crm.customers.models import Grade
from crm.importer.problems import CellError
from crm.projects.models import ProjectStatus


def cell_text(value: Any) -> str:
    """A cell as text: integral floats lose their `.0` (Excel stores 2026001 as 2026001.0)."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _code(value: Any) -> str:
    """A cell holding a code (grade, status, yes/no): NFKC, no spaces, lower case."""
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", cell_text(value))).casefold()


def name_key(name: str) -> str:
    """Names agree when they differ only in spacing or width ("张 三" = "张三")."""
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", name)).casefold()


_DATE_PATTERNS = (
    re.compile(r"(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})(?:[ T]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?"),
    re.compile(r"(\d{4})年(\d{1,2})月(\d{1,2})[日号]?"),
    re.compile(r"(\d{4})(\d{2})(\d{2})"),
)


def parse_date(value: Any) -> date | None:
    """A date cell or a date written the ways Chinese offices write them; ValueError otherwise."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    text = unicodedata.normalize("NFKC", cell_text(value)).strip()
    for pattern in _DATE_PATTERNS:
        if m := pattern.fullmatch(text):
            try:
                return date(int(m[1]), int(m[2]), int(m[3]))
            except ValueError:
                raise CellError("no_such_day", "no such day in the calendar") from None
    raise CellError(
        "not_a_date",
        "not a date; write 2026-03-01, 2026/3/1, 2026.3.1, 2026年3月1日 or 20260301",
    )


_GRADES = {"a": Grade.A, "b": Grade.B, "c": Grade.C}


def parse_grade(value: Any) -> Grade | None:
    """A, B or C, also "A级", "A类", "a"; None when blank."""
    code = _code(value)
    if not code:
        return None
    grade = _GRADES.get(code.removesuffix("级").removesuffix("类").removesuffix("類"))
    if grade is None:
        raise CellError("bad_grade", "the grade is A, B or C")
    return grade


_TRUE = {"是", "y", "yes", "true", "1", "✓", "✔", "√"}
_FALSE = {"否", "n", "no", "false", "0", "×", "✗", "✘"}


def parse_bool(value: Any) -> bool | None:
    """是/否, Y/N, yes/no, true/false, 1/0, ✓ (and √, ×); None when blank."""
    if isinstance(value, bool):
        return value
    code = _code(value)
    if not code:
        return None
    if code in _TRUE:
        return True
    if code in _FALSE:
        return False
    raise CellError("bad_yes_no", "write 是 or 否 (or Y/N, yes/no, 1/0, ✓)")


_STATUSES = {
    ProjectStatus.SIGNED: ("已签约", "签约", "未开工", "signed"),
    ProjectStatus.IN_PROGRESS: ("施工中", "在建", "在施", "进行中", "in_progress", "inprogress"),
    ProjectStatus.COMPLETED: ("已完工", "完工", "竣工", "已竣工", "completed"),
    ProjectStatus.CANCELLED: ("已取消", "取消", "cancelled", "canceled"),
}
_STATUS_BY_WORD = {_code(w).replace("_", ""): s for s, words in _STATUSES.items() for w in words}


def parse_status(value: Any) -> ProjectStatus | None:
    """The project status in Chinese or English; None when blank (derived from the dates)."""
    code = _code(value).replace("_", "").replace("-", "")
    if not code:
        return None
    status = _STATUS_BY_WORD.get(code)
    if status is None:
        raise CellError(
            "bad_status",
            "the status is 已签约, 施工中, 已完工 or 已取消 "
            "(signed, in_progress, completed, cancelled)",
        )
    return status

"""Bounded request values: the one set of types every route and every request body uses for
ids, dates, times, counts and offsets, so that nothing the database or the calendar cannot
hold gets past the door (422 naming the field, never an OverflowError or a database error).

Ids are PostgreSQL INTEGER columns (the narrower of the two databases): 1 … 2³¹−1. Dates
and times lie between 2000-01-01 and 2100-12-31, wide enough for any call, contract or
report, narrow enough that adding a day, a month or a time zone never leaves the calendar.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import Annotated

from fastapi import Path, Query
from pydantic import AfterValidator, AwareDatetime, Field
from pydantic_core import PydanticCustomError

MAX_ID = 2**31 - 1
MAX_OFFSET = 1_000_000  # rows skipped by a page: far beyond any list, far below overflow
FIRST_DAY = date(2000, 1, 1)
LAST_DAY = date(2100, 12, 31)
_FIRST_MOMENT = datetime.combine(FIRST_DAY, time(), UTC)
_LAST_MOMENT = datetime.combine(LAST_DAY, time.max, UTC)
_RANGE = f"between {FIRST_DAY.isoformat()} and {LAST_DAY.isoformat()}"
ID_RANGE = f"an id from 1 to {MAX_ID}"


def day_in_range(value: date) -> date:
    if not FIRST_DAY <= value <= LAST_DAY:
        raise PydanticCustomError("out_of_range", f"a date {_RANGE}")
    return value


def moment_in_range(value: datetime) -> datetime:
    """An aware time, compared as an instant (comparing never leaves the calendar)."""
    if not _FIRST_MOMENT <= value <= _LAST_MOMENT:
        raise PydanticCustomError("out_of_range", f"a time {_RANGE}")
    return value


# Body fields (pydantic models).
Id = Annotated[int, Field(ge=1, le=MAX_ID, description=ID_RANGE)]
Day = Annotated[date, AfterValidator(day_in_range), Field(description=f"a date {_RANGE}")]
Moment = Annotated[
    AwareDatetime,
    AfterValidator(moment_in_range),
    Field(description=f"a time with its zone, {_RANGE}"),
]

# Path and query parameters.
IdPath = Annotated[int, Path(ge=1, le=MAX_ID, description=ID_RANGE)]
IdQuery = Annotated[int | None, Query(ge=1, le=MAX_ID, description=ID_RANGE)]
DayQuery = Annotated[Day | None, Query(description=f"a date {_RANGE}")]
ReportDay = Annotated[
    Day | None,
    Query(alias="date", description=f"a date {_RANGE}; the last period over when not given"),
]
MomentQuery = Annotated[Moment | None, Query(description=f"a time with its zone, {_RANGE}")]
Offset = Annotated[int, Query(ge=0, le=MAX_OFFSET, description="rows to skip")]

"""Times as the API's answers and the websocket's messages have always written them:
`datetime.isoformat()` (`+00:00`, where pydantic would write `Z`), declared as date-times."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import PlainSerializer, WithJsonSchema


def _iso(value: datetime) -> str:
    return value.isoformat()


# The browser and API clients compare and parse these strings; pydantic's own spelling would
# change every one of them, so the models keep the one the dictionaries they replace had.
IsoMoment = Annotated[
    datetime,
    PlainSerializer(_iso, return_type=str, when_used="json"),
    WithJsonSchema({"type": "string", "format": "date-time"}),
]

"""One call as a JSON document (what `callcentre qa score` reads): facts and words.

{"call": {"kind": "inbound" | "callback", "ring_seconds": 4.2 | null,
          "hung_up_by": "agent" | "customer" | null},
 "words": [{"leg": "agent" | "customer", "word": "您好", "start": 0.5, "end": 0.9}, ...]}
"""

from __future__ import annotations

from typing import Any

from crm.quality.rules import CallKind
from crm.quality.scorecard import ScoredCallFacts, SpokenWord
from crm.transcripts.models import Leg


class CallFileError(ValueError):
    """The document is not a call as described above; the message says where and why."""


def parse_call(document: Any) -> tuple[ScoredCallFacts, list[SpokenWord]]:
    if not isinstance(document, dict):
        raise CallFileError("the document must be an object with 'call' and 'words'")
    call = document.get("call", {})
    if not isinstance(call, dict):
        raise CallFileError("'call' must be an object")
    facts = ScoredCallFacts(
        kind=_choice(call.get("kind", "inbound"), CallKind, "call.kind"),
        ring_seconds=_number(call.get("ring_seconds"), "call.ring_seconds", optional=True),
        hung_up_by=(
            None
            if call.get("hung_up_by") is None
            else _choice(call["hung_up_by"], Leg, "call.hung_up_by")
        ),
    )
    words = document.get("words", [])
    if not isinstance(words, list):
        raise CallFileError("'words' must be a list")
    spoken = []
    for index, item in enumerate(words):
        where = f"words[{index}]"
        if not isinstance(item, dict):
            raise CallFileError(f"{where} must be an object")
        text = item.get("word")
        if not isinstance(text, str):
            raise CallFileError(f"{where}.word must be text")
        start = _number(item.get("start"), f"{where}.start")
        end = _number(item.get("end"), f"{where}.end")
        if start is None or end is None or end < start:
            raise CallFileError(f"{where}: end ({end}) is before start ({start})")
        spoken.append(SpokenWord(_choice(item.get("leg"), Leg, f"{where}.leg"), text, start, end))
    return facts, spoken


def _number(value: Any, where: str, *, optional: bool = False) -> float | None:
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise CallFileError(f"{where} must be a number of seconds (0 or more), not {value!r}")
    return float(value)


def _choice(value: Any, enum: Any, where: str) -> Any:
    try:
        return enum(value)
    except ValueError:
        allowed = ", ".join(member.value for member in enum)
        raise CallFileError(f"{where} must be one of {allowed}, not {value!r}") from None

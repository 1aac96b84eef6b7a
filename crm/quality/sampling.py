"""Which calls QA reviews, picked by rule so that no reviewer hand-picks them. Pure: the
week's calls in, the picks out; no I/O, no clock.

Three rules (settings `CALLCENTRE_QA_SAMPLE_*`, docs/business-rules.md):

- every call linked to a complaint (the call that raised it, or the callback whose
  unsatisfied answer opened it);
- every call whose automatic score is under a percentage of its checked points;
- a share of each agent's answered calls in each ISO week, at random.

The share is drawn by a keyed hash of (week, agent, call): the same calls come out on every
run and on every server, nobody without the key can tell which calls will be drawn, and a
call drawn once stays drawn. While the week runs its share is rounded down (the first call of
a week is not reviewed just for being first); once the week is over, up (an agent with any
calls has at least one reviewed when the share is above 0). The share is drawn among the calls
no other rule picked and is counted apart from them.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from crm.clock import day_start

WEEK = re.compile(r"^(\d{4})-W(\d{2})$")


class SampleReason(StrEnum):
    """Why a call is in the review queue; a call picked by several rules shows the first."""

    COMPLAINT = "complaint"
    LOW_SCORE = "low_score"
    SHARE = "share"


@dataclass(frozen=True, slots=True)
class SamplingRules:
    share: float  # of each agent's answered calls per ISO week, 0 … 1
    below_percent: int  # a score under this % of its checked points is always reviewed; 0: off
    complaint_calls: bool = True  # every call linked to a complaint is reviewed


@dataclass(frozen=True, slots=True)
class CallToSample:
    call_id: int
    agent_id: int
    week: str  # the ISO week it started in, where the centre is: "2026-W49"
    score: int | None  # its automatic score, when it has one
    max_score: int | None
    complaint: bool  # linked to a complaint


@dataclass(frozen=True, slots=True)
class Pick:
    call_id: int
    agent_id: int
    week: str
    reason: SampleReason


def iso_week(day: date) -> str:
    year, week, _ = day.isocalendar()
    return f"{year:04d}-W{week:02d}"


def week_of(moment: datetime, tz: ZoneInfo) -> str:
    """The ISO week a moment falls in, on the centre's calendar."""
    return iso_week(moment.astimezone(tz).date())


def parse_week(week: str) -> date:
    """The Monday of an ISO week written "2026-W49"; ValueError for anything else."""
    match = WEEK.match(week)
    if match is None:
        raise ValueError(f"{week!r} is not an ISO week like 2026-W49")
    year, number = int(match[1]), int(match[2])
    try:
        monday = date.fromisocalendar(year, number, 1)
    except ValueError:
        raise ValueError(f"{year} has no week {number}") from None
    return monday


def week_bounds(week: str, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """From the Monday's midnight to the next Monday's, where the centre is."""
    monday = parse_week(week)
    return day_start(monday, tz), day_start(monday + timedelta(days=7), tz)


def previous_week(week: str) -> str:
    return iso_week(parse_week(week) - timedelta(days=7))


def under_score(call: CallToSample, below_percent: int) -> bool:
    """Its automatic score is under `below_percent` % of the points that could be checked."""
    if call.score is None or not call.max_score or below_percent <= 0:
        return False
    return call.score * 100 < below_percent * call.max_score


def share_rank(key: bytes, week: str, agent_id: int, call_id: int) -> bytes:
    """The call's place in its agent's weekly draw: lowest first."""
    return hmac.new(key, f"{week}:{agent_id}:{call_id}".encode(), hashlib.sha256).digest()


def share_quota(calls: int, share: float, *, week_over: bool) -> int:
    """How many of an agent's `calls` in a week the share asks for."""
    wanted = calls * share
    # The float product of e.g. 10 × 0.3 is 3.0000000000000004: round it before ceil/floor.
    wanted = round(wanted, 9)
    return math.ceil(wanted) if week_over else math.floor(wanted)


def pick_calls(
    calls: Iterable[CallToSample],
    *,
    rules: SamplingRules,
    queued: Mapping[int, SampleReason],
    key: bytes,
    current_week: str,
) -> list[Pick]:
    """The calls to add to the review queue: those the rules pick that are not `queued`
    (call id → the reason it was queued for). Deterministic: the same calls, queue, rules and
    key give the same picks, and picking again after adding them adds nothing. Weeks before
    `current_week` are over."""
    picks: list[Pick] = []
    by_agent_week: dict[tuple[int, str], list[CallToSample]] = defaultdict(list)
    seen: set[int] = set()
    for call in calls:
        if call.call_id in seen:
            continue  # a call listed twice counts once
        seen.add(call.call_id)
        by_agent_week[(call.agent_id, call.week)].append(call)
        if call.call_id in queued:
            continue
        if rules.complaint_calls and call.complaint:
            picks.append(Pick(call.call_id, call.agent_id, call.week, SampleReason.COMPLAINT))
        elif under_score(call, rules.below_percent):
            picks.append(Pick(call.call_id, call.agent_id, call.week, SampleReason.LOW_SCORE))
    picked = {pick.call_id for pick in picks}
    if rules.share > 0:
        for (agent_id, week), group in sorted(by_agent_week.items()):
            quota = share_quota(len(group), rules.share, week_over=week < current_week)
            drawn = sum(1 for c in group if queued.get(c.call_id) is SampleReason.SHARE)
            if drawn >= quota:
                continue
            candidates = sorted(
                (c for c in group if c.call_id not in queued and c.call_id not in picked),
                key=lambda c: share_rank(key, week, agent_id, c.call_id),
            )
            picks.extend(
                Pick(c.call_id, agent_id, week, SampleReason.SHARE)
                for c in candidates[: quota - drawn]
            )
    return picks

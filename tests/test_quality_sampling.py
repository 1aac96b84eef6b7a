"""Picking calls for QA review by rule (crm/quality/sampling.py), pure: a share of each agent's
calls per ISO week, every complaint call, every call under a score; the same picks on every
run, nothing picked twice, the draw keyed so nobody without the key can foresee it."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crm.quality.review_queue import key_of, rules_of
from crm.quality.sampling import (
    CallToSample,
    Pick,
    SampleReason,
    SamplingRules,
    iso_week,
    parse_week,
    pick_calls,
    previous_week,
    share_quota,
    week_bounds,
    week_of,
)
from crm.settings import ConfigurationError, load_settings

KEY = b"k" * 32
RULES = SamplingRules(share=0.2, below_percent=80, complaint_calls=True)
WEEK, NEXT_WEEK = "2026-W49", "2026-W50"
SHANGHAI = ZoneInfo("Asia/Shanghai")


def calls(agent_id: int, n: int, *, first_id: int = 1, week: str = WEEK) -> list[CallToSample]:
    """`n` calls of an agent that no rule but the share picks (scored 14/14, no complaint)."""
    return [
        CallToSample(first_id + i, agent_id, week, score=14, max_score=14, complaint=False)
        for i in range(n)
    ]


def picks(found: list[Pick]) -> dict[int, SampleReason]:
    return {pick.call_id: pick.reason for pick in found}


def test_iso_weeks_on_the_centres_calendar() -> None:
    assert iso_week(date(2026, 12, 7)) == "2026-W50"  # a Monday
    assert iso_week(date(2027, 1, 1)) == "2026-W53"  # 2026 has 53 ISO weeks
    # Sunday 23:30 in Shanghai is Sunday 15:30 UTC: still that week, not the next.
    assert week_of(datetime(2026, 12, 13, 15, 30, tzinfo=UTC), SHANGHAI) == "2026-W50"
    assert week_of(datetime(2026, 12, 13, 16, 30, tzinfo=UTC), SHANGHAI) == "2026-W51"
    start, end = week_bounds("2026-W50", SHANGHAI)
    assert (start.isoformat(), end.isoformat()) == (
        "2026-12-07T00:00:00+08:00",
        "2026-12-14T00:00:00+08:00",
    )
    assert previous_week("2027-W01") == "2026-W53"
    for bad in ("2026-W54", "2025-W53", "2026-49", "W49"):
        with pytest.raises(ValueError):
            parse_week(bad)


@pytest.mark.parametrize(
    ("n", "share", "over", "quota"),
    [
        (10, 0.2, True, 2),
        (11, 0.2, True, 3),  # up once the week is over
        (11, 0.2, False, 2),  # down while it runs
        (1, 0.2, True, 1),  # an agent with a call has one reviewed
        (1, 0.2, False, 0),  # but not the week's first call just for being first
        (10, 0.3, True, 3),  # 10 × 0.3 is 3.0000000000000004 in floats: still 3
        (7, 0.0, True, 0),
        (7, 1.0, False, 7),
    ],
)
def test_share_quota(n: int, share: float, over: bool, quota: int) -> None:
    assert share_quota(n, share, week_over=over) == quota


def test_a_share_of_each_agents_calls_per_week() -> None:
    week = calls(1, 20) + calls(2, 10, first_id=101) + calls(1, 5, first_id=201, week="2026-W48")
    found = pick_calls(week, rules=RULES, queued={}, key=KEY, current_week=NEXT_WEEK)
    assert all(pick.reason is SampleReason.SHARE for pick in found)
    per_agent_week = Counter((pick.agent_id, pick.week) for pick in found)
    assert per_agent_week == {(1, WEEK): 4, (2, WEEK): 2, (1, "2026-W48"): 1}


def test_complaint_calls_and_calls_under_the_score_are_always_picked() -> None:
    week = [
        *calls(1, 10),
        CallToSample(50, 1, WEEK, score=14, max_score=14, complaint=True),
        CallToSample(51, 1, WEEK, score=11, max_score=14, complaint=False),  # 78.6 % < 80 %
        CallToSample(52, 1, WEEK, score=12, max_score=15, complaint=False),  # 80 %: not under
        CallToSample(53, 1, WEEK, score=2, max_score=14, complaint=True),  # complaint first
        CallToSample(54, 1, WEEK, score=None, max_score=None, complaint=False),  # not scored
        CallToSample(55, 1, WEEK, score=0, max_score=0, complaint=False),  # nothing checked
    ]
    found = picks(pick_calls(week, rules=RULES, queued={}, key=KEY, current_week=NEXT_WEEK))
    assert {k: v for k, v in found.items() if v is not SampleReason.SHARE} == {
        50: SampleReason.COMPLAINT,
        51: SampleReason.LOW_SCORE,
        53: SampleReason.COMPLAINT,
    }
    # The share is counted on all 16 calls (ceil 3.2 = 4) and drawn among the others.
    share = [call_id for call_id, reason in found.items() if reason is SampleReason.SHARE]
    assert len(share) == 4 and not set(share) & {50, 51, 53}


def test_each_rule_can_be_switched_off() -> None:
    week = [
        *calls(1, 10),
        CallToSample(50, 1, WEEK, score=14, max_score=14, complaint=True),
        CallToSample(51, 1, WEEK, score=1, max_score=14, complaint=False),
    ]
    off = SamplingRules(share=0, below_percent=0, complaint_calls=False)
    assert pick_calls(week, rules=off, queued={}, key=KEY, current_week=NEXT_WEEK) == []


def test_the_draw_is_the_same_every_time_and_differs_by_key() -> None:
    week = calls(1, 50) + calls(2, 50, first_id=101)
    first = pick_calls(week, rules=RULES, queued={}, key=KEY, current_week=NEXT_WEEK)
    again = pick_calls(
        list(reversed(week)), rules=RULES, queued={}, key=KEY, current_week=NEXT_WEEK
    )
    assert sorted(first, key=lambda p: p.call_id) == sorted(again, key=lambda p: p.call_id)
    other = pick_calls(week, rules=RULES, queued={}, key=b"another", current_week=NEXT_WEEK)
    assert len(other) == len(first) == 20 and picks(other) != picks(first)
    # Neither the lowest ids nor the highest: a draw, not the order calls came in.
    drawn = sorted(p.call_id for p in first if p.agent_id == 1)
    assert drawn != list(range(1, 11)) and drawn != list(range(41, 51))


def test_running_again_adds_nothing_and_a_growing_week_keeps_its_picks() -> None:
    week = calls(1, 12)
    first = pick_calls(week, rules=RULES, queued={}, key=KEY, current_week=WEEK)
    assert len(first) == 2  # floor(2.4) while the week runs
    queued = picks(first)
    assert pick_calls(week, rules=RULES, queued=queued, key=KEY, current_week=WEEK) == []
    more = calls(1, 8, first_id=13)  # the week goes on: 20 calls, 4 for the share
    later = pick_calls(week + more, rules=RULES, queued=queued, key=KEY, current_week=WEEK)
    assert len(later) == 2 and not set(picks(later)) & set(queued)
    queued |= picks(later)
    over = pick_calls(week + more, rules=RULES, queued=queued, key=KEY, current_week=NEXT_WEEK)
    assert over == []  # ceil(4.0) = 4 already drawn


def test_calls_queued_for_another_reason_do_not_count_towards_the_share() -> None:
    week = calls(1, 10)
    queued = {1: SampleReason.COMPLAINT, 2: SampleReason.LOW_SCORE}
    found = pick_calls(week, rules=RULES, queued=queued, key=KEY, current_week=NEXT_WEEK)
    assert len(found) == 2 and not {1, 2} & set(picks(found))


call_strategy = st.builds(
    CallToSample,
    call_id=st.integers(1, 300),
    agent_id=st.integers(1, 4),
    week=st.sampled_from(["2026-W48", WEEK, NEXT_WEEK]),
    score=st.none() | st.integers(0, 16),
    max_score=st.just(14),
    complaint=st.booleans(),
)


@settings(max_examples=200, deadline=None)
@given(
    week=st.lists(call_strategy, max_size=80, unique_by=lambda c: c.call_id),
    share=st.floats(0, 1),
    below=st.integers(0, 100),
    runs=st.integers(1, 4),
)
def test_no_call_is_picked_twice_and_the_rules_always_hold(
    week: list[CallToSample], share: float, below: int, runs: int
) -> None:
    rules = SamplingRules(share=share, below_percent=below, complaint_calls=True)
    queued: dict[int, SampleReason] = {}
    # The week arrives in `runs` parts, the rules running after each (the job's rhythm).
    for part in range(1, runs + 1):
        seen = week[: len(week) * part // runs]
        found = pick_calls(seen, rules=rules, queued=queued, key=KEY, current_week=NEXT_WEEK)
        ids = [pick.call_id for pick in found]
        assert len(ids) == len(set(ids)) and not set(ids) & set(queued)
        queued |= picks(found)
    assert pick_calls(week, rules=rules, queued=queued, key=KEY, current_week=NEXT_WEEK) == []
    for call in week:
        if call.complaint:
            assert queued.get(call.call_id) is SampleReason.COMPLAINT
        elif call.score is not None and call.score * 100 < below * 14:
            assert queued.get(call.call_id) is SampleReason.LOW_SCORE
    for (agent, when), group in _groups(week).items():
        drawn = sum(1 for c in group if queued.get(c.call_id) is SampleReason.SHARE)
        assert drawn == min(
            share_quota(len(group), share, week_over=when < NEXT_WEEK),
            sum(1 for c in group if queued.get(c.call_id) in (None, SampleReason.SHARE)),
        ), (agent, when)


def _groups(week: list[CallToSample]) -> dict[tuple[int, str], list[CallToSample]]:
    groups: dict[tuple[int, str], list[CallToSample]] = {}
    for call in week:
        groups.setdefault((call.agent_id, call.week), []).append(call)
    return groups


@pytest.mark.parametrize(
    ("setting", "value"),
    [("qa_sample_share", 1.5), ("qa_sample_below_percent", 101), ("qa_sample_interval_seconds", 0)],
)
def test_sampling_settings_out_of_range_stop_start_up_naming_the_variable(
    setting: str, value: float
) -> None:
    with pytest.raises(ConfigurationError, match=f"CALLCENTRE_{setting.upper()}"):
        load_settings(**{setting: value})


def test_the_settings_give_the_rules_and_a_key_from_the_secret() -> None:
    settings = load_settings(secret_key="s1")
    assert rules_of(settings) == SamplingRules(share=0.2, below_percent=80, complaint_calls=True)
    assert key_of(settings) == key_of(load_settings(secret_key="s1"))
    assert key_of(settings) != key_of(load_settings(secret_key="s2"))
    assert b"s1" not in key_of(settings)

"""The scoring engine: a call's words and facts in, a QA score out. Pure: no I/O, no clock.

Times are seconds from the start of the recordings (both legs start together). A rule
that cannot be checked on this call is `passed = None` and costs nothing; `max` counts only
the rules that were checked, so a score reads "12 of 14 checked points".

Evidence is data, never prose: a kind and its parameters, which the pages word in the
reader's language. Only evidence of something that happened has a time; a phrase nobody said
has none.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

from crm.quality.matching import Match, SpokenText, TimedWord, find, find_pattern, normalise
from crm.quality.rules import (
    CallKind,
    HangupOrder,
    Interruption,
    LongSilence,
    PhrasesAbsent,
    PhraseSet,
    PhrasesPresent,
    RingTime,
    Rule,
    RuleLeg,
    Scorecard,
    Window,
)
from crm.transcripts.models import Leg

# Customer words closer than this form one stretch of speech the agent may talk over.
_SAME_TURN_GAP = 0.3


@dataclass(frozen=True, slots=True)
class SpokenWord:
    leg: Leg
    word: str
    start: float
    end: float


@dataclass(frozen=True, slots=True)
class ScoredCallFacts:
    """What the PBX events tell about a call being scored (None: not known)."""

    kind: CallKind = CallKind.INBOUND
    ring_seconds: float | None = None
    hung_up_by: Leg | None = None


class EvidenceKind(StrEnum):
    """What a piece of evidence says; its parameters are listed beside each kind."""

    SAID = "said"  # words: what was said (as recognised), at start … end on leg
    NOT_FOUND = "not_found"  # label, set (its key or None), first_seconds / last_seconds: no time
    RING_TIME = "ring_time"  # seconds the phone rang, limit
    HUNG_UP_FIRST = "hung_up_first"  # party: agent | customer
    SILENCE = "silence"  # seconds of silence (start … end) with no hold announcement
    SILENCE_AFTER_HOLD = "silence_after_hold"  # seconds, said: the announcement before it


# The parameters each kind carries (tests/test_quality_evidence.py holds every one to it).
EVIDENCE_PARAMS: dict[EvidenceKind, frozenset[str]] = {
    EvidenceKind.SAID: frozenset({"words"}),
    EvidenceKind.NOT_FOUND: frozenset({"label", "set", "first_seconds", "last_seconds"}),
    EvidenceKind.RING_TIME: frozenset({"seconds", "limit"}),
    EvidenceKind.HUNG_UP_FIRST: frozenset({"party"}),
    EvidenceKind.SILENCE: frozenset({"seconds"}),
    EvidenceKind.SILENCE_AFTER_HOLD: frozenset({"seconds", "said"}),
}
# Kinds that point at a moment of the recording; the others are facts or absences.
TIMED_KINDS = frozenset({EvidenceKind.SAID, EvidenceKind.SILENCE, EvidenceKind.SILENCE_AFTER_HOLD})
# The parameters that quote what was said on the call, which is personal data (a customer's
# erasure removes them); the others are numbers, or come from the scorecard or the PBX.
SPOKEN_PARAMS: dict[EvidenceKind, frozenset[str]] = {
    EvidenceKind.SAID: frozenset({"words"}),
    EvidenceKind.NOT_FOUND: frozenset(),
    EvidenceKind.RING_TIME: frozenset(),
    EvidenceKind.HUNG_UP_FIRST: frozenset(),
    EvidenceKind.SILENCE: frozenset(),
    EvidenceKind.SILENCE_AFTER_HOLD: frozenset({"said"}),
}

Param = str | float | None


@dataclass(frozen=True, slots=True)
class Evidence:
    kind: EvidenceKind
    leg: str | None  # agent | customer | None (both, or a PBX fact)
    start: float | None  # None unless the kind is timed
    end: float | None
    params: Mapping[str, Param] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind.value,
            "leg": self.leg,
            "start": _round(self.start),
            "end": _round(self.end),
            "params": dict(self.params),
        }


@dataclass(frozen=True, slots=True)
class RuleResult:
    id: str
    passed: bool | None
    points_lost: int
    evidence: tuple[Evidence, ...] = ()

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "passed": self.passed,
            "points_lost": self.points_lost,
            "evidence": [item.as_json() for item in self.evidence],
        }


@dataclass(frozen=True, slots=True)
class ScoreResult:
    score: int
    max: int
    rules: tuple[RuleResult, ...]

    @property
    def points_lost(self) -> int:
        return self.max - self.score

    def as_json(self) -> dict[str, Any]:
        return {
            "score": self.score,
            "max": self.max,
            "rules": [rule.as_json() for rule in self.rules],
        }


def score(card: Scorecard, facts: ScoredCallFacts, words: Iterable[SpokenWord]) -> ScoreResult:
    """Check every rule of the scorecard against one call."""
    call = _Conversation(words)
    results = []
    for rule in card.rules:
        if facts.kind not in rule.calls:
            results.append(RuleResult(rule.id, None, 0))
            continue
        passed, evidence = _CHECKS[type(rule)](rule, call, facts)
        lost = rule.points if passed is False else 0
        results.append(RuleResult(rule.id, passed, lost, tuple(evidence)))
    checked = sum(
        rule.points
        for rule, result in zip(card.rules, results, strict=True)
        if result.passed is not None
    )
    lost = sum(result.points_lost for result in results)
    return ScoreResult(score=checked - lost, max=checked, rules=tuple(results))


def without_spoken_words(rules: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Stored rule results (`ScoreResult.as_json()["rules"]`) with every quotation of what was
    said emptied (None): the verdicts, points, evidence kinds and times stay. Text of a kind
    this scorer does not know is emptied too, as it may quote the call."""
    kept = []
    for rule in rules:
        evidence = []
        for item in rule.get("evidence") or []:
            params = item.get("params") or {}
            spoken = SPOKEN_PARAMS.get(item.get("kind"))  # a StrEnum key matches its value
            if spoken is None:
                spoken = frozenset(key for key, value in params.items() if isinstance(value, str))
            emptied = {key: None if key in spoken else value for key, value in params.items()}
            evidence.append({**item, "params": emptied})
        kept.append({**rule, "evidence": evidence})
    return kept


Verdict = tuple[bool | None, list[Evidence]]


class _Conversation:
    """Both legs' words in time order, with the normalised text of any window cached."""

    def __init__(self, words: Iterable[SpokenWord]) -> None:
        self.legs: dict[Leg, list[SpokenWord]] = {leg: [] for leg in Leg}
        for word in words:
            self.legs[word.leg].append(word)
        for leg_words in self.legs.values():
            leg_words.sort(key=lambda w: (w.start, w.end))
        ends = [w.end for leg_words in self.legs.values() for w in leg_words]
        self.end_of_speech = max(ends, default=0.0)
        self._texts: dict[tuple[Leg, float, float], SpokenText] = {}

    def legs_for(self, leg: RuleLeg) -> list[Leg]:
        return list(Leg) if leg is RuleLeg.ANY else [Leg(leg.value)]

    def silent(self, leg: RuleLeg) -> bool:
        """No words at all on the leg(s): nothing to check phrases against."""
        return not any(self.legs[one] for one in self.legs_for(leg))

    def bounds(self, window: Window) -> tuple[float, float]:
        if window.first_seconds is not None:
            return 0.0, window.first_seconds
        if window.last_seconds is not None:
            return max(0.0, self.end_of_speech - window.last_seconds), self.end_of_speech
        return 0.0, self.end_of_speech

    def text(self, leg: Leg, start: float, end: float) -> SpokenText:
        """The leg's words overlapping [start, end]."""
        key = (leg, start, end)
        if key not in self._texts:
            self._texts[key] = SpokenText(
                [w for w in self.legs[leg] if w.start < end and w.end > start]
            )
        return self._texts[key]


def _matches(phrases: PhraseSet, spoken: SpokenText, rule: Any) -> list[Match]:
    found: list[Match] = []
    for phrase in phrases.phrases:
        found.extend(find(phrase, spoken.text, rule.tolerance))
    for pattern in phrases.patterns:
        found.extend(find_pattern(pattern, spoken.text))
    return found


def _said(leg: Leg, words: Sequence[TimedWord]) -> Evidence:
    return Evidence(
        EvidenceKind.SAID,
        leg.value,
        words[0].start,
        words[-1].end,
        {"words": " ".join(w.word for w in words)},
    )


def _evidence(leg: Leg, spoken: SpokenText, match: Match) -> Evidence:
    return _said(leg, spoken.words_of(match))


def _not_found(rule: PhrasesPresent, phrase_set: PhraseSet) -> Evidence:
    """A phrase set nobody said: what was looked for and where, never a time (there is no
    moment to hear)."""
    return Evidence(
        EvidenceKind.NOT_FOUND,
        rule.leg.value if rule.leg is not RuleLeg.ANY else None,
        None,
        None,
        {
            "label": phrase_set.label,
            "set": phrase_set.key,
            "first_seconds": rule.window.first_seconds,
            "last_seconds": rule.window.last_seconds,
        },
    )


def _phrases_present(rule: PhrasesPresent, call: _Conversation, _facts: ScoredCallFacts) -> Verdict:
    if call.silent(rule.leg):
        return None, []
    start, end = call.bounds(rule.window)
    evidence, missing = [], []
    for phrase_set in rule.require:
        hits = [
            (match, leg, spoken)
            for leg in call.legs_for(rule.leg)
            for spoken in [call.text(leg, start, end)]
            for match in _matches(phrase_set, spoken, rule)
        ]
        if hits:
            match, leg, spoken = min(hits, key=lambda h: (h[0].edits, h[2].words_of(h[0])[0].start))
            evidence.append(_evidence(leg, spoken, match))
        else:
            missing.append(_not_found(rule, phrase_set))
    if len(evidence) >= rule.at_least:
        return True, evidence
    return False, evidence + missing


def _phrases_absent(rule: PhrasesAbsent, call: _Conversation, _facts: ScoredCallFacts) -> Verdict:
    if call.silent(rule.leg):
        return None, []
    start, end = call.bounds(rule.window)
    evidence: list[Evidence] = []
    for leg in call.legs_for(rule.leg):
        spoken = call.text(leg, start, end)
        kept: list[Match] = []
        for match in sorted(
            _matches(rule.forbidden, spoken, rule), key=lambda m: (m.start, -(m.end - m.start))
        ):
            if all(match.start >= k.end or match.end <= k.start for k in kept):
                kept.append(match)
        evidence.extend(_evidence(leg, spoken, match) for match in kept)
    evidence.sort(key=lambda e: e.start or 0.0)
    return not evidence, evidence


def _long_silence(rule: LongSilence, call: _Conversation, _facts: ScoredCallFacts) -> Verdict:
    if not all(call.legs.values()):
        return None, []
    spoken = sorted(
        (w for leg_words in call.legs.values() for w in leg_words), key=lambda w: w.start
    )
    evidence, passed = [], True
    talked_until = spoken[0].end
    for word in spoken[1:]:
        if word.start - talked_until > rule.max_seconds:
            gap = word.start - talked_until
            before = call.text(
                Leg.AGENT, talked_until - rule.announce_within_seconds, talked_until + 0.01
            )
            announced = _matches(rule.hold_phrases, before, rule)
            seconds = round(gap, 1)
            if announced:
                said = " ".join(w.word for w in before.words_of(announced[-1]))
                evidence.append(
                    Evidence(
                        EvidenceKind.SILENCE_AFTER_HOLD,
                        None,
                        talked_until,
                        word.start,
                        {"seconds": seconds, "said": said},
                    )
                )
            else:
                passed = False
                evidence.append(
                    Evidence(
                        EvidenceKind.SILENCE, None, talked_until, word.start, {"seconds": seconds}
                    )
                )
        talked_until = max(talked_until, word.end)
    return passed, evidence


def _interruption(rule: Interruption, call: _Conversation, _facts: ScoredCallFacts) -> Verdict:
    if not all(call.legs.values()):
        return None, []
    customer = _stretches(call.legs[Leg.CUSTOMER])
    evidence: list[Evidence] = []
    for agent in _stretches(call.legs[Leg.AGENT]):
        if all(normalise(w.word) in rule.ignore or not normalise(w.word) for w in agent):
            continue  # 嗯, 好的: listening, not interrupting
        start = agent[0].start
        over = next(
            ((s[0].start, s[-1].end) for s in customer if s[0].start < start < s[-1].end), None
        )
        if over is None:
            continue
        overlap_end = min(over[1], agent[-1].end)
        if overlap_end - start >= rule.min_overlap_seconds:
            said = [w for w in agent if w.start < over[1]]
            evidence.append(replace(_said(Leg.AGENT, said), end=overlap_end))
    return len(evidence) <= rule.allowed, evidence


def _stretches(words: Sequence[SpokenWord]) -> list[list[SpokenWord]]:
    """Continuous speech: words closer than a short pause, grouped."""
    stretches: list[list[SpokenWord]] = []
    until = float("-inf")
    for word in words:
        if stretches and word.start - until <= _SAME_TURN_GAP:
            stretches[-1].append(word)
        else:
            stretches.append([word])
        until = max(until, word.end) if len(stretches[-1]) > 1 else word.end
    return stretches


def _ring_time(rule: RingTime, _call: _Conversation, facts: ScoredCallFacts) -> Verdict:
    if facts.ring_seconds is None:
        return None, []
    rang = Evidence(
        EvidenceKind.RING_TIME,
        None,
        None,
        None,
        {"seconds": round(facts.ring_seconds, 1), "limit": rule.max_seconds},
    )
    return facts.ring_seconds <= rule.max_seconds, [rang]


def _hangup_order(rule: HangupOrder, _call: _Conversation, facts: ScoredCallFacts) -> Verdict:
    if facts.hung_up_by is None:
        return None, []
    party = facts.hung_up_by.value
    first = Evidence(EvidenceKind.HUNG_UP_FIRST, party, None, None, {"party": party})
    return party == rule.expected.value, [first]


_CHECKS: dict[type[Rule], Callable[[Any, _Conversation, ScoredCallFacts], Verdict]] = {
    PhrasesPresent: _phrases_present,
    PhrasesAbsent: _phrases_absent,
    LongSilence: _long_silence,
    Interruption: _interruption,
    RingTime: _ring_time,
    HangupOrder: _hangup_order,
}


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 3)

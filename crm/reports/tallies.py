"""Small pure helpers the reports share: rates that know when they have no denominator, and
a customer's overall satisfaction with one callback."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from crm.callbacks.models import Satisfaction


def rate(part: int, whole: int) -> float | None:
    """part / whole, or None when there is nothing to divide by (shown as "—", never 0 %)."""
    return part / whole if whole else None


def overall(answers: Mapping[str, Satisfaction | None]) -> Satisfaction | None:
    """The customer's verdict on a callback: unsatisfied if any area was, else neutral if any
    was, else satisfied; None when no area was answered."""
    given = [s for s in answers.values() if s is not None]
    if not given:
        return None
    for verdict in (Satisfaction.UNSATISFIED, Satisfaction.NEUTRAL):
        if verdict in given:
            return verdict
    return Satisfaction.SATISFIED


@dataclass(slots=True)
class SatisfactionCount:
    """Satisfied / neutral / unsatisfied answers, and the share satisfied."""

    satisfied: int = 0
    neutral: int = 0
    unsatisfied: int = 0

    def add(self, verdict: Satisfaction | None) -> None:
        if verdict is not None:
            setattr(self, verdict.value, getattr(self, verdict.value) + 1)

    @classmethod
    def of(cls, verdicts: Iterable[Satisfaction | None]) -> SatisfactionCount:
        count = cls()
        for verdict in verdicts:
            count.add(verdict)
        return count

    @property
    def answered(self) -> int:
        return self.satisfied + self.neutral + self.unsatisfied

    @property
    def rate(self) -> float | None:
        return rate(self.satisfied, self.answered)

    def as_tuple(self) -> tuple[int, int, int]:
        return (self.satisfied, self.neutral, self.unsatisfied)

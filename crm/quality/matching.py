"""Finding scorecard phrases in ASR output, which splits, mis-hears and drops characters.

Spaces and punctuation (ASCII and full-width) are ignored, so `您 好 这里 是 客服` holds
`您好，这里是客服`. A phrase also matches text a few edits away (insertions, deletions,
substitutions on characters; `max_error_ratio` of the phrase's length, rounded down), and a
character that sounds the same (same pinyin, tones ignored: 再/在) may stand in for another
at no cost when `homophones` is on.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Protocol

# Recogniser tokens that are not speech: [unk], <unk>, [noise].
_NOT_SPEECH = re.compile(r"^[\[<].*[\]>]$")


def normalise(text: str) -> str:
    """Letters and digits only, full-width folded to ASCII, lower case."""
    folded = unicodedata.normalize("NFKC", text).lower()
    return "".join(ch for ch in folded if unicodedata.category(ch)[0] in "LN")


@dataclass(frozen=True, slots=True)
class Tolerance:
    max_error_ratio: float = 0.25
    homophones: bool = True

    def allowed_edits(self, length: int) -> int:
        return math.floor(self.max_error_ratio * length + 1e-9)


@dataclass(frozen=True, slots=True)
class Match:
    start: int  # index of the first matched character in the normalised text
    end: int  # one past the last
    edits: int


class TimedWord(Protocol):
    @property
    def word(self) -> str: ...
    @property
    def start(self) -> float: ...
    @property
    def end(self) -> float: ...


class SpokenText:
    """One leg's words as one normalised string, remembering which word each character is from."""

    def __init__(self, words: Sequence[TimedWord]) -> None:
        self.words = list(words)
        pieces: list[str] = []
        owners: list[int] = []
        for index, word in enumerate(self.words):
            if _NOT_SPEECH.match(word.word.strip()):
                continue
            piece = normalise(word.word)
            pieces.append(piece)
            owners.extend([index] * len(piece))
        self.text = "".join(pieces)
        self._owners = owners

    def words_of(self, match: Match) -> list[TimedWord]:
        """The words a match covers (a match may start or end inside a word)."""
        first, last = self._owners[match.start], self._owners[match.end - 1]
        return self.words[first : last + 1]


@lru_cache(maxsize=8192)
def _readings(ch: str) -> frozenset[str]:
    """Toneless pinyin readings of a Han character; the character itself otherwise."""
    if not ("\u3400" <= ch <= "\u9fff" or "\uf900" <= ch <= "\ufaff"):
        return frozenset({ch})
    from pypinyin import Style, pinyin

    return frozenset(pinyin(ch, style=Style.NORMAL, heteronym=True)[0])


def sounds_alike(a: str, b: str) -> bool:
    return a == b or bool(_readings(a) & _readings(b))


def find(phrase: str, text: str, tolerance: Tolerance) -> list[Match]:
    """Every non-overlapping place `phrase` (already normalised) occurs in `text`, best first
    where two candidates overlap, in text order."""
    if not phrase or not text:
        return []
    allowed = tolerance.allowed_edits(len(phrase))
    if allowed == 0 and not tolerance.homophones:
        return [Match(m.start(), m.end(), 0) for m in re.finditer(re.escape(phrase), text)]
    if len(phrase) - allowed > len(text):
        return []
    return _select(_approximate(phrase, text, allowed, tolerance.homophones))


def find_pattern(pattern: re.Pattern[str], text: str) -> list[Match]:
    """Regular-expression matches on the normalised text (empty matches are ignored)."""
    return [Match(m.start(), m.end(), 0) for m in pattern.finditer(text) if m.end() > m.start()]


def _approximate(phrase: str, text: str, allowed: int, homophones: bool) -> list[Match]:
    """Sellers' algorithm: edit distance of `phrase` to the best substring ending at each
    position (a match may start anywhere), keeping where it started."""
    alike = {
        pc: {tc for tc in set(text) if tc == pc or (homophones and sounds_alike(pc, tc))}
        for pc in set(phrase)
    }
    m = len(phrase)
    previous, previous_start = list(range(m + 1)), [0] * (m + 1)
    found: list[Match] = []
    for j, tc in enumerate(text, start=1):
        current, current_start = [0] * (m + 1), [j] * (m + 1)
        for i in range(1, m + 1):
            best = previous[i - 1] + (0 if tc in alike[phrase[i - 1]] else 1)
            start = previous_start[i - 1]
            if previous[i] + 1 < best:  # an extra character in the text
                best, start = previous[i] + 1, previous_start[i]
            if current[i - 1] + 1 < best:  # a phrase character missing from the text
                best, start = current[i - 1] + 1, current_start[i - 1]
            current[i], current_start[i] = best, start
        if current[m] <= allowed and j > current_start[m]:
            found.append(Match(current_start[m], j, current[m]))
        previous, previous_start = current, current_start
    return found


def _select(candidates: list[Match]) -> list[Match]:
    """The fewest-edits, shortest candidates that do not overlap, in text order."""
    chosen: list[Match] = []
    for candidate in sorted(candidates, key=lambda c: (c.edits, c.end - c.start, c.start)):
        if all(candidate.end <= c.start or candidate.start >= c.end for c in chosen):
            chosen.append(candidate)
    return sorted(chosen, key=lambda c: c.start)

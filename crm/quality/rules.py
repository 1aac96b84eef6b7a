"""The QA scorecard as data: a TOML file read once into typed, validated rules.

A company edits the file (see `default_rules.toml` for the format and every rule kind); a
mistake in it is reported with the file, the rule id and the problem, and never reaches the
scoring engine, which only ever sees the typed objects below.
"""

from __future__ import annotations

import difflib
import hashlib
import re
import tomllib
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any, NoReturn

from crm.quality.matching import Tolerance, normalise

DEFAULT_RULES_PATH = Path(__file__).with_name("default_rules.toml")
_RULE_ID = re.compile(r"^[a-z][a-z0-9_]{0,63}$")


class RulesError(ValueError):
    """A scorecard file that cannot be used; the message names the file, rule and problem."""

    def __init__(self, source: str, problem: str, *, rule_id: str | None = None) -> None:
        where = f"{source}: rule {rule_id!r}" if rule_id else source
        super().__init__(f"{where}: {problem}")
        self.source, self.rule_id, self.problem = source, rule_id, problem


class CallKind(StrEnum):
    INBOUND = "inbound"
    CALLBACK = "callback"


class RuleLeg(StrEnum):
    AGENT = "agent"
    CUSTOMER = "customer"
    ANY = "any"


@dataclass(frozen=True, slots=True)
class Window:
    """The part of the call a phrase rule looks at: the first or last N seconds, or all."""

    first_seconds: float | None = None
    last_seconds: float | None = None


@dataclass(frozen=True, slots=True)
class PhraseSet:
    """Accepted ways of saying one thing: phrases (matched loosely) and regular expressions
    (matched on the text with spaces and punctuation removed)."""

    label: str
    phrases: tuple[str, ...] = ()  # normalised
    patterns: tuple[re.Pattern[str], ...] = ()
    # A stable name within its rule (lower_case), so a page can word the set in its own
    # language; None: the page shows the file's label.
    key: str | None = None


@dataclass(frozen=True, kw_only=True)
class Rule:
    id: str
    title: str
    points: int
    calls: frozenset[CallKind] = frozenset(CallKind)  # kinds of call the rule applies to


@dataclass(frozen=True, kw_only=True)
class PhrasesPresent(Rule):
    """Each (or `at_least` N) of the phrase sets must be said on `leg` within `window`."""

    leg: RuleLeg
    window: Window
    require: tuple[PhraseSet, ...]
    at_least: int
    tolerance: Tolerance


@dataclass(frozen=True, kw_only=True)
class PhrasesAbsent(Rule):
    """None of the phrases may be said on `leg` within `window`."""

    leg: RuleLeg
    window: Window
    forbidden: PhraseSet
    tolerance: Tolerance


@dataclass(frozen=True, kw_only=True)
class LongSilence(Rule):
    """No silence on both legs longer than `max_seconds` unless the agent announced a hold
    (one of `hold_phrases`) in the `announce_within_seconds` before it."""

    max_seconds: float
    hold_phrases: PhraseSet
    announce_within_seconds: float
    tolerance: Tolerance


@dataclass(frozen=True, kw_only=True)
class Interruption(Rule):
    """The agent does not start talking while the customer is speaking (backchannels such as
    嗯/好 in `ignore` excepted) for `min_overlap_seconds` or more, more than `allowed` times."""

    min_overlap_seconds: float
    ignore: frozenset[str]
    allowed: int


@dataclass(frozen=True, kw_only=True)
class RingTime(Rule):
    """Answered within `max_seconds` of ringing (SPEC: 3 rings = 15 s)."""

    max_seconds: float


@dataclass(frozen=True, kw_only=True)
class HangupOrder(Rule):
    """`expected` side hangs up first (SPEC: the agent waits for the customer)."""

    expected: RuleLeg


@dataclass(frozen=True)
class Scorecard:
    version: str
    rules: tuple[Rule, ...]
    source: str = "<memory>"
    digest: str = field(default="", compare=False)  # SHA-256 of the file, first 16 hex digits

    @property
    def max_points(self) -> int:
        return sum(rule.points for rule in self.rules)


def load_rules(path: Path | None = None) -> Scorecard:
    """Read and validate a scorecard file (the shipped default when `path` is None)."""
    path = path or DEFAULT_RULES_PATH
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise RulesError(str(path), f"cannot read the file ({exc.strerror or exc})") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise RulesError(str(path), "not UTF-8 text") from None
    return parse_rules(text, source=str(path))


def parse_rules(text: str, *, source: str = "<memory>") -> Scorecard:
    """Validate scorecard TOML text into typed rules."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise RulesError(source, f"not valid TOML: {exc}") from None
    top = _Table(data, source, None, "the file")
    version = top.text("version", default="unversioned")
    matching = _Table(top.table("matching"), source, None, "[matching]")
    defaults = Tolerance(
        matching.ratio("max_error_ratio", default=0.25),
        matching.boolean("homophones", default=True),
    )
    matching.done()
    entries = top.take("rules", list, required=True)
    top.done()
    if not entries:
        raise RulesError(source, "no [[rules]]")
    rules: list[Rule] = []
    for position, entry in enumerate(entries, start=1):
        if not isinstance(entry, dict):
            raise RulesError(source, f"rules entry {position} is not a table")
        rule = _parse_rule(entry, source, position, defaults)
        if any(existing.id == rule.id for existing in rules):
            raise RulesError(source, "the id is used twice", rule_id=rule.id)
        rules.append(rule)
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]
    return Scorecard(version=version, rules=tuple(rules), source=source, digest=digest)


def _parse_rule(entry: dict[str, Any], source: str, position: int, defaults: Tolerance) -> Rule:
    rule_id = entry.get("id")
    if not isinstance(rule_id, str) or not _RULE_ID.match(rule_id):
        raise RulesError(
            source,
            f"rules entry {position}: 'id' must be lower-case letters, "
            f"digits and _ (got {rule_id!r})",
        )
    table = _Table(entry, source, rule_id, "the rule")
    table.take("id", str)
    kind = table.text("kind")
    parser = _KINDS.get(kind)
    if parser is None:
        table.fail(
            f"unknown kind {kind!r}{_suggest(kind, _KINDS)}; "
            f"known kinds: {', '.join(sorted(_KINDS))}"
        )
    common = {
        "id": rule_id,
        "title": table.text("title", default=rule_id),
        "points": table.integer("points", minimum=0),
        "calls": table.calls(),
    }
    rule = parser(table, common, defaults)
    table.done()
    return rule


def _window(table: _Table) -> Window:
    first = table.seconds("first_seconds", default=None)
    last = table.seconds("last_seconds", default=None)
    if first is not None and last is not None:
        table.fail("give first_seconds or last_seconds, not both")
    return Window(first, last)


def _tolerance(table: _Table, defaults: Tolerance) -> Tolerance:
    return Tolerance(
        table.ratio("max_error_ratio", default=defaults.max_error_ratio),
        table.boolean("homophones", default=defaults.homophones),
    )


def _phrases_present(table: _Table, common: dict[str, Any], defaults: Tolerance) -> Rule:
    require = table.take("require", list)
    if not require:
        table.fail("'require' needs at least one [[rules.require]] table")
    sets = tuple(
        table.phrase_set(item, f"require[{n}]", required=True)
        for n, item in enumerate(require, start=1)
    )
    keys = [s.key for s in sets if s.key is not None]
    if len(keys) != len(set(keys)):
        table.fail("two [[rules.require]] tables have the same key")
    at_least = table.integer("at_least", minimum=1, default=len(sets))
    if at_least > len(sets):
        table.fail(f"at_least is {at_least} but only {len(sets)} phrase sets are required")
    return PhrasesPresent(
        **common,
        leg=table.leg("leg", default=RuleLeg.AGENT),
        window=_window(table),
        require=sets,
        at_least=at_least,
        tolerance=_tolerance(table, defaults),
    )


def _phrases_absent(table: _Table, common: dict[str, Any], defaults: Tolerance) -> Rule:
    forbidden = table.phrase_set(table.data, "the rule", required=True, inline=True)
    return PhrasesAbsent(
        **common,
        leg=table.leg("leg", default=RuleLeg.AGENT),
        window=_window(table),
        forbidden=forbidden,
        tolerance=_tolerance(table, defaults),
    )


def _long_silence(table: _Table, common: dict[str, Any], defaults: Tolerance) -> Rule:
    hold = PhraseSet(label="hold announcement", phrases=table.phrases("hold_phrases"))
    return LongSilence(
        **common,
        max_seconds=table.seconds("max_seconds"),
        hold_phrases=hold,
        announce_within_seconds=table.seconds(
            "announce_within_seconds", default=15.0, allow_zero=True
        ),
        tolerance=_tolerance(table, defaults),
    )


def _interruption(table: _Table, common: dict[str, Any], _defaults: Tolerance) -> Rule:
    ignore = frozenset(normalise(w) for w in table.strings("ignore", default=()))
    return Interruption(
        **common,
        min_overlap_seconds=table.seconds("min_overlap_seconds", default=0.5),
        ignore=ignore - {""},
        allowed=table.integer("allowed", minimum=0, default=0),
    )


def _ring_time(table: _Table, common: dict[str, Any], _defaults: Tolerance) -> Rule:
    return RingTime(**common, max_seconds=table.seconds("max_seconds"))


def _hangup_order(table: _Table, common: dict[str, Any], _defaults: Tolerance) -> Rule:
    expected = table.leg("expected", default=RuleLeg.CUSTOMER)
    if expected is RuleLeg.ANY:
        table.fail("'expected' must be 'agent' or 'customer'")
    return HangupOrder(**common, expected=expected)


_KINDS = {
    "phrases_present": _phrases_present,
    "phrases_absent": _phrases_absent,
    "long_silence": _long_silence,
    "interruption": _interruption,
    "ring_time": _ring_time,
    "hangup_order": _hangup_order,
}


def _suggest(name: str, known: Any) -> str:
    close = difflib.get_close_matches(name, list(known), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


class _Table:
    """Reads one TOML table, turning every problem into a RulesError naming the rule."""

    _MISSING: Any = object()

    def __init__(self, data: dict[str, Any], source: str, rule_id: str | None, where: str) -> None:
        self.data, self.source, self.rule_id, self.where = data, source, rule_id, where
        self.used: set[str] = set()

    def fail(self, problem: str) -> NoReturn:
        raise RulesError(self.source, problem, rule_id=self.rule_id)

    def take(
        self,
        key: str,
        kind: type | tuple[type, ...],
        *,
        required: bool = True,
        default: Any = _MISSING,
    ) -> Any:
        self.used.add(key)
        if key not in self.data:
            if default is not self._MISSING or not required:
                return None if default is self._MISSING else default
            self.fail(f"missing field {key!r}")
        value = self.data[key]
        # bool is an int in Python; a number field must not accept true/false.
        if not isinstance(value, kind) or (isinstance(value, bool) and bool not in _tuple(kind)):
            names = " or ".join(t.__name__ for t in _tuple(kind))
            self.fail(
                f"{key!r} must be {_KIND_NAMES.get(names, names)}, "
                f"not {type(value).__name__} {value!r}"
            )
        return value

    def text(self, key: str, default: Any = _MISSING) -> str:
        value = self.take(key, str, default=default)
        if value is not None and not value.strip():
            self.fail(f"{key!r} is empty")
        return value

    def integer(self, key: str, *, minimum: int, default: Any = _MISSING) -> int:
        value = self.take(key, int, default=default)
        if value < minimum:
            self.fail(f"{key!r} must be at least {minimum}, not {value}")
        return int(value)

    def seconds(self, key: str, *, default: Any = _MISSING, allow_zero: bool = False) -> Any:
        value = self.take(key, (int, float), default=default)
        if value is not None and (value < 0 or (value == 0 and not allow_zero)):
            self.fail(f"{key!r} must be a number of seconds above 0, not {value}")
        return None if value is None else float(value)

    def ratio(self, key: str, *, default: float) -> float:
        value = self.take(key, (int, float), default=default)
        if not 0 <= value < 1:
            self.fail(
                f"{key!r} must be at least 0 and below 1 (a share of the phrase's "
                f"characters), not {value}"
            )
        return float(value)

    def boolean(self, key: str, *, default: bool) -> bool:
        return bool(self.take(key, bool, default=default))

    def strings(self, key: str, default: Any = _MISSING) -> tuple[str, ...]:
        values = self.take(key, list, default=default)
        if values is None:
            return ()
        for value in values:
            if not isinstance(value, str) or not value.strip():
                self.fail(f"{key!r} must be a list of non-empty strings, found {value!r}")
        return tuple(values)

    def leg(self, key: str, *, default: RuleLeg) -> RuleLeg:
        value = self.take(key, str, default=default.value)
        try:
            return RuleLeg(value)
        except ValueError:
            self.fail(f"{key!r} must be one of agent, customer, any; not {value!r}")

    def calls(self) -> frozenset[CallKind]:
        values = self.strings("calls", default=[kind.value for kind in CallKind])
        if not values:
            self.fail("'calls' is empty: the rule would never apply")
        try:
            return frozenset(CallKind(value) for value in values)
        except ValueError:
            self.fail(f"'calls' may hold inbound and callback, not {list(values)}")

    def table(self, key: str) -> dict[str, Any]:
        return self.take(key, dict, default={})

    def phrase_set(
        self, item: Any, where: str, *, required: bool, inline: bool = False
    ) -> PhraseSet:
        """A table with `phrases` and/or `patterns` (in the rule itself when `inline`)."""
        if not isinstance(item, dict):
            self.fail(f"{where} must be a table with phrases and/or patterns")
        inner = self if inline else _Table(item, self.source, self.rule_id, where)
        phrases = inner.phrases("phrases")
        patterns = inner.strings("patterns", default=())
        label = inner.text("label", default=(phrases or patterns or ("?",))[0])
        key = None if inline else inner.take("key", str, required=False)
        if key is not None and not _RULE_ID.match(key):
            self.fail(f"{where}: 'key' must be lower-case letters, digits and _ (got {key!r})")
        if not inline:
            inner.done()
        if required and not (phrases or patterns):
            self.fail(f"{where} has neither phrases nor patterns")
        compiled = []
        for pattern in patterns:
            try:
                compiled.append(re.compile(pattern))
            except re.error as exc:
                self.fail(f"{where}: pattern {pattern!r} is not a regular expression ({exc})")
        return PhraseSet(label=label, phrases=phrases, patterns=tuple(compiled), key=key)

    def phrases(self, key: str) -> tuple[str, ...]:
        """Phrases as they will be matched: spaces and punctuation removed."""
        normalised = []
        for phrase in self.strings(key, default=()):
            if not normalise(phrase):
                self.fail(f"{key!r}: phrase {phrase!r} has no letters or digits")
            normalised.append(normalise(phrase))
        return tuple(normalised)

    def done(self) -> None:
        """Unknown keys are mistakes (a misspelt field would silently fall back to a default)."""
        unknown = sorted(set(self.data) - self.used)
        if unknown:
            key = unknown[0]
            self.fail(f"unknown field {key!r} in {self.where}{_suggest(key, self.used)}")


_KIND_NAMES = {
    "int": "a whole number",
    "int or float": "a number",
    "str": "text",
    "list": "a list",
    "dict": "a table",
    "bool": "true or false",
}


def _tuple(kind: type | tuple[type, ...]) -> tuple[type, ...]:
    return kind if isinstance(kind, tuple) else (kind,)

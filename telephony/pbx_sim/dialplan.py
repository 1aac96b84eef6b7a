"""The simulated PBX's dialplan: contexts of extensions, each a list of applications, as
extensions.conf writes them; Asterisk's extension patterns; `${...}` and `$[...]` expansion.

Pure: no channel, no I/O. `interpreter.py` runs it on channels; `runtime_dialplan.py` builds
it from the shipped asterisk-conf/ and the simulator's own contexts, and `capture_lab.py`
adds the test phones of the PBX that produced the captures.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace


@dataclass(frozen=True)
class Step:
    """One priority: an application and its (unexpanded) argument."""

    app: str
    data: str = ""


def parse_step(text: str) -> Step:
    """`Dial(PJSIP/${EXTEN},30)` → Step("Dial", "PJSIP/${EXTEN},30"); `Answer()` or `Answer`."""
    text = text.strip()
    name, paren, rest = text.partition("(")
    if not paren:
        return Step(name.strip())
    if not rest.endswith(")"):
        raise ValueError(f"unbalanced parentheses in {text!r}")
    return Step(name.strip(), rest[:-1])


@dataclass(frozen=True)
class Context:
    """Extensions (name or `_pattern` → priority → step) and the contexts it includes."""

    extensions: Mapping[str, Mapping[int, Step]]
    includes: tuple[str, ...] = ()


def context(extensions: Mapping[str, Iterable[str]], includes: Iterable[str] = ()) -> Context:
    """A context written like extensions.conf, priorities 1..n:
    `{"s": ["Answer()", "Wait(6)", "Hangup()"]}`."""
    return Context(
        {
            name: {priority: parse_step(step) for priority, step in enumerate(steps, 1)}
            for name, steps in extensions.items()
        },
        tuple(includes),
    )


@dataclass(frozen=True)
class Dialplan:
    """Every context by name, and the [globals] section."""

    contexts: Mapping[str, Context]
    globals: Mapping[str, str] = field(default_factory=dict)

    def find(self, context_name: str, exten: str) -> tuple[str, str] | None:
        """(context, extension name) that handles `exten` in `context_name`, includes searched."""
        seen: set[str] = set()
        pending = [context_name]
        while pending:
            name = pending.pop(0)
            if name in seen or name not in self.contexts:
                continue
            seen.add(name)
            found = best_match(self.contexts[name].extensions, exten)
            if found is not None:
                return name, found
            pending.extend(self.contexts[name].includes)
        return None

    def step(self, context_name: str, extension: str, priority: int) -> Step | None:
        return self.contexts[context_name].extensions.get(extension, {}).get(priority)

    def with_contexts(self, contexts: Mapping[str, Context]) -> Dialplan:
        """This dialplan with some contexts added or replaced (a lab's test phones)."""
        return replace(self, contexts={**self.contexts, **contexts})


# -- extension patterns ----------------------------------------------------------------------

_PATTERN_CLASSES = {"X": "[0-9]", "Z": "[1-9]", "N": "[2-9]"}


def pattern_regex(pattern: str) -> re.Pattern[str]:
    """Asterisk's `_1[3-9]XXXXXXXXX`, `_X.`, `_dialstatus-.` as a regular expression."""
    if not pattern.startswith("_"):
        return re.compile(re.escape(pattern) + r"\Z")
    out, body, i = [], pattern[1:], 0
    while i < len(body):
        char = body[i]
        if char.upper() in _PATTERN_CLASSES:
            out.append(_PATTERN_CLASSES[char.upper()])
        elif char == "[":
            end = body.index("]", i)
            out.append("[" + body[i + 1 : end] + "]")
            i = end
        elif char == ".":
            out.append(".+")
        elif char == "!":
            out.append(".*")
        else:
            out.append(re.escape(char))
        i += 1
    return re.compile("".join(out) + r"\Z")


def _specificity(pattern: str) -> tuple[int, ...]:
    """Smaller is more specific, char by char, as ext_cmp orders patterns."""
    weights = []
    body, i = pattern[1:], 0
    while i < len(body):
        char = body[i]
        if char == "[":
            end = body.index("]", i)
            chars = body[i + 1 : end]
            weights.append(sum(3 if c == "-" else 1 for c in chars))
            i = end
        elif char.upper() == "X":
            weights.append(10)
        elif char.upper() == "Z":
            weights.append(9)
        elif char.upper() == "N":
            weights.append(8)
        elif char in ".!":
            weights.append(1000)
        else:
            weights.append(1)
        i += 1
    return tuple(weights)


def best_match(extensions: Iterable[str], exten: str) -> str | None:
    """The extension Asterisk picks: an exact name, else the most specific matching pattern."""
    names = list(extensions)
    if exten in names:
        return exten
    matching = [n for n in names if n.startswith("_") and pattern_regex(n).match(exten)]
    return min(matching, key=_specificity) if matching else None


# -- ${...} and $[...] -------------------------------------------------------------------------

Resolve = Callable[[str], str]  # a variable or function call (`CALLERID(num)`) → its value


def expand(text: str, resolve: Resolve) -> str:
    """Substitute `${NAME}`, `${FUNC(args)}` and `$[expr]`, innermost first, as pbx.c does."""
    out: list[str] = []
    i = 0
    while i < len(text):
        if text.startswith("${", i) or text.startswith("$[", i):
            close = "}" if text[i + 1] == "{" else "]"
            end = _closing(text, i + 2, text[i + 1], close)
            inner = expand(text[i + 2 : end], resolve)
            out.append(_call(inner, resolve) if close == "}" else _expression(inner))
            i = end + 1
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


def _closing(text: str, start: int, opener: str, closer: str) -> int:
    """Where `${` / `$[` closes: every `{` / `[` inside opens a level, as pbx.c counts."""
    depth = 1
    for index in range(start, len(text)):
        if text[index] == opener:
            depth += 1
        elif text[index] == closer:
            depth -= 1
            if depth == 0:
                return index
    raise ValueError(f"unterminated expression in {text!r}")


def split_args(data: str) -> list[str]:
    """An application's or function's arguments, split at commas outside parentheses."""
    args: list[str] = []
    current: list[str] = []
    depth = 0
    for char in data:
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        if char == "," and depth == 0:
            args.append("".join(current))
            current = []
        else:
            current.append(char)
    args.append("".join(current))
    return args


_SUBSTRING = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*):(-?\d+)(?::(-?\d+))?$")


def _substring(value: str, offset: int, length: int | None) -> str:
    """`${VAR:offset:length}` as pbx_variables.c's substring() cuts (negatives count from
    the end)."""
    start = max(0, len(value) + offset) if offset < 0 else min(offset, len(value))
    if length is None:
        return value[start:]
    end = len(value) + length if length < 0 else start + length
    return value[start : max(start, end)]


def _call(inner: str, resolve: Resolve) -> str:
    """`FILTER(0123456789+,x)`, `IF(1?a:b)` and `STRREPLACE(VAR,find,replace)` are evaluated
    here, and `VAR:offset[:length]` cut; the rest is a lookup."""
    cut = _SUBSTRING.match(inner)
    if cut is not None:
        length = int(cut[3]) if cut[3] is not None else None
        return _substring(resolve(cut[1]), int(cut[2]), length)
    name, paren, rest = inner.partition("(")
    if paren and rest.endswith(")"):
        args = rest[:-1]
        if name == "STRREPLACE":
            variable, _, change = args.partition(",")
            find, _, by = change.partition(",")
            return resolve(variable).replace(find, by) if find else resolve(variable)
        if name == "FILTER":
            allowed, _, value = args.partition(",")
            return "".join(char for char in value if char in allowed)
        if name == "IF":
            condition, _, choices = args.partition("?")
            when_true, _, when_false = choices.partition(":")
            return when_true if _truthy(condition) else when_false
    return resolve(inner)


def _truthy(value: str) -> bool:
    value = value.strip()
    return value not in ("", "0")


_COMPARISON = re.compile(r"^\s*(\"[^\"]*\"|\S*)\s*(!=|=)\s*(\"[^\"]*\"|\S*)\s*$")


def _expression(inner: str) -> str:
    """`$["x" = ""]`: the only operators the project's dialplan uses are = and !=."""
    match = _COMPARISON.match(inner)
    if match is None:
        return inner.strip()
    left, operator, right = (part.strip('"') for part in match.groups())
    equal = left == right
    return "1" if equal == (operator == "=") else "0"

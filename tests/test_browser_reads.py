"""The browser reads only fields the schema names: the screen pop and the call's later messages
(web/static/js/calls.js, console.js), the wallboard (wallboard*.js: its alerts and the
supervisors' actions too), the hello, deadline and QA feedback messages (socket.js,
deadline-toast.js, complaint-labels.js, qa-feedback-toast.js) and the agent's state
(state.js).

A static check, by reading the JavaScript: in each handler listed in READERS, every chain of
property reads on a name that holds a message (`pop.customer.name`, `snapshot.queues`) is
walked through that message's component in the OpenAPI document, and a property the component
does not name fails the test. Names bound inside a handler follow the data: a callback of
`.map/.filter/.find/.some/.every/.forEach/.flatMap` or a `for (const x of …)` over a listed
array gets the array's items, `const x = <chain>` (or `<chain>.find(…)`) what the chain
reads, and in console.js each `case "<type>":` of the switch reads that type's message.

Its limits, honestly: it is regular expressions over the source, not a JavaScript parser;
comments and string literals are blanked first, template literals' `${…}` kept. A name is
only followed where a rule above binds it (a value passed through a helper, or read by
bracket `x[key]`, or from a chain that ends in a call such as `.flatMap(…).find(…)`, is not
checked), and where a union has several object shapes (a report cell) any of them may have
the property. READERS says by hand which parameter of which function holds which message;
each entry must be found, and must lead to reads that were checked, so that a renamed
handler cannot switch the check off unnoticed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.support.ws_schema import openapi_document

JS = Path(__file__).resolve().parent.parent / "web" / "static" / "js"
ANY_MESSAGE = "ServerMessage"  # the property is one of any message type's
BY_TYPE = "by-type"  # a switch on message.type: each case reads that type's message

# file → function → {name in it: what it holds}. "list:X" is an array of X.
READERS: dict[str, dict[str, dict[str, str]]] = {
    "calls.js": {
        "callerDisplay": {"pop": "PopMessage"},
        "lastAttempt": {"customer": "CustomerCard"},
        "pop": {"message": "PopMessage", "call.pop": "PopMessage"},
        "announce": {"call.pop": "PopMessage"},
        "answered": {"message": "AnsweredMessage"},
        "ringStopped": {"message": "RingStoppedMessage"},
        "ended": {"message": "EndedMessage"},
        "refreshCustomer": {"card": "CustomerCard", "call.pop": "PopMessage"},
        "render": {"pop": "PopMessage", "call.pop": "PopMessage"},
        "customerPart": {"pop": "PopMessage", "customer": "CustomerCard"},
        "candidatesPart": {"candidates": "list:CustomerSummary"},
    },
    "console.js": {"handle": {"message": BY_TYPE}, "showState": {"state": "AgentStateOut"}},
    "socket.js": {"receive": {"message": ANY_MESSAGE}, "hello": {"hello": "HelloMessage"}},
    "deadline-toast.js": {"showDeadline": {"message": "DeadlineMessage"}},
    "qa-feedback-toast.js": {"showQaFeedback": {"message": "QaFeedbackMessage"}},
    "complaint-labels.js": {
        "deadlineMessage": {"message": "DeadlineMessage"},
        "deadlineHref": {"message": "DeadlineMessage"},
    },
    "state.js": {"update": {"state": "AgentStateOut"}, "tick": {"state": "AgentStateOut"}},
    "worklist.js": {"remind": {"message": "CallbackReminderMessage"}},
    "wallboard.js": {"show": {"snapshot": "WallboardOut", "shown": "WallboardOut"}},
    "wallboard-render.js": {
        "queueTile": {"q": "WallboardQueue"},
        "renderQueues": {"snapshot": "WallboardOut"},
        "stateChip": {"agent": "WallboardAgent"},
        "sortAgents": {
            "agents": "list:WallboardAgent",
            "a": "WallboardAgent",
            "b": "WallboardAgent",
        },
        "renderAgents": {"snapshot": "WallboardOut", "agents": "list:WallboardAgent"},
        "renderWork": {"snapshot": "WallboardOut"},
        "renderDefinitions": {"snapshot": "WallboardOut"},
        "alertLevels": {"limits": "WallboardThresholds"},
    },
    "wallboard-actions.js": {
        "act": {"agent": "WallboardAgent"},
        "spy": {"agent": "WallboardAgent"},
        "openPause": {"agent": "WallboardAgent"},
        "actions": {"agent": "WallboardAgent"},
        "decorateAgents": {"snapshot": "WallboardOut"},
    },
    "wallboard-alerts.js": {
        "alertParams": {"alert": "WallboardAlert"},
        "colourAlerts": {"snapshot": "WallboardOut"},
        "showWallboardAlerts": {"message": "WallboardAlertMessage"},
    },
    "wallboard-charts.js": {
        "shownHours": {"hours": "list:WallboardHour"},
        "drawHours": {"snapshot": "WallboardOut", "hours": "list:WallboardHour"},
        "drawStates": {"snapshot": "WallboardOut"},
    },
}

IDENT = r"[A-Za-z_$][\w$]*"
CHAIN = rf"{IDENT}(?:\??\.{IDENT})*"
CALLBACK = re.compile(
    rf"(?<![\w$.])(?P<chain>{CHAIN})\??\.(?:map|filter|find|findLast|some|every|forEach|flatMap)"
    rf"\(\s*\(?\s*(?P<name>{IDENT})\s*(?:,\s*{IDENT}\s*)?\)?\s*=>"
)
FOR_OF = re.compile(rf"for\s*\(\s*(?:const|let)\s+(?P<name>{IDENT})\s+of\s+(?P<chain>{CHAIN})\s*\)")
ALIAS = re.compile(
    rf"(?:const|let)\s+(?P<name>{IDENT})\s*=\s*(?P<chain>{CHAIN})"
    rf"(?:(?P<find>\??\.(?:find|findLast)\()|\s*;)"
)
CASE = re.compile(r'case\s+"(?P<type>[a-z_]+)"\s*:')


@dataclass
class Reads:
    """What the check saw: the reads it walked, and those the schema does not name."""

    checked: list[str] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)


def blank(source: str) -> str:
    """The source with comments and string contents blanked (same length, so positions hold);
    a template literal's `${…}` parts are kept, being code."""
    out = list(source)
    i, n = 0, len(source)

    def wipe(start: int, end: int) -> None:
        for k in range(start, end):
            if out[k] != "\n":
                out[k] = " "

    while i < n:
        c = source[i]
        if source.startswith("//", i):
            end = source.find("\n", i)
            end = n if end < 0 else end
            wipe(i, end)
            i = end
        elif source.startswith("/*", i):
            end = source.find("*/", i + 2)
            end = n if end < 0 else end + 2
            wipe(i, end)
            i = end
        elif c in "\"'":
            j = i + 1
            while j < n and source[j] != c:
                j += 2 if source[j] == "\\" else 1
            wipe(i + 1, j)
            i = j + 1
        elif c == "`":
            j = i + 1
            while j < n and source[j] != "`":
                if source[j] == "\\":
                    j += 2
                elif source.startswith("${", j):
                    close = matching(source, j + 1)
                    j = close + 1
                else:
                    out[j] = " " if source[j] != "\n" else "\n"
                    j += 1
            i = j + 1
        else:
            i += 1
    return "".join(out)


def matching(text: str, opening: int) -> int:
    """The index of the bracket closing the one at `opening`."""
    pairs = {"(": ")", "[": "]", "{": "}"}
    stack = [pairs[text[opening]]]
    for i in range(opening + 1, len(text)):
        c = text[i]
        if c in pairs:
            stack.append(pairs[c])
        elif c in ")]}":
            if c != stack.pop():
                raise ValueError(f"unbalanced {c!r} at {i}")
            if not stack:
                return i
    raise ValueError(f"no bracket closes the one at {opening}")


def function_body(code: str, name: str) -> tuple[int, int]:
    """Where the body of the function or method `name` is: (start, end) inside its braces."""
    header = re.compile(
        rf"^[ \t]*(?:export\s+)?(?:async\s+)?(?:function\s+)?{re.escape(name)}\s*\(", re.M
    )
    for found in header.finditer(code):
        opening = found.end() - 1
        after = matching(code, opening) + 1
        rest = code[after:]
        brace = len(rest) - len(rest.lstrip())
        if rest[brace : brace + 1] == "{":
            start = after + brace
            return start + 1, matching(code, start)
    raise AssertionError(f"no function {name}")


class Schemas:
    def __init__(self, document: dict[str, Any]) -> None:
        self.components: dict[str, Any] = document["components"]["schemas"]

    def named(self, name: str) -> dict[str, Any]:
        if name.startswith("list:"):
            return {"type": "array", "items": self.named(name[5:])}
        return {"$ref": f"#/components/schemas/{name}"}

    def shapes(self, schema: dict[str, Any]) -> list[dict[str, Any]]:
        """The schema's object/array/scalar shapes, references followed, null left out."""
        if "$ref" in schema:
            return self.shapes(self.components[schema["$ref"].rsplit("/", 1)[1]])
        variants = schema.get("anyOf") or schema.get("oneOf")
        if variants:
            return [s for v in variants for s in self.shapes(v)]
        if schema.get("type") == "null":
            return []
        return [schema]

    def property(self, schema: dict[str, Any], name: str) -> dict[str, Any] | None:
        """The schema of `x.name` for x of this schema; None: not a field it names. A scalar's
        or an array's own methods and properties (`.length`, `.map`) end the walk: {}."""
        found = []
        for shape in self.shapes(schema):
            if shape.get("type") == "object" or "properties" in shape:
                if name in shape.get("properties", {}):
                    found.append(shape["properties"][name])
                elif isinstance(shape.get("additionalProperties"), dict):
                    found.append(shape["additionalProperties"])
            else:
                return {}  # an array, a string, a number: its own members
        if not found:
            return None
        return found[0] if len(found) == 1 else {"anyOf": found}

    def is_object(self, schema: dict[str, Any]) -> bool:
        shapes = self.shapes(schema)
        return bool(shapes) and all(s.get("type") == "object" or "properties" in s for s in shapes)

    def items(self, schema: dict[str, Any]) -> dict[str, Any] | None:
        for shape in self.shapes(schema):
            if shape.get("type") == "array":
                items: dict[str, Any] = shape["items"]
                return items
        return None


class Reader:
    """Walks the reads of one handler's body through the schemas."""

    def __init__(self, schemas: Schemas, source: str, where: str) -> None:
        self.schemas = schemas
        self.source = source
        self.code = blank(source)  # as long as the source: a position is the same in both
        self.where = where
        self.reads = Reads()

    def resolve(self, env: dict[str, dict[str, Any]], chain: str) -> dict[str, Any] | None:
        """The schema a chain of reads reaches, from a name the environment knows."""
        parts = [p for p in re.split(r"\??\.", chain) if p]
        for size in range(len(parts), 0, -1):
            root = ".".join(parts[:size])
            if root in env:
                schema: dict[str, Any] | None = env[root]
                for part in parts[size:]:
                    assert schema is not None
                    schema = self.schemas.property(schema, part)
                    if not schema:
                        return None
                return schema
        return None

    def walk(self, start: int, end: int, env: dict[str, dict[str, Any]]) -> None:
        """Check the reads in code[start:end] for the names in `env`. Where a binding gives a
        name a value (a callback's item, a loop's, an alias), the code it reaches is walked
        again with the name added, and skipped here: each read is checked once."""
        text = self.code[start:end]
        bound: list[tuple[int, int, str, dict[str, Any]]] = []  # (start, end, name, schema)
        for found in CALLBACK.finditer(text):
            listed = self.resolve(env, found["chain"])
            items = self.schemas.items(listed) if listed else None
            if items is not None:
                opening = text.index("(", found.end("chain"))
                bound.append((found.end(), matching(text, opening), found["name"], items))
        for found in FOR_OF.finditer(text):
            listed = self.resolve(env, found["chain"])
            items = self.schemas.items(listed) if listed else None
            if items is not None:
                rest = text[found.end() :]
                body = found.end() + len(rest) - len(rest.lstrip())
                close = matching(text, body) if text[body] == "{" else text.find(";", body)
                bound.append((found.end(), close, found["name"], items))
        for found in ALIAS.finditer(text):
            reached = self.resolve(env, found["chain"])
            if reached and found["find"]:
                reached = self.schemas.items(reached)
            if reached:
                bound.append((found.end(), len(text), found["name"], reached))
        outermost: list[tuple[int, int, str, dict[str, Any]]] = []
        for binding in sorted(bound, key=lambda b: b[0]):
            if not any(s <= binding[0] < e for s, e, _, _ in outermost):
                outermost.append(binding)  # one starting inside another is that one's
        self.check(text, env, skip=[(s, e) for s, e, _, _ in outermost])
        for inner_start, inner_end, name, schema in outermost:
            self.walk(start + inner_start, start + inner_end, {**env, name: schema})

    def check(self, text: str, env: dict[str, dict[str, Any]], skip: list[tuple[int, int]]) -> None:
        for root, schema in env.items():
            pattern = rf"(?<![\w$.]){re.escape(root)}((?:\??\.{IDENT})+)"
            for found in re.finditer(pattern, text):
                if any(s <= found.start() < e for s, e in skip):
                    continue  # in a binding's reach: walked there
                reached: dict[str, Any] | None = schema
                walked = root
                for part in [p for p in re.split(r"\??\.", found[1]) if p]:
                    assert reached is not None
                    if reached == {} or not self.schemas.is_object(reached):
                        break  # into a string's or an array's own members
                    nxt = self.schemas.property(reached, part)
                    walked += f".{part}"
                    if nxt is None:
                        self.reads.unknown.append(f"{self.where}: {walked}")
                        break
                    self.reads.checked.append(walked)
                    reached = nxt


def read_handler(schemas: Schemas, file: Path, function: str, names: dict[str, str]) -> Reads:
    """The reads of the function's body, its parameters holding what `names` says."""
    source = file.read_text(encoding="utf-8")
    reader = Reader(schemas, source, f"{file.name} {function}")
    start, end = function_body(reader.code, function)
    if BY_TYPE in names.values():
        [name] = [n for n, kind in names.items() if kind == BY_TYPE]
        body = reader.source[start:end]  # the case labels are strings: read them unblanked
        cases = list(CASE.finditer(body))
        assert cases, f"{file} {function}: no case of the message's type"
        for case, following in zip(cases, [*cases[1:], None], strict=True):
            stop = following.start() if following else len(body)
            model = f"{''.join(w.title() for w in case['type'].split('_'))}Message"
            reader.walk(start + case.end(), start + stop, {name: schemas.named(model)})
    else:
        env = {
            n: any_message(schemas) if kind == ANY_MESSAGE else schemas.named(kind)
            for n, kind in names.items()
        }
        reader.walk(start, end, env)
    return reader.reads


def any_message(schemas: Schemas) -> dict[str, Any]:
    """Any message: a property one of them has."""
    union = schemas.components[ANY_MESSAGE]
    return {"anyOf": union["oneOf"]}


@pytest.fixture(scope="module")
def schemas() -> Schemas:
    return Schemas(openapi_document())


@pytest.mark.parametrize(
    ("file", "function"), [(f, fn) for f, functions in READERS.items() for fn in functions]
)
def test_the_browser_reads_only_fields_the_schema_names(
    schemas: Schemas, file: str, function: str
) -> None:
    reads = read_handler(schemas, JS / file, function, READERS[file][function])
    assert reads.unknown == []
    assert reads.checked, f"{file} {function}: no read of a message was found to check"


def test_a_misspelt_field_is_caught(schemas: Schemas, tmp_path: Path) -> None:
    """The check can fail: misspelt fields at the top, deep down, through a callback's item
    and a for-of loop's, in a case of the switch, are each reported; right ones are not."""
    source = """
    function show(snapshot) {
      // snapshot.nothing_here is a comment, not a read
      const q = snapshot.queues.map((q) => q.waitng + q.waiting);
      for (const a of snapshot.agents) { a.extention; a.name.length; }
      const label = "snapshot.in_a_string";
      return `${snapshot.server_tme} ${snapshot.day}`;
    }
    function handle(message) {
      switch (message.type) {
        case "pop":
          message.customer?.phones.find((p) => p.nubmer);
          message.call.linkedid;
          break;
        case "ended":
          message.talk_secs;
          break;
      }
    }
    """
    file = tmp_path / "probe.js"
    file.write_text(source, encoding="utf-8")
    shown = read_handler(schemas, file, "show", {"snapshot": "WallboardOut"})
    handled = read_handler(schemas, file, "handle", {"message": BY_TYPE})
    assert sorted(u.split(": ")[1] for u in shown.unknown) == [
        "a.extention",
        "q.waitng",
        "snapshot.server_tme",
    ]
    assert sorted(u.split(": ")[1] for u in handled.unknown) == ["message.talk_secs", "p.nubmer"]
    assert "q.waiting" in shown.checked and "a.name" in shown.checked
    assert "snapshot.day" in shown.checked and "message.call.linkedid" in handled.checked

"""asterisk-conf/ must provide everything telephony/contract.py and the server rely on.

The .conf files are read with a small parser for Asterisk's config syntax (`[name](tmpl)`,
`[name](!)`, `key = value`, `exten => ...`, `same => ...`, `;` comments), and the AMI event
filters are evaluated the way main/manager.c does (include filters first, then exclude
filters), so a typo that would silently drop an event the server needs fails here.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import pytest

from crm.settings import Settings
from telephony import contract
from telephony.tracker import CallTracker

ROOT = Path(__file__).resolve().parents[1]
CONF_DIR = ROOT / "asterisk-conf"
FIXTURES = ROOT.parent / "shared" / "fixtures" / "ami"
MONITOR_DIR = "/var/spool/asterisk/monitor/"


# The server's built-in defaults: model_construct() skips the environment and .env.
DEFAULTS = Settings.model_construct()


# --------------------------------------------------------------------------------------
# Asterisk config parser
# --------------------------------------------------------------------------------------

_SECTION_RE = re.compile(r"\[([^\]]+)\]\s*(?:\(([^)]*)\))?")
_TRUE = {"yes", "true", "y", "t", "1", "on"}  # ast_true()


@dataclass
class Section:
    name: str
    templates: tuple[str, ...]
    is_template: bool
    lineno: int
    options: list[tuple[str, str]] = field(default_factory=list)


def _strip_comment(line: str) -> str:
    """Drop a `;` comment; `\\;` is a literal semicolon."""
    out = []
    i = 0
    while i < len(line):
        if line[i] == "\\" and line[i + 1 : i + 2] == ";":
            out.append(";")
            i += 2
            continue
        if line[i] == ";":
            break
        out.append(line[i])
        i += 1
    return "".join(out)


@cache
def parse_conf(name: str) -> tuple[Section, ...]:
    sections: list[Section] = []
    in_block_comment = False
    for lineno, raw in enumerate((CONF_DIR / name).read_text().splitlines(), 1):
        line = raw
        if in_block_comment:
            if "--;" not in line:
                continue
            line = line.split("--;", 1)[1]
            in_block_comment = False
        if ";--" in line:
            line, rest = line.split(";--", 1)
            in_block_comment = "--;" not in rest
        line = _strip_comment(line).strip()
        if not line:
            continue
        assert not line.startswith("#"), f"{name}:{lineno}: #include/#exec not expected"
        if line.startswith("["):
            match = _SECTION_RE.fullmatch(line)
            assert match, f"{name}:{lineno}: bad section header {raw!r}"
            opts = [o.strip() for o in (match[2] or "").split(",") if o.strip()]
            sections.append(
                Section(
                    name=match[1].strip(),
                    templates=tuple(o for o in opts if o != "!"),
                    is_template="!" in opts,
                    lineno=lineno,
                )
            )
            continue
        assert sections, f"{name}:{lineno}: option before any [section]"
        assert "=" in line, f"{name}:{lineno}: not 'key = value': {raw!r}"
        key, value = line.split("=", 1)
        value = value.removeprefix(">")  # exten => ..., same => ..., include => ...
        sections[-1].options.append((key.strip(), value.strip()))
    return tuple(sections)


def resolved(conf: str, section: Section) -> list[tuple[str, str]]:
    """A section's options with its templates' options first (Asterisk's inheritance)."""
    options: list[tuple[str, str]] = []
    for template in section.templates:
        parents = [s for s in parse_conf(conf) if s.name == template]
        assert parents, f"{conf}: [{section.name}] uses unknown template ({template})"
        options += resolved(conf, parents[0])
    return options + section.options


def last(options: list[tuple[str, str]], key: str) -> str | None:
    values = [v for k, v in options if k.lower() == key]
    return values[-1] if values else None


def every(options: list[tuple[str, str]], key: str) -> list[str]:
    return [v for k, v in options if k.lower() == key]


def typed(conf: str, type_: str) -> dict[str, list[tuple[str, str]]]:
    """Concrete (non-template) sections of a pjsip-style `type=`, by name, resolved."""
    found = {}
    for section in parse_conf(conf):
        if section.is_template:
            continue
        options = resolved(conf, section)
        if last(options, "type") == type_:
            found[section.name] = options
    return found


def sections(conf: str) -> dict[str, Section]:
    return {s.name: s for s in parse_conf(conf) if not s.is_template}


# --------------------------------------------------------------------------------------
# Dialplan
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Step:
    exten: str
    priority: str
    app: str
    args: str


@dataclass
class Context:
    name: str
    steps: list[Step] = field(default_factory=list)
    includes: list[str] = field(default_factory=list)

    def extens(self) -> list[str]:
        return list(dict.fromkeys(step.exten for step in self.steps))

    def of(self, exten: str) -> list[Step]:
        return [step for step in self.steps if step.exten == exten]


_PRIORITY_RE = re.compile(r"(\d+|n|hint)(?:\([A-Za-z0-9_-]+\))?")
_APP_RE = re.compile(r"([A-Za-z][A-Za-z0-9_]*)(?:\((.*)\))?", re.DOTALL)


@cache
def dialplan() -> dict[str, Context]:
    contexts: dict[str, Context] = {}
    for section in parse_conf("extensions.conf"):
        if section.name in ("general", "globals"):
            continue
        context = contexts.setdefault(section.name, Context(section.name))
        exten = None
        for key, value in section.options:
            if key == "include":
                context.includes.append(value)
                continue
            assert key in ("exten", "same"), f"[{section.name}]: unexpected {key!r}"
            step = value
            if key == "exten":
                exten, step = (part.strip() for part in value.split(",", 1))
            assert exten is not None, f"[{section.name}]: 'same' before any 'exten'"
            priority, app = (part.strip() for part in step.split(",", 1))
            assert _PRIORITY_RE.fullmatch(priority), f"[{section.name}] {exten}: {priority!r}"
            match = _APP_RE.fullmatch(app)
            assert match, f"[{section.name}] {exten}: cannot read application {app!r}"
            context.steps.append(Step(exten, priority, match[1], match[2] or ""))
    return contexts


@cache
def globals_() -> dict[str, str]:
    return dict(sections("extensions.conf")["globals"].options)


def expand(text: str) -> str:
    """Substitute [globals] (other variables stay as ${NAME})."""
    return re.sub(r"\$\{(\w+)\}", lambda m: globals_().get(m[1], m[0]), text)


def split_args(args: str) -> list[str]:
    """Split application arguments at top-level commas (not inside () or ${})."""
    parts: list[str] = []
    current: list[str] = []
    depth = 0
    for char in args:
        if char in "({":
            depth += 1
        elif char in ")}":
            depth -= 1
        if char == "," and depth == 0:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    return parts


def pattern_regex(exten: str) -> re.Pattern[str]:
    """An Asterisk extension (`_1[3-9]XXXXXXXXX`, `_X.`, `s`) as a Python regex."""
    if not exten.startswith("_"):
        return re.compile(re.escape(exten))
    out, i = [], 1
    while i < len(exten):
        char = exten[i]
        if char.upper() == "X":
            out.append("[0-9]")
        elif char.upper() == "Z":
            out.append("[1-9]")
        elif char.upper() == "N":
            out.append("[2-9]")
        elif char == ".":
            out.append(".+")
        elif char == "!":
            out.append(".*")
        elif char == "[":
            end = exten.index("]", i)
            out.append("[" + exten[i + 1 : end] + "]")
            i = end
        else:
            out.append(re.escape(char))
        i += 1
    return re.compile("".join(out))


def reachable(context: str, number: str) -> bool:
    """Does `number` match an extension of the context or of a context it includes?"""
    ctx = dialplan()[context]
    if any(pattern_regex(e).fullmatch(number) for e in ctx.extens()):
        return True
    return any(reachable(inc, number) for inc in ctx.includes)


def sets(context: str) -> dict[str, list[str]]:
    """Variables Set anywhere in a context (leading _ of inheritance stripped)."""
    found: dict[str, list[str]] = {}
    for step in dialplan()[context].steps:
        if step.app.lower() == "set":
            name, value = step.args.split("=", 1)
            found.setdefault(name.lstrip("_"), []).append(value)
    return found


def mixmonitor_options(args: str) -> dict[str, str]:
    """MixMonitor's option string `br(x)t(y)` as {"b": "", "r": "x", "t": "y"}."""
    options, text, i = {}, [*split_args(args), "", ""][1], 0
    while i < len(text):
        letter = text[i]
        i += 1
        value = ""
        if i < len(text) and text[i] == "(":
            depth, start = 0, i
            while True:
                depth += {"(": 1, ")": -1}.get(text[i], 0)
                if depth == 0:
                    break
                i += 1
            value = text[start + 1 : i]
            i += 1
        options[letter] = value
    return options


MONITORED_SIDE = {  # context -> whose channel MixMonitor runs on
    contract.CONTEXT_INBOUND: "customer",
    contract.CONTEXT_CALLBACK_QUEUE: "customer",
    contract.CONTEXT_CALLBACK: "agent",
    contract.CONTEXT_OUTBOUND: "agent",
}
CHINESE_NUMBERS = [
    "13800138000",  # mobile
    "19912345678",  # mobile, 199 range
    "02988886666",  # Xi'an landline, 3-digit area code
    "01012345678",  # Beijing
    "075512345678",  # Shenzhen, 4-digit area code + 8 digits
    "05711234567",  # 4-digit area code + 7 digits
    "4008001234",  # 400 service number
    "8008101234",  # 800
]
NOT_DIALABLE = [  # international (00 / +) would be toll fraud; short numbers are not customers
    "0012125550", "00121255512", "001212555123", "0085212345678", "+8613800138000",
    "110", "12345", "1001", "10086",
]  # fmt: skip


def contract_values(prefix: str) -> dict[str, str]:
    return {k: v for k, v in vars(contract).items() if k.startswith(prefix)}


# --------------------------------------------------------------------------------------
# Dialplan tests
# --------------------------------------------------------------------------------------


def test_parser_reads_templates_and_dialplan_lines() -> None:
    agent = next(s for s in parse_conf("pjsip.conf") if s.name == "agent-endpoint")
    assert agent.is_template and agent.templates == ()
    endpoint = typed("pjsip.conf", "endpoint")["1001"]
    assert last(endpoint, "context") == "from-agents"  # inherited from (agent-endpoint)
    steps = dialplan()[contract.CONTEXT_INBOUND].of("inbound")
    assert steps[0].priority == "1" and all(s.priority == "n" for s in steps[1:])
    assert split_args("a,b(c,d),${E,F}") == ["a", "b(c,d)", "${E,F}"]
    assert mixmonitor_options("x.wav,br(${A})t(${B})") == {"b": "", "r": "${A}", "t": "${B}"}
    assert _strip_comment(r"a = b\;c ; comment") == "a = b;c "
    assert pattern_regex("_1[3-9]XXXXXXXXX").fullmatch("13800138000")
    assert not pattern_regex("_1[3-9]XXXXXXXXX").fullmatch("12800138000")


@pytest.mark.parametrize("name", sorted(contract_values("CONTEXT_").values()))
def test_every_contract_context_exists(name: str) -> None:
    assert name in dialplan(), f"extensions.conf has no [{name}] context"
    assert dialplan()[name].steps, f"[{name}] has no extensions"


@pytest.mark.parametrize("context", sorted(MONITORED_SIDE))
def test_contexts_set_the_tracked_variables(context: str) -> None:
    wanted = set(contract.TRACKED_VARIABLES) - contract.PBX_SET_VARIABLES
    if context == contract.CONTEXT_INBOUND:
        wanted.discard(contract.VAR_ATTEMPT_ID)  # an inbound call has no callback attempt
    missing = wanted - set(sets(context))
    assert not missing, f"[{context}] never Sets {sorted(missing)}"
    assert contract.VAR_MIXMONITOR_FILENAME not in sets(context), "Asterisk sets it"


def test_selftest_context_records_into_the_monitor_dir_and_is_not_reachable() -> None:
    selftest = dialplan()[contract.CONTEXT_SELFTEST]
    token = "17954381241234"  # what `callcentre pbx check` dials: digits
    assert reachable(contract.CONTEXT_SELFTEST, token) and reachable(
        contract.CONTEXT_SELFTEST, "wait"
    )
    (record,) = [s for s in selftest.steps if s.app == "MixMonitor"]
    assert record.args == "${CC_MONITOR_DIR}/cc-selftest-${FILTER(0123456789,${EXTEN})}.wav"
    assert [s.app for s in selftest.of("wait")] == ["Wait", "Hangup"]
    for context in dialplan().values():
        assert contract.CONTEXT_SELFTEST not in context.includes, f"[{context.name}] includes it"
    for name, options in typed("pjsip.conf", "endpoint").items():
        assert last(options, "context") != contract.CONTEXT_SELFTEST, name


# --------------------------------------------------------------------------------------
# The console's call controls (telephony/call_controls.py)
# --------------------------------------------------------------------------------------

CONTROL_CONTEXTS = (
    contract.CONTEXT_HOLD,
    contract.CONTEXT_ROOM,
    contract.CONTEXT_ROOM_CUSTOMER,
    contract.CONTEXT_TRANSFER,
)
LINKEDIDS = ("1795438127.0", "1700000000.12")  # a room is named after the call's Linkedid


@pytest.mark.parametrize("context", CONTROL_CONTEXTS)
def test_call_control_contexts_only_the_server_reaches(context: str) -> None:
    for other in dialplan().values():
        assert context not in other.includes, f"[{other.name}] includes [{context}]"
    for name, options in typed("pjsip.conf", "endpoint").items():
        assert last(options, "context") != context, name


@pytest.mark.parametrize("context", [contract.CONTEXT_HOLD, contract.CONTEXT_ROOM,
                                     contract.CONTEXT_ROOM_CUSTOMER])  # fmt: skip
def test_rooms_are_named_after_the_call(context: str) -> None:
    for linkedid in LINKEDIDS:
        assert reachable(context, linkedid), (context, linkedid)


def test_hold_plays_music_for_a_while_and_frees_the_room_when_the_customer_leaves() -> None:
    hold = dialplan()[contract.CONTEXT_HOLD]
    [exten] = [e for e in hold.extens() if e != "h"]
    assert [(s.app, s.args) for s in hold.of(exten)] == [
        ("Set", "CC_ROOM=${EXTEN}"),
        ("MusicOnHold", "${CC_MOH_CLASS},${CC_HOLD_MAX}"),
        ("Hangup", ""),
    ]
    assert globals_()["CC_MOH_CLASS"] == "default"
    assert 60 <= int(globals_()["CC_HOLD_MAX"]) <= 3600
    assert [(s.app, s.args) for s in hold.of("h")] == [("ConfKick", "${CC_ROOM},all")]


def test_rooms_use_the_profiles_in_confbridge_conf() -> None:
    profiles = {s.name: dict(s.options) for s in sections("confbridge.conf").values()}
    assert profiles["cc_room"]["type"] == "bridge"
    assert profiles["cc_menu"]["type"] == "menu"
    agent, customer = profiles["cc_agent"], profiles["cc_customer"]
    assert agent["type"] == customer["type"] == "user"
    # The agent's side is marked; the customer leaves with its last member.
    assert agent["marked"] in _TRUE and customer["end_marked"] in _TRUE
    for profile in (agent, customer):
        assert profile["quiet"] in _TRUE and profile["announce_only_user"] not in _TRUE
        assert profile["music_on_hold_when_empty"] not in _TRUE
    for context, user in (
        (contract.CONTEXT_ROOM, "cc_agent"),
        (contract.CONTEXT_ROOM_CUSTOMER, "cc_customer"),
    ):
        [bridge] = [s for s in dialplan()[context].steps if s.app == "ConfBridge"]
        assert split_args(bridge.args) == ["${EXTEN}", "cc_room", user, "cc_menu"]
    customer_room = dialplan()[contract.CONTEXT_ROOM_CUSTOMER]
    assert [(s.app, s.args) for s in customer_room.of("h")] == [("ConfKick", "${CC_ROOM},all")]
    assert "h" not in dialplan()[contract.CONTEXT_ROOM].extens()  # agents leave quietly


@pytest.mark.parametrize("extension", ["1001", "101", "100234"])
def test_transfers_reach_agents(extension: str) -> None:
    transfer = dialplan()[contract.CONTEXT_TRANSFER]
    [exten] = [e for e in transfer.extens() if pattern_regex(e).fullmatch(extension)]
    assert [(s.app, s.args) for s in transfer.of(exten)] == [
        ("Dial", "PJSIP/${EXTEN},${CC_DIAL_TIMEOUT}"),
        ("Hangup", ""),
    ]


def test_transfers_reach_the_servers_queues() -> None:
    transfer = dialplan()[contract.CONTEXT_TRANSFER]
    for queue in (DEFAULTS.queue, DEFAULTS.callback_queue):
        exten = contract.TRANSFER_QUEUE_PREFIX + queue
        [pattern] = [e for e in transfer.extens() if pattern_regex(e).fullmatch(exten)]
        [step, _] = transfer.of(pattern)
        assert step.app == "Queue"
        cut = re.fullmatch(r"\$\{EXTEN:(\d+)\}", split_args(step.args)[0])
        assert cut is not None, step.args
        offset = int(cut[1])
        assert exten[offset:] == queue and queue in sections("queues.conf")


@pytest.mark.parametrize("number", CHINESE_NUMBERS)
def test_transfers_reach_outside_numbers_without_recording_again(number: str) -> None:
    transfer = dialplan()[contract.CONTEXT_TRANSFER]
    [exten] = [e for e in transfer.extens() if pattern_regex(e).fullmatch(number)]
    [dial, _] = transfer.of(exten)
    assert dial.app == "Dial" and split_args(dial.args)[0].startswith("${STRREPLACE(CC_TRUNK,")
    # The call's recording goes on where it started: no second MixMonitor.
    assert not [s for s in transfer.steps if s.app == "MixMonitor"]


@pytest.mark.parametrize("event", ["MusicOnHoldStart", "MusicOnHoldStop"])
def test_hold_music_events_reach_the_server(event: str) -> None:
    assert event in CallTracker().handled_events
    assert delivered(event, synthetic(event, Class="default"))


def test_call_type_values() -> None:
    assert sets(contract.CONTEXT_INBOUND)[contract.VAR_CALL_TYPE] == [contract.CallType.INBOUND]
    for context in (contract.CONTEXT_CALLBACK, contract.CONTEXT_CALLBACK_QUEUE):
        assert sets(context)[contract.VAR_CALL_TYPE] == [contract.CallType.CALLBACK]
    (outbound,) = sets(contract.CONTEXT_OUTBOUND)[contract.VAR_CALL_TYPE]
    assert contract.CallType.CALLBACK in outbound


def test_customer_number_comes_from_callerid_on_inbound() -> None:
    (value,) = sets(contract.CONTEXT_INBOUND)[contract.VAR_CUSTOMER_NUMBER]
    assert "${CALLERID(num)}" in value


@pytest.mark.parametrize("context", sorted(MONITORED_SIDE))
def test_mixmonitor_records_each_leg(context: str) -> None:
    steps = dialplan()[context].steps
    monitors = [s for s in steps if s.app.lower() == "mixmonitor"]
    assert len(monitors) == 1, f"[{context}] should start exactly one MixMonitor"
    (monitor,) = monitors
    options = mixmonitor_options(monitor.args)
    own, other = (
        (contract.VAR_REC_CUSTOMER, contract.VAR_REC_AGENT)
        if MONITORED_SIDE[context] == "customer"
        else (contract.VAR_REC_AGENT, contract.VAR_REC_CUSTOMER)
    )
    # r() = what the channel MixMonitor runs on receives (its own party's voice),
    # t() = what is transmitted to it (the other party's voice).
    assert options.get("r") == f"${{{own}}}", f"[{context}] r() must record {own}"
    assert options.get("t") == f"${{{other}}}", f"[{context}] t() must record {other}"
    assert "b" in options, f"[{context}] MixMonitor should only record while bridged (b)"
    assert "CALLERID" not in monitor.args, "never pass caller ID to MixMonitor"

    # The leg variables are Set before MixMonitor, in the same extension.
    body = dialplan()[context].of(monitor.exten)
    before = body[: body.index(monitor)]
    set_before = {s.args.split("=", 1)[0] for s in before if s.app.lower() == "set"}
    assert {own, other} <= set_before, f"[{context}] set CC_REC_* before MixMonitor"

    mixed = expand(split_args(monitor.args)[0])
    legs = [expand(v) for var in (own, other) for v in sets(context)[var]]
    for path in [mixed, *legs]:
        assert path.startswith(MONITOR_DIR), f"[{context}] {path} is not in {MONITOR_DIR}"
        assert "${UNIQUEID}" in path, f"[{context}] {path} is not unique per call"
    assert len({mixed, *legs}) == 3, f"[{context}] mixed and leg files must differ"


def test_monitor_dir_global_is_the_spool() -> None:
    assert globals_()["CC_MONITOR_DIR"].rstrip("/") + "/" == MONITOR_DIR


def queue_steps(context: str) -> list[Step]:
    return [s for s in dialplan()[context].steps if s.app.lower() == "queue"]


def test_inbound_joins_the_servers_queue_and_has_a_fallback() -> None:
    (queue,) = queue_steps(contract.CONTEXT_INBOUND)
    args = [expand(a) for a in split_args(queue.args)]
    assert args[0] == DEFAULTS.queue
    assert len(args) >= 5 and args[4].isdigit(), "Queue() needs a timeout to fall back"
    body = dialplan()[contract.CONTEXT_INBOUND].of(queue.exten)
    after = [s.app.lower() for s in body[body.index(queue) + 1 :]]
    assert after and after[-1] in ("hangup", "voicemail"), "no fallback after Queue()"


def test_callback_queue_uses_the_callbacks_queue() -> None:
    (queue,) = queue_steps(contract.CONTEXT_CALLBACK_QUEUE)
    assert expand(split_args(queue.args)[0]) == "callbacks"
    assert reachable(contract.CONTEXT_CALLBACK_QUEUE, "s"), "Originate uses Exten=s"


def test_every_queue_in_the_dialplan_exists() -> None:
    queues = sections("queues.conf")
    for context in dialplan().values():
        for step in context.steps:
            if step.app.lower() == "queue":
                name = expand(split_args(step.args)[0])
                if context.name == contract.CONTEXT_TRANSFER and name == "${EXTEN:2}":
                    continue  # q-<queue>: the server names a queue it knows (its settings)
                assert name in queues, f"[{context.name}] Queue({name}) is not in queues.conf"


def strreplace(text: str, variables: dict[str, str]) -> str:
    """Asterisk's `${STRREPLACE(VAR,find,replace)}` (func_strings) and `${VAR}`, as pbx.c
    substitutes them: the innermost ${...} first; braces without `$` are literal text."""
    while (start := text.rfind("${")) >= 0:
        depth, end = 0, start + 1
        while True:  # pbx_variables.c counts { and } to find the end
            depth += {"{": 1, "}": -1}.get(text[end], 0)
            if depth == 0:
                break
            end += 1
        inner = text[start + 2 : end]
        if inner.startswith("STRREPLACE(") and inner.endswith(")"):
            name, find, replace = inner[len("STRREPLACE(") : -1].split(",")
            value = variables[name].replace(find, replace)
        else:
            value = variables[inner]
        text = text[:start] + value + text[end + 1 :]
    return text


def trunk_endpoint() -> str:
    tech, _, resource = globals_()["CC_TRUNK"].partition("/")
    assert tech == "PJSIP", "the shipped trunk is pjsip.conf's"
    return resource.partition("@")[2]


def test_cc_trunk_is_a_dial_string_template() -> None:
    assert contract.TRUNK_NUMBER_PLACEHOLDER in globals_()[contract.GLOBAL_TRUNK]
    assert trunk_endpoint() in typed("pjsip.conf", "endpoint")
    # Braces are literal in Asterisk's substitution unless `${`: the placeholder survives.
    assert strreplace("${CC_TRUNK}", globals_()) == globals_()[contract.GLOBAL_TRUNK]


@pytest.mark.parametrize("context", [contract.CONTEXT_CALLBACK, contract.CONTEXT_OUTBOUND])
def test_agent_first_contexts_dial_the_customer_through_the_trunk(context: str) -> None:
    (dial,) = [s for s in dialplan()[context].steps if s.app.lower() == "dial"]
    target, timeout = (expand(a) for a in split_args(dial.args)[:2])
    number = "13911150015"
    dialled = strreplace(target, {**globals_(), contract.VAR_CUSTOMER_NUMBER: number})
    assert dialled == f"PJSIP/{number}@{trunk_endpoint()}"
    for template, expected in (
        ("IAX2/provider/{number}", f"IAX2/provider/{number}"),
        ("DAHDI/g0/{number}", f"DAHDI/g0/{number}"),
        ("Local/{number}@from-internal", f"Local/{number}@from-internal"),
    ):
        site = {**globals_(), contract.GLOBAL_TRUNK: template, contract.VAR_CUSTOMER_NUMBER: number}
        assert strreplace(target, site) == expected
    assert timeout == "30"
    body = dialplan()[context].of(dial.exten)
    follow = body[body.index(dial) + 1]
    assert follow.app == "Goto" and "${DIALSTATUS}" in follow.args
    prefix = follow.args.split("${DIALSTATUS}")[0]
    for status, cause in {"BUSY": "17", "NOANSWER": "19", "CONGESTION": "34"}.items():
        (step,) = dialplan()[context].of(prefix + status)
        assert (step.app, step.args) == ("Hangup", cause), f"[{context}] {status}"


@pytest.mark.parametrize("context", [contract.CONTEXT_CALLBACK, contract.CONTEXT_OUTBOUND])
@pytest.mark.parametrize("number", CHINESE_NUMBERS)
def test_chinese_numbers_are_dialable(context: str, number: str) -> None:
    assert reachable(context, number), f"[{context}] does not accept {number}"


@pytest.mark.parametrize("context", [contract.CONTEXT_CALLBACK, contract.CONTEXT_OUTBOUND])
@pytest.mark.parametrize("number", NOT_DIALABLE)
def test_international_and_short_numbers_are_not_dialable(context: str, number: str) -> None:
    assert not reachable(context, number), f"[{context}] should refuse {number}"


@pytest.mark.parametrize("did", ["4008001234", "+862988886666", "s"])
def test_inbound_accepts_any_did(did: str) -> None:
    assert reachable(contract.CONTEXT_INBOUND, did)


def test_agents_context_rings_the_agents_interface() -> None:
    pattern = re.compile(DEFAULTS.agent_extension_pattern)
    for n in range(1, 12):
        ext = "1234567890123"[:n]
        assert reachable(contract.CONTEXT_AGENTS, ext) == bool(pattern.search(ext)), ext
    interface = DEFAULTS.agent_interface_template.format(extension="${EXTEN}")
    dials = [s for s in dialplan()[contract.CONTEXT_AGENTS].steps if s.app == "Dial"]
    assert dials and all(split_args(s.args)[0] == interface for s in dials)


# --------------------------------------------------------------------------------------
# pjsip.conf
# --------------------------------------------------------------------------------------


def test_agent_endpoints_match_the_servers_settings() -> None:
    endpoints = typed("pjsip.conf", "endpoint")
    auths, aors = typed("pjsip.conf", "auth"), typed("pjsip.conf", "aor")
    pattern = re.compile(DEFAULTS.agent_extension_pattern)
    agents = {n for n, o in endpoints.items() if last(o, "context") == "from-agents"}
    assert {"1001", "1002"} <= agents
    for name in agents:
        assert pattern.search(name), f"agent endpoint {name} fails agent_extension_pattern"
        options = endpoints[name]
        assert last(options, "auth") in auths and last(options, "aors") in aors
    assert DEFAULTS.agent_interface_template.startswith("PJSIP/")


def test_endpoints_keep_media_on_the_pbx_and_use_existing_contexts() -> None:
    for name, options in typed("pjsip.conf", "endpoint").items():
        assert last(options, "direct_media") == "no", f"{name}: MixMonitor needs the media"
        assert last(options, "context") in dialplan(), f"{name}: unknown context"


def test_no_dial_uses_cc_trunk_as_an_endpoint_name() -> None:
    for context in dialplan().values():
        for step in context.steps:
            assert "${CC_TRUNK}" not in step.args, f"[{context.name}] {step}: use STRREPLACE"


def test_trunk_enters_the_inbound_context() -> None:
    trunk = trunk_endpoint()
    endpoint = typed("pjsip.conf", "endpoint")[trunk]
    assert last(endpoint, "context") == contract.CONTEXT_INBOUND
    assert last(typed("pjsip.conf", "identify")[trunk], "endpoint") == trunk
    assert last(typed("pjsip.conf", "registration")[trunk], "endpoint") == trunk


def test_pjsip_passwords_are_placeholders() -> None:
    for name, options in typed("pjsip.conf", "auth").items():
        assert "CHANGE_ME" in (last(options, "password") or ""), f"{name}: real password?"


# --------------------------------------------------------------------------------------
# queues.conf
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", [DEFAULTS.queue, "callbacks"])
def test_queue_settings(name: str) -> None:
    queues = sections("queues.conf")
    assert name in queues, f"queues.conf has no [{name}]"
    options = resolved("queues.conf", queues[name])
    for flag in ("eventwhencalled", "eventmemberstatus", "setinterfacevar"):
        assert (last(options, flag) or "").lower() in _TRUE, f"[{name}] {flag} must be on"
    assert last(options, "strategy") in ("ringall", "rrmemory")
    answer_within = DEFAULTS.answer_within_seconds
    assert last(options, "servicelevel") == str(answer_within)
    assert 0 < int(last(options, "timeout") or 0) <= answer_within
    assert last(options, "wrapuptime") == str(DEFAULTS.wrapup_seconds)
    assert (last(options, "ringinuse") or "").lower() not in _TRUE
    assert not every(options, "member"), f"[{name}]: members are added by the server"


# --------------------------------------------------------------------------------------
# manager.conf
# --------------------------------------------------------------------------------------


def manager_user() -> list[tuple[str, str]]:
    users = sections("manager.conf")
    user = DEFAULTS.ami_user
    assert user in users, f"manager.conf has no [{user}] user"
    assert set(users) == {"general", user}, "unexpected extra AMI users"
    return users[user].options


def classes(value: str | None) -> set[str]:
    return {c.strip() for c in (value or "").split(",") if c.strip()}


def test_manager_user_has_exactly_the_contract_classes() -> None:
    options = manager_user()
    assert classes(last(options, "read")) == set(contract.AMI_READ_CLASSES)
    assert classes(last(options, "write")) == set(contract.AMI_WRITE_CLASSES)


def test_manager_secret_is_a_placeholder() -> None:
    secret = last(manager_user(), "secret")
    assert secret and "CHANGE_ME" in secret


def test_manager_listens_privately_and_restricts_clients() -> None:
    general = dict(sections("manager.conf")["general"].options)
    assert general["enabled"].lower() in _TRUE
    assert general.get("webenabled", "no").lower() not in _TRUE
    assert int(general["port"]) == DEFAULTS.ami_port
    bind = ipaddress.ip_address(general["bindaddr"])
    assert not bind.is_unspecified, "AMI bound to every address"
    assert bind.is_loopback or bind.is_private
    options = manager_user()
    denies = {ipaddress.ip_network(v.replace("/0.0.0.0", "/0")) for v in every(options, "deny")}
    assert ipaddress.ip_network("0.0.0.0/0") in denies, "deny everything first"
    permits = [ipaddress.ip_network(v, strict=False) for v in every(options, "permit")]
    assert permits, "no permit= for the server"
    for net in permits:
        assert net.prefixlen > 0 and (net.is_loopback or net.is_private), net
    if bind.is_loopback:
        assert any(bind in net for net in permits)


def test_write_classes_allow_every_action_the_server_sends() -> None:
    write = classes(last(manager_user(), "write"))
    for action in (*contract.ACTIONS_USED, *contract.PBX_CHECK_ACTIONS):
        assert action in contract.ACTION_PRIVILEGES, f"add {action} to ACTION_PRIVILEGES"
        needed = contract.ACTION_PRIVILEGES[action]
        assert not needed or needed & write, f"write= does not allow {action}"
    assert not write & {"system", "command", "config", "all"}, "write= is too powerful"


# Async events the server consumes, with their class (the Privilege: header).
NEEDED_EVENTS = {
    "call": [
        "Newchannel", "Newstate", "NewCallerid", "Hangup", "HangupRequest",
        "SoftHangupRequest", "DialBegin", "DialState", "DialEnd", "BridgeCreate",
        "BridgeEnter", "BridgeLeave", "BridgeDestroy", "MixMonitorStart", "MixMonitorStop",
        "OriginateResponse",
    ],
    "agent": [
        "QueueCallerJoin", "QueueCallerLeave", "QueueCallerAbandon", "AgentCalled",
        "AgentConnect", "AgentComplete", "AgentRingNoAnswer", "QueueMemberStatus",
        "QueueMemberAdded", "QueueMemberRemoved", "QueueMemberPause",
    ],
    "system": ["FullyBooted"],
}  # fmt: skip
LIST_EVENTS = [
    "CoreShowChannel", "CoreShowChannelsComplete", "QueueParams", "QueueMember", "QueueEntry",
    "QueueStatusComplete", "QueueSummary", "QueueSummaryComplete",
]  # fmt: skip
NOISE_EVENTS = ["Newexten", "RTCPSent", "RTCPReceived", "DeviceStateChange", "Cdr"]
UNTRACKED_VARIABLES = ["DIALSTATUS", "QUEUEWAIT", "BRIDGEPEER", "MEMBERINTERFACE", "XCALL_TYPE"]


def test_read_classes_cover_the_needed_events() -> None:
    read = classes(last(manager_user(), "read"))
    assert set(NEEDED_EVENTS) | {"dialplan"} <= read  # dialplan: VarSet


# ---- the event filters, evaluated like main/manager.c should_send_event() ----


@dataclass(frozen=True)
class EventFilter:
    exclude: bool
    name: str | None
    header: str | None
    method: str
    pattern: str

    def matches(self, event: str, payload: str) -> bool:
        if self.name is not None and self.name != event:
            return False
        if self.header is None:
            return self._match(payload)
        for line in payload.split("\r\n"):
            if line.startswith(self.header + ":"):
                value = line[len(self.header) + 1 :].lstrip()
                if value and self._match(value):
                    return True
        return False

    def _match(self, data: str) -> bool:
        return {
            "regex": lambda: re.search(self.pattern, data) is not None,
            "exact": lambda: data == self.pattern,
            "starts_with": lambda: data.startswith(self.pattern),
            "ends_with": lambda: data.endswith(self.pattern),
            "contains": lambda: self.pattern in data,
            "none": lambda: True,
        }[self.method]()


def parse_filter(key: str, value: str) -> EventFilter:
    """Mirror of manager_add_filter(): reject what Asterisk would reject."""
    exclude = value.startswith("!")
    pattern = value[1:] if exclude else value
    if "(" not in key:  # legacy: regex over the whole payload
        assert key == "eventfilter" and pattern, f"bad legacy filter {key} = {value}"
        return EventFilter(exclude, None, None, "regex", pattern)
    # Like Asterisk: the criteria follow the first "(", end with ")", and are split at
    # spaces, commas and ")" into action(x / name(x / header(x / method(x tokens.
    assert key.startswith("eventfilter("), f"bad filter {key!r}"
    inner = key[len("eventfilter(") :].strip()
    assert inner.endswith(")"), f"{key}: criteria not closed"
    criteria: dict[str, str | None] = dict.fromkeys(("action", "name", "header", "method"))
    for token in filter(None, re.split(r"[ ,)]", inner)):
        option, _, arg = token.partition("(")
        assert option in criteria and criteria[option] is None and arg, f"{key}: {token!r}"
        criteria[option] = arg
    method = criteria["method"] or "none"
    assert method in ("regex", "exact", "starts_with", "ends_with", "contains", "none")
    assert (method == "none") == (pattern == ""), f"{key}: method/pattern mismatch"
    assert criteria["name"] or criteria["header"] or method != "none", f"{key}: matches all"
    assert criteria["action"] in (None, "include", "exclude"), key
    if criteria["action"]:
        exclude = criteria["action"] == "exclude"
    if method == "regex":
        re.compile(pattern)
    return EventFilter(exclude, criteria["name"], criteria["header"], method, pattern)


@cache
def event_filters() -> tuple[EventFilter, ...]:
    return tuple(parse_filter(k, v) for k, v in manager_user() if k.startswith("eventfilter"))


def delivered(event: str, payload: str) -> bool:
    includes = [f for f in event_filters() if not f.exclude]
    excludes = [f for f in event_filters() if f.exclude]
    if includes and not any(f.matches(event, payload) for f in includes):
        return False
    return not any(f.matches(event, payload) for f in excludes)


def synthetic(event: str, **headers: str) -> str:
    lines = [f"Event: {event}", "Privilege: call,all", "Channel: PJSIP/1001-00000001"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    return "\r\n".join(lines) + "\r\n"


def test_filters_are_configured() -> None:
    assert event_filters(), "manager.conf has no eventfilter lines"


@pytest.mark.parametrize("event", [e for es in NEEDED_EVENTS.values() for e in es] + LIST_EVENTS)
def test_needed_events_pass_the_filters(event: str) -> None:
    assert delivered(event, synthetic(event)), f"{event} is filtered out"


@pytest.mark.parametrize("variable", sorted(contract.TRACKED_VARIABLES))
def test_tracked_varsets_pass_the_filters(variable: str) -> None:
    for name in (variable, f"__{variable}"):
        payload = synthetic("VarSet", Variable=name, Value="x", Uniqueid="1.1")
        assert delivered("VarSet", payload), f"VarSet {name} is filtered out"


@pytest.mark.parametrize("variable", UNTRACKED_VARIABLES)
def test_untracked_varsets_are_dropped(variable: str) -> None:
    assert not delivered("VarSet", synthetic("VarSet", Variable=variable, Value="x"))


@pytest.mark.parametrize("event", NOISE_EVENTS)
def test_noise_is_dropped(event: str) -> None:
    assert not delivered(event, synthetic(event))


def fixture_events() -> list[tuple[str, str]]:
    events = []
    for path in sorted(FIXTURES.glob("*.txt")):
        if path.name.endswith(".sent.txt"):
            continue
        for message in path.read_bytes().decode().split("\r\n\r\n"):
            if match := re.search(r"^Event: (\S+)", message, re.MULTILINE):
                events.append((match[1], message + "\r\n"))
    return events


def test_filters_and_read_classes_against_real_asterisk_captures() -> None:
    assert FIXTURES.is_dir(), f"the shared AMI captures belong beside the project: {FIXTURES}"
    events = fixture_events()
    assert events
    read = classes(last(manager_user(), "read"))
    needed = {e for es in NEEDED_EVENTS.values() for e in es}
    seen = set()
    for event, payload in events:
        privilege = re.search(r"^Privilege: ([^\r\n]*)", payload, re.MULTILINE)
        granted = privilege is None or set(privilege[1].split(",")) - {"all"} <= read
        variable = re.search(r"^Variable: ([^\r\n]*)", payload, re.MULTILINE)
        tracked = variable is not None and variable[1].lstrip("_") in contract.TRACKED_VARIABLES
        application = re.search(r"^Application: ([^\r\n]*)", payload, re.MULTILINE)
        queue_started = (
            event == "Newexten"
            and application is not None
            and (application[1] in CallTracker.handled_applications)
        )
        if event in needed or (event == "VarSet" and tracked) or queue_started:
            seen.add(event)
            assert granted, f"read= lacks the class of {event}: {privilege}"
            assert delivered(event, payload), f"real {event} is filtered out"
        elif event == "VarSet" or event in NOISE_EVENTS:
            assert not (granted and delivered(event, payload)), f"{event} should be dropped"
    assert {"Newchannel", "AgentConnect", "VarSet", "FullyBooted"} <= seen

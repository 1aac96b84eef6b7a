"""The PBX simulator against every capture of a real Asterisk 22.10.1 (../shared/fixtures/ami).

For each capture the simulator is configured as the PBX that produced it
(telephony/pbx_sim/capture_lab.py) and the capture's `.sent.txt` actions are sent to it over
TCP, in order, each once the simulator has caught up with what the capture shows before that
action's answer. What comes back is compared with the capture:

- the answers to the actions (every field but Ping's Timestamp);
- per channel, the ordered events the tracker uses (tests/support/conformance.py: channel
  states, dial and queue events, agents' events with hold/ring/talk times within a second,
  bridges, MixMonitorStart, hangup requests and causes, the tracked variables with
  QUEUESTATUS and DIALSTATUS), OriginateResponse and Shutdown;
- the calls the project's tracker derives from both streams;
- the recordings: audio where the capture's recorded channel was bridged, a bare WAV
  header where it never was;
- a second connection (`<scenario>.login`) byte for byte.

A capture without a case here fails `test_every_capture_has_a_conformance_case`.
"""

from __future__ import annotations

import asyncio
import wave
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from crm.clock import SystemClock
from telephony.ami.framing import read_capture
from telephony.pbx_check.conf_files import read_shipped
from telephony.pbx_sim import PbxSimulator, SimulatorConfig
from telephony.pbx_sim.capture_lab import (
    MONITOR_DIR,
    PROJECT_DIALPLAN,
    TEST_DIALPLAN,
    capture_lab_config,
)
from telephony.replay import replay
from telephony.tracker import CallTracker
from tests.conftest import FIXTURES
from tests.support.conformance import (
    EVENT_FIELDS,
    VARIABLES,
    Projection,
    conformance_diff,
    list_items,
    parse_stream,
    project,
    responses,
)

SCALE = 0.2  # real seconds per simulated second: slow enough that a busy machine keeps time
CATCH_UP = 15.0  # real seconds the simulator may take to reach a point of the capture
HEADER_ONLY = 44  # bytes of a WAV without audio


@dataclass(frozen=True)
class Scenario:
    lab: str
    # Before the action with this ActionID, `core stop gracefully` (SimShutdown) is run.
    stop_before: str | None = None
    # A second connection during the scenario: its capture, opened after `stop_before`.
    second: str | None = None


SCENARIOS = {
    "login_ok": Scenario(TEST_DIALPLAN),
    "login_bad_secret": Scenario(TEST_DIALPLAN),
    "unknown_action": Scenario(TEST_DIALPLAN),
    "queue_status_idle": Scenario(TEST_DIALPLAN),
    "live_call_queries": Scenario(TEST_DIALPLAN),
    "inbound_queue_answered": Scenario(TEST_DIALPLAN),
    "outbound_callback_dial_bridged": Scenario(TEST_DIALPLAN),
    "callback_busy": Scenario(TEST_DIALPLAN),
    "inbound_answered_first_abandoned": Scenario(PROJECT_DIALPLAN),
    "inbound_joinempty": Scenario(PROJECT_DIALPLAN),
    "callback_agent_first_answered": Scenario(PROJECT_DIALPLAN),
    "pbx_core_stop_and_login_during_shutdown": Scenario(
        PROJECT_DIALPLAN,
        stop_before="ping-during-shutdown",
        second="pbx_core_stop_and_login_during_shutdown.login",
    ),
}


# -- reading and sending --------------------------------------------------------------------


def _messages(data: bytes) -> list[dict[str, str]]:
    return parse_stream(data)


def _actions(data: bytes) -> list[bytes]:
    """The `.sent.txt` actions, each with its closing blank line, as sent."""
    return [block + b"\r\n\r\n" for block in data.split(b"\r\n\r\n") if block.strip()]


def _headers(action: bytes) -> dict[str, str]:
    fields: dict[str, str] = {}
    for line in action.decode().split("\r\n"):
        name, colon, value = line.partition(": ")
        if colon:
            fields.setdefault(name, value)
    return fields


def _tracked(message: dict[str, str]) -> bool:
    """Counted to know how far a stream has come (OriginateResponse lands anywhere)."""
    name = message.get("Event", "")
    return name in EVENT_FIELDS and (name != "VarSet" or message.get("Variable") in VARIABLES)


class Stream:
    """Everything received on one connection, with the simulated time it arrived."""

    def __init__(self, reader: asyncio.StreamReader, clock: Callable[[], float]) -> None:
        self.data = b""
        self.messages: list[tuple[float, dict[str, str]]] = []
        self._reader, self._clock = reader, clock
        self._buffer = b""
        self.closed = asyncio.Event()
        self._task = asyncio.create_task(self._read())

    async def _read(self) -> None:
        try:
            while chunk := await self._reader.read(65536):
                self.data += chunk
                self._buffer += chunk
                if self._buffer.startswith(b"Asterisk Call Manager/") and b"\r\n" in self._buffer:
                    self._buffer = self._buffer.split(b"\r\n", 1)[1]
                while b"\r\n\r\n" in self._buffer:
                    raw, self._buffer = self._buffer.split(b"\r\n\r\n", 1)
                    self.messages.extend((self._clock(), m) for m in _messages(raw + b"\r\n\r\n"))
        except ConnectionError:
            pass
        finally:
            self.closed.set()

    def tracked(self) -> int:
        return sum(_tracked(message) for _, message in self.messages)

    def answered(self, action_id: str) -> bool:
        return any("Response" in m and m.get("ActionID") == action_id for _, m in self.messages)

    async def reach(self, needed: int) -> None:
        """Wait until as many tracked events have come as the capture shows at that point."""
        async with asyncio.timeout(CATCH_UP):
            while self.tracked() < needed:
                await asyncio.sleep(0.01)

    async def answer_to(self, action_id: str) -> None:
        async with asyncio.timeout(CATCH_UP):
            while not self.answered(action_id):
                await asyncio.sleep(0.01)


@dataclass
class Run:
    theirs: list[dict[str, str]]
    ours: list[dict[str, str]]
    arrivals: list[float]  # simulated time each of `ours` arrived
    second_theirs: bytes | None
    second_ours: bytes | None
    recordings: Path


def _needed(capture: list[dict[str, str]], action_id: str) -> int:
    """How many tracked events the capture shows before this action's answer."""
    count = 0
    for message in capture:
        if "Response" in message and message.get("ActionID") == action_id:
            return count
        count += _tracked(message)
    return count


async def run_scenario(tmp_path: Path, name: str, scenario: Scenario) -> Run:
    recordings = tmp_path / "rec"
    config = capture_lab_config(scenario.lab, port=0, time_scale=SCALE, recordings_dir=recordings)
    simulator = PbxSimulator(config, clock=SystemClock())
    host, port = await simulator.start()
    capture = _messages((FIXTURES / f"{name}.txt").read_bytes())
    theirs_projection = project(capture)
    their_names = {full: key for key, full in theirs_projection.names.items()}
    second_task: asyncio.Task[bytes] | None = None
    try:
        reader, writer = await asyncio.open_connection(host, port)
        stream = Stream(reader, simulator.pbx.clock.now)
        actions = _actions((FIXTURES / f"{name}.sent.txt").read_bytes())
        for index, action in enumerate(actions):
            headers = _headers(action)
            action_id = headers.get("ActionID", "")
            if index:
                await stream.reach(_needed(capture, action_id))
            if headers.get("Action", "").lower() == "logoff":
                await asyncio.wait_for(simulator.wait_calls(), CATCH_UP)
            if action_id and action_id == scenario.stop_before:
                await _stop_gracefully(host, port)
            writer.write(
                _with_our_channels(action, their_names, project(m for _, m in stream.messages))
            )
            await writer.drain()
            if action_id and action_id == scenario.stop_before and scenario.second:
                await stream.answer_to(action_id)
                second_task = asyncio.create_task(_second_connection(host, port, scenario.second))
        await asyncio.wait_for(stream.closed.wait(), CATCH_UP)
        writer.close()
        second_ours = await asyncio.wait_for(second_task, CATCH_UP) if second_task else None
        await simulator.wait_recordings()
    finally:
        await simulator.stop()
    second_theirs = (FIXTURES / f"{scenario.second}.txt").read_bytes() if scenario.second else None
    return Run(
        theirs=capture,
        ours=[m for _, m in stream.messages],
        arrivals=[at for at, _ in stream.messages],
        second_theirs=second_theirs,
        second_ours=second_ours,
        recordings=recordings,
    )


def _with_our_channels(action: bytes, their_names: dict[str, str], ours: Projection) -> bytes:
    """The capture's channel names in an action (Getvar Channel: ...-0000000c;1) become the
    simulator's channel in the same place of the call."""
    lines = []
    for line in action.decode().split("\r\n"):
        name, colon, value = line.partition(": ")
        if colon and name == "Channel" and value in their_names:
            value = ours.names.get(their_names[value], value)
        lines.append(f"{name}{colon}{value}" if colon else line)
    return "\r\n".join(lines).encode()


async def _stop_gracefully(host: str, port: int) -> None:
    """`core stop gracefully`, from the CLI: the simulator's control action."""
    reader, writer = await asyncio.open_connection(host, port)
    await reader.readline()
    writer.write(b"Action: SimShutdown\r\nActionID: stop\r\nGraceful: yes\r\n\r\n")
    answer = await reader.readuntil(b"\r\n\r\n")
    assert b"Response: Success" in answer, answer
    writer.close()


async def _second_connection(host: str, port: int, name: str) -> bytes:
    reader, writer = await asyncio.open_connection(host, port)
    writer.write((FIXTURES / f"{name}.sent.txt").read_bytes())
    await writer.drain()
    try:
        return await reader.read(-1)
    finally:
        writer.close()


# -- the calls the tracker sees ---------------------------------------------------------------

RECORD_KEYS = (
    "direction", "caller", "dialed", "queue", "agents_rung", "agent", "outcome",
    "wait_seconds", "ring_seconds", "talk_seconds", "hung_up_by", "hangup_cause",
    "recording", "recording_agent", "recording_customer", "end_inferred",
)  # fmt: skip
TIMED_KEYS = ("wait_seconds", "ring_seconds", "talk_seconds")


def _records(data: bytes, projection: Projection, tmp_path: Path) -> list[dict[str, Any]]:
    """The tracker's records of a stream (as `callcentre ami replay` folds it), with
    uniqueids in recording paths replaced by their channel's key."""
    path = tmp_path / f"stream-{len(list(tmp_path.iterdir()))}.txt"
    path.write_bytes(data)
    records = []
    for record in replay([path]):
        row = {key: record.replay_json()[key] for key in RECORD_KEYS}
        for key in ("recording", "recording_agent", "recording_customer"):
            if row[key] is not None:
                row[key] = projection.normalise(row[key])
        records.append(row)
    return records


def _records_diff(ours: list[dict[str, Any]], theirs: list[dict[str, Any]]) -> list[str]:
    problems = []
    if len(ours) != len(theirs):
        return [f"{len(theirs)} call(s) in the capture, {len(ours)} from the simulator"]
    for number, (mine, real) in enumerate(zip(ours, theirs, strict=True), 1):
        for key in RECORD_KEYS:
            a, b = mine[key], real[key]
            if key in TIMED_KEYS and a is not None and b is not None and abs(a - b) <= 1:
                continue
            if a != b:
                problems.append(f"call {number} {key}: capture {b!r}, simulator {a!r}")
    return problems


def _timed_records(run: Run) -> list[Any]:
    """The simulator's calls folded with the simulated time each event arrived."""
    tracker = CallTracker()
    start = run.arrivals[0] if run.arrivals else 0.0
    origin = datetime(2026, 12, 6, tzinfo=UTC)
    for at, message in zip(run.arrivals, read_capture(_bytes(run.ours)), strict=True):
        if "Event" in message:
            tracker.feed(message, origin + timedelta(seconds=at - start))
    return tracker.recent_calls() + tracker.live_calls()


def _bytes(messages: list[dict[str, str]]) -> bytes:
    return b"".join(
        "".join(f"{k}: {v}\r\n" for k, v in message.items()).encode() + b"\r\n"
        for message in messages
    )


# -- recordings --------------------------------------------------------------------------------


RECORDING_VARIABLES = ("MIXMONITOR_FILENAME", "CC_REC_AGENT", "CC_REC_CUSTOMER")


def _recorded_channels(projection: Projection) -> dict[str, bool]:
    """MIXMONITOR_FILENAME (uniqueid as the channel's key) → was that channel bridged."""
    recorded = {}
    for steps in projection.channels.values():
        bridged = any(step.event == "BridgeEnter" for step in steps)
        for step in steps:
            fields = dict(step.fields)
            if step.event == "VarSet" and fields.get("Variable") == "MIXMONITOR_FILENAME":
                recorded[fields["Value"]] = bridged
    return recorded


def _recording_files(run: Run, projection: Projection) -> dict[str, list[Path]]:
    """Per MIXMONITOR_FILENAME (normalised), the files the simulator wrote for that channel:
    the mix and its r()/t() legs, found under the recordings directory."""
    by_channel: dict[str, dict[str, str]] = {}
    for message in run.ours:
        if message.get("Event") == "VarSet" and message.get("Variable") in RECORDING_VARIABLES:
            by_channel.setdefault(message["Uniqueid"], {})[message["Variable"]] = message["Value"]
    files = {}
    for variables in by_channel.values():
        mixed = variables.get("MIXMONITOR_FILENAME")
        if mixed is not None:
            files[projection.normalise(mixed)] = [
                run.recordings / Path(value).relative_to(MONITOR_DIR)
                for value in variables.values()
            ]
    return files


def _audio_frames(path: Path) -> int:
    with wave.open(str(path), "rb") as wav:
        return wav.getnframes()


# -- the tests ---------------------------------------------------------------------------------


def test_every_capture_has_a_conformance_case() -> None:
    captures = {
        path.name.removesuffix(".txt")
        for path in FIXTURES.glob("*.txt")
        if not path.name.endswith(".sent.txt")
    }
    seconds = {s.second for s in SCENARIOS.values() if s.second}
    assert captures - seconds == set(SCENARIOS), "a capture without a conformance case"
    assert seconds <= captures


@pytest.mark.parametrize("name", sorted(SCENARIOS))
async def test_the_simulator_conforms_to_the_capture(name: str, tmp_path: Path) -> None:
    run = await run_scenario(tmp_path, name, SCENARIOS[name])
    assert responses(run.ours) == responses(run.theirs)
    assert list_items(run.ours) == list_items(run.theirs)

    ours, theirs = project(run.ours), project(run.theirs)
    diff = conformance_diff(ours, theirs)
    assert not diff, f"{name}: the simulator diverges from the capture\n{diff}"

    our_calls = _records(_bytes(run.ours), ours, tmp_path)
    their_calls = _records(_bytes(run.theirs), theirs, tmp_path)
    problems = _records_diff(our_calls, their_calls)
    assert not problems, "\n".join(problems)

    recorded = _recorded_channels(theirs)
    written = _recording_files(run, ours)
    assert set(written) == set(recorded)
    for reported, bridged in recorded.items():
        for path in written[reported]:
            assert path.exists(), f"{reported}: {path} was not written"
            has_audio = _audio_frames(path) > 0
            assert has_audio == bridged, f"{path}: audio {has_audio}, bridged in capture {bridged}"
            assert has_audio or path.stat().st_size == HEADER_ONLY

    if run.second_theirs is not None:
        assert run.second_ours == run.second_theirs


# What a correct tracker reports for the captures taken through the project's own dialplan
# (fixtures README's table), from the simulator's stream timed by its own clock.
README_TRUTH: dict[str, dict[str, Any]] = {
    "inbound_answered_first_abandoned": {
        "outcome": "abandoned", "agent": None, "wait_seconds": 6, "hung_up_by": "customer",
        "queue": "service",
    },
    "inbound_joinempty": {
        "outcome": "no_agent", "hung_up_by": "pbx", "queue": "service", "agents_rung": (),
    },
    "callback_agent_first_answered": {
        "outcome": "answered", "talk_seconds": 15, "ring_seconds": 3, "hung_up_by": "customer",
    },
    "pbx_core_stop_and_login_during_shutdown": {
        "outcome": "abandoned", "wait_seconds": 6, "hung_up_by": "customer", "queue": "service",
    },
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(README_TRUTH))
async def test_the_tracker_reads_the_readme_truth_from_the_simulator(
    name: str, tmp_path: Path
) -> None:
    run = await run_scenario(tmp_path, name, SCENARIOS[name])
    calls = _timed_records(run)
    assert len(calls) == 1
    call = calls[0]
    for key, expected in README_TRUTH[name].items():
        value = getattr(call, key)
        if key in TIMED_KEYS:
            assert value is not None and abs(value - expected) <= 1, (key, value, expected)
        else:
            assert value == expected, (key, value, expected)


def test_the_lab_profiles_share_the_simulators_code_and_differ_in_configuration() -> None:
    project_lab = capture_lab_config(PROJECT_DIALPLAN)
    test_lab = capture_lab_config(TEST_DIALPLAN)
    demo = SimulatorConfig()
    assert demo.agent_interface_template == "PJSIP/{extension}" and not demo.contexts
    assert project_lab.agent_interface_template == "Local/{extension}@agents/n"
    assert project_lab.site.globals["CC_TRUNK"] == "Local/{number}@customers"
    assert {"agents", "sim-customer", "customers"} == set(project_lab.contexts)
    assert {"queue-inbound", "callback", "agent-phone"} <= set(test_lab.contexts)
    with pytest.raises(ValueError, match="unknown capture lab"):
        capture_lab_config("nowhere")


def test_joinempty_and_leavewhenempty_default_to_asterisk_conf() -> None:
    shipped = read_shipped()
    config = SimulatorConfig()
    for queue in config.queues:
        for key, value in (
            ("joinempty", config.joinempty),
            ("leavewhenempty", config.leavewhenempty),
        ):
            setting = shipped.queue_setting(queue, key) or ""
            assert {part.strip() for part in setting.split(",")} == value, (queue, key)

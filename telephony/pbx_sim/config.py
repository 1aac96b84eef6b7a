"""Settings of the PBX simulator: one dataclass, defaults good for a demo."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from telephony.contract import (
    CONTEXT_CALLBACK,
    CONTEXT_CALLBACK_QUEUE,
    CONTEXT_INBOUND,
)
from telephony.pbx_sim.dialplan import Context
from telephony.pbx_sim.site import PbxSite
from telephony.pbx_sim.technology import AGENT_ENDPOINT_CONTEXT

# queues.conf `joinempty` / `leavewhenempty` of asterisk-conf's queues (app_queue's names).
EMPTY_WHEN = frozenset({"unavailable", "invalid", "unknown"})


@dataclass(frozen=True)
class StaticMember:
    """A member written in queues.conf: `member => interface,penalty,name,state_interface`."""

    interface: str
    name: str | None = None
    state_interface: str | None = None
    penalty: int = 0


@dataclass
class SimulatorConfig:
    """Everything the simulated PBX can be told; times are in simulated seconds."""

    host: str = "127.0.0.1"
    port: int = 5038
    user: str = "callcentre"
    secret: str = "callcentre"

    # Queues (ringall), in the order QueueStatus lists them; members are added by QueueAdd
    # when agents go ready, unless static ones are configured here.
    queues: tuple[str, ...] = ("service", "callbacks")
    inbound_queue: str = "service"
    callback_queue: str = "callbacks"
    static_members: dict[str, list[str | StaticMember]] = field(default_factory=dict)
    queue_timeout: float = 60.0  # Queue(<name>,t,,,60): the caller leaves after this
    member_ring_timeout: float = 15.0  # queues.conf timeout: one ring cycle
    retry_seconds: float = 5.0  # queues.conf retry: pause between ring cycles
    wrapup_seconds: float = 0.0  # queues.conf wrapuptime
    joinempty: frozenset[str] = EMPTY_WHEN  # nobody can take calls: the caller is not queued
    leavewhenempty: frozenset[str] = EMPTY_WHEN  # ... the waiting caller leaves the queue

    # The dialplan and the endpoints (the production configuration's names).
    agent_interface_template: str = "PJSIP/{extension}"
    agent_extension_pattern: str = r"^\d{3,6}$"
    agent_context: str = AGENT_ENDPOINT_CONTEXT  # the phones' endpoints' `context`
    inbound_context: str = CONTEXT_INBOUND
    callback_context: str = CONTEXT_CALLBACK
    callback_queue_context: str = CONTEXT_CALLBACK_QUEUE
    trunk_endpoint: str = "trunk"
    hotline: str = "4008009000"  # the DID customers dial
    unregistered_extensions: list[str] = field(default_factory=list)  # phones offline
    dial_timeout: float = 30.0  # Dial(...,30) in the dialplan

    # Phones: how long an agent's phone rings before it answers (None: never answers).
    default_answer_delay: float = 2.0
    answer_delays: dict[str, float | None] = field(default_factory=dict)

    # Outside numbers (fnmatch patterns, e.g. "*7"): the trunk's answer for each.
    busy_numbers: list[str] = field(default_factory=lambda: ["13700137000"])
    no_answer_numbers: list[str] = field(default_factory=list)
    congestion_numbers: list[str] = field(default_factory=list)
    unreachable_numbers: list[str] = field(default_factory=list)
    customer_answer_delay: float = 4.0  # ring time before a reachable customer answers

    # Conversations: random draws come from random.Random(seed).
    seed: int = 1
    time_scale: float = 1.0  # real seconds per simulated second (0.05 = 20 times faster)
    talk_seconds: tuple[float, float] | None = (40.0, 150.0)  # None: the dialplan ends talks
    caller_hangup_ratio: float = 0.6  # share of calls the customer ends
    patience_seconds: tuple[float, float] = (30.0, 120.0)  # before a waiting caller gives up
    abandon_ratio: float = 0.05  # generated callers who hang up after a few seconds

    # Generated traffic.
    calls_per_minute: float = 0.0
    callers: list[str] = field(default_factory=list)
    unknown_caller_ratio: float = 0.3

    recordings_dir: Path = Path("./var/recordings")
    cdr_timezone: str = "UTC"
    replay_delay: float = 0.01  # real seconds between replayed events
    # The PBX's own configuration as `callcentre pbx check` sees it (asterisk-conf/ by default).
    site: PbxSite = field(default_factory=PbxSite)
    # Contexts added to (or replacing) the site's dialplan: a lab's test phones and customers
    # (telephony/pbx_sim/capture_lab.py), and sound files' lengths for Playback() (without
    # the file, PLAYBACKSTATUS=FAILED at once, as on a PBX without sound packages).
    contexts: dict[str, Context] = field(default_factory=dict)
    sounds: dict[str, float] = field(default_factory=dict)

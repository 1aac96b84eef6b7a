"""The busy-day benchmark's PBX: the simulator in its own process, at a compressed clock,
placing the day's inbound calls and answering the dialer's Originates.

`python -m bench.busy_day_pbx --inbound-agents N --calls C --day-seconds D ...`: prints
`{"port": …}`, waits for a line on stdin (`go`), then places C inbound calls over D real
seconds, shaped like a day's traffic (a morning and an afternoon peak), each into the
one-member queue of an inbound agent whose phone is free, so every call rings exactly one
phone. When all are placed it prints `{"placed": C}`; on the next line from stdin (`report`)
it waits for every call to end and every recording to be written, then prints one JSON line
per inbound call (linkedid, extension, hour of the simulated day, when `AgentCalled` was
written and when the ringing stopped, on `time.perf_counter()`), one line with the callback
attempt of every Originate received, and `{"done": C}`; it stops on the line after that.

The simulator's clock runs `1 / time_scale` times faster than real, so a call's talk (and
its recording) lasts simulated seconds. A phone's ringing is what a pop must beat, so it
rings `--answer-after` *real* seconds, as an agent's does.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import resource
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.data import mobile
from bench.pops_pbx import TimedSimulator
from crm.clock import SystemClock
from telephony import contract
from telephony.pbx_sim import SimulatorConfig, StaticMember
from telephony.pbx_sim import actions as sim_actions
from telephony.pbx_sim import recordings as sim_recordings

FIRST_HOUR, HOURS = 8, 12  # the simulated day: 08:00 to 20:00
# Each hour's share of the day's inbound calls: a morning and an afternoon peak.
HOUR_WEIGHTS = (5, 9, 11, 10, 7, 6, 8, 10, 11, 9, 8, 6)
SIMULATED_DAY = HOURS * 3600.0
UNKNOWN_CALLER_EVERY = 10
MEMORY_LIMIT = 4 << 30  # bytes of address space  # one caller in ten is not a customer


def schedule(calls: int, day_seconds: float, seed: int = 11) -> list[float]:
    """When each inbound call starts, in real seconds from the day's start, sorted."""
    rng = random.Random(seed)
    hour_seconds = day_seconds / HOURS
    total = sum(HOUR_WEIGHTS)
    starts: list[float] = []
    for hour in range(HOURS):
        count = round(calls * sum(HOUR_WEIGHTS[: hour + 1]) / total) - len(starts)
        starts += [hour_seconds * (hour + rng.random()) for _ in range(count)]
    return sorted(starts)


def hour_of(offset: float, day_seconds: float) -> int:
    """The simulated hour (8..19) at `offset` real seconds into the day."""
    return FIRST_HOUR + min(HOURS - 1, max(0, int(offset / (day_seconds / HOURS))))


class Dials:
    """The callback attempt of every Originate the simulated PBX received."""

    def __init__(self) -> None:
        self.attempts: list[int] = []

    def wrap(self, original: Callable[..., Any]) -> Callable[..., Any]:
        def start_originate(pbx: Any, request: Any, plan: Any) -> Any:
            attempt = dict(request.variables).get(contract.VAR_ATTEMPT_ID)
            if attempt is not None:
                self.attempts.append(int(attempt))
            return original(pbx, request, plan)

        return start_originate


class Lengths:
    """Keeps each recording to the conversation's length (plus ringing and a margin).

    The simulator measures a recording on its own clock; at ×90 a tenth of a second the
    loaded machine makes its event loop late ending a talk becomes 9 s more audio, and at
    the quick run's ×3,600 six minutes: files of hours the workers would then transcribe
    (or the simulator fail to allocate). The extra is silence after the last words, so
    it is cut, and counted."""

    def __init__(self, longest: float) -> None:
        self.longest = longest
        self.stretched: list[float] = []

    def wrap(self, original: Callable[..., Any]) -> Callable[..., Any]:
        def write_files(recording: Any, clips: Any) -> Any:
            if recording.recorded > self.longest:
                self.stretched.append(recording.recorded)
                recording.recorded = self.longest
            return original(recording, clips)

        return write_files


async def _run(args: argparse.Namespace) -> None:
    scale = args.day_seconds / SIMULATED_DAY  # real seconds per simulated second
    inbound = [str(args.first_extension + i) for i in range(args.inbound_agents)]
    dials = Dials()
    sim_actions.start_originate = dials.wrap(sim_actions.start_originate)
    lengths = Lengths(args.talk_max + 10.0)
    sim_recordings._write_files = lengths.wrap(sim_recordings._write_files)
    sim = TimedSimulator(
        SimulatorConfig(
            port=0,
            secret=args.secret,
            seed=5,
            time_scale=scale,
            recordings_dir=Path(args.recordings),
            queues=("service", "callbacks", *(f"q{e}" for e in inbound)),
            static_members={
                f"q{e}": [StaticMember(f"PJSIP/{e}", name=f"坐席{e}")] for e in inbound
            },
            # Ringing is measured in real seconds (a pop must beat it): no ring cycle or
            # queue timeout may end it sooner.
            member_ring_timeout=(args.answer_after + 30) / scale,
            queue_timeout=(args.answer_after + 120) / scale,
            talk_seconds=(args.talk_min, args.talk_max),  # the callbacks' conversations
            busy_numbers=[],
        ),
        clock=SystemClock(),
    )
    await sim.warm_voices()
    _, port = await sim.start()
    print(json.dumps({"port": port, "time_scale": scale}), flush=True)
    loop = asyncio.get_running_loop()
    if not await loop.run_in_executor(None, sys.stdin.readline):
        await sim.stop()
        return
    rng = random.Random(9)
    busy_until = dict.fromkeys(inbound, 0.0)
    placed: dict[str, tuple[str, int]] = {}
    begin = time.perf_counter()
    for offset in schedule(args.calls, args.day_seconds):
        await asyncio.sleep(max(0.0, begin + offset - time.perf_counter()))
        now = time.perf_counter()
        talk = rng.uniform(args.talk_min, args.talk_max)
        # Free: not just given a call (its channels may not exist yet), and no channel of
        # its phone up: on a loaded machine calls last longer in real time than planned.
        on_a_call = {c.endpoint for c in sim.pbx.channels if not c.hung_up}
        free = [e for e, until in busy_until.items() if until <= now and e not in on_a_call]
        idle = [e for e in inbound if e not in on_a_call]
        agent = rng.choice(free or idle or inbound)
        # Ringing, the talk, and a margin for the hang-up to reach the queue.
        busy_until[agent] = now + args.answer_after + talk * scale + 1.0
        caller_index = rng.randrange(args.customers * UNKNOWN_CALLER_EVERY)
        caller = (
            mobile(caller_index // UNKNOWN_CALLER_EVERY)
            if caller_index % UNKNOWN_CALLER_EVERY
            else f"18{90_000_000 + caller_index:09d}"  # nobody's number
        )
        linkedid = await sim.place_inbound_call(
            caller,
            queue=f"q{agent}",
            answer_after=args.answer_after / scale,
            talk_seconds=talk,
        )
        placed[linkedid] = (agent, hour_of(offset, args.day_seconds))
    print(json.dumps({"placed": len(placed)}), flush=True)
    await loop.run_in_executor(None, sys.stdin.readline)  # the bench's day is over
    try:
        await asyncio.wait_for(sim.wait_calls(), timeout=args.end_within)
        await asyncio.wait_for(sim.wait_recordings(), timeout=args.end_within)
    except TimeoutError:  # calls still up: said (one line each), and counted by the bench
        up = [c for c in sim.pbx.channels if not c.hung_up]
        print(f"{len(up)} channel(s) still up after the day:", file=sys.stderr, flush=True)
        for channel in up[:20]:
            print(
                f"  {channel.name} {channel.state.name} linkedid {channel.linkedid} "
                f"{channel.application}",
                file=sys.stderr,
                flush=True,
            )
    for linkedid, (agent, hour) in placed.items():
        print(
            json.dumps(
                {
                    "linkedid": linkedid,
                    "extension": agent,
                    "hour": hour,
                    "written": sim.written.get(linkedid),
                    "ring_ended": sim.ring_ended.get(linkedid),
                }
            ),
            flush=True,
        )
    print(json.dumps({"dialed_attempts": dials.attempts}), flush=True)
    print(
        json.dumps(
            {
                "recordings_cut": len(lengths.stretched),
                "longest_cut_seconds": round(max(lengths.stretched, default=0.0), 1),
            }
        ),
        flush=True,
    )
    print(json.dumps({"done": len(placed)}), flush=True)
    await loop.run_in_executor(None, sys.stdin.readline)
    await sim.stop()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.busy_day_pbx")
    parser.add_argument("--inbound-agents", type=int, required=True)
    parser.add_argument("--first-extension", type=int, default=2000)
    parser.add_argument("--calls", type=int, required=True)
    parser.add_argument("--day-seconds", type=float, required=True)
    parser.add_argument("--customers", type=int, required=True)
    parser.add_argument("--answer-after", type=float, default=3.0, help="real seconds")
    parser.add_argument("--talk-min", type=float, default=3.0, help="simulated seconds")
    parser.add_argument("--talk-max", type=float, default=6.0, help="simulated seconds")
    parser.add_argument("--secret", default="bench-secret")
    parser.add_argument("--recordings", required=True)
    parser.add_argument("--end-within", type=float, default=60.0, help="real seconds")
    # A runaway simulator must fail on its own, not take the machine's memory from the rest.
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))
    asyncio.run(_run(parser.parse_args()))


if __name__ == "__main__":
    main()

"""The screen-pop benchmark's PBX: the simulator in its own process, so its work shares
neither an event loop nor a GIL with the server or the agents' websockets.

`python -m bench.pops_pbx --agents N --rate R --seconds S`: prints `{"port": …}`, waits for a
line on stdin, places R inbound calls a second for S seconds (each into the one-member queue
of a free agent), waits for every call to end, and prints one JSON line per call: its linkedid,
the agent's extension, when `AgentCalled` was written and when the ringing stopped
(`time.perf_counter()`, CLOCK_MONOTONIC: the same clock in every process of this machine).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import re
import sys
import time
from pathlib import Path

from bench.data import mobile
from crm.clock import Clock, SystemClock
from telephony.pbx_sim import PbxSimulator, SimulatorConfig, StaticMember

FIRST_EXTENSION = 2000
_LINKEDID = re.compile(rb"\r\nLinkedid: ([^\r]+)")
# What ends an agent's ringing for a queue call: answered, not answered, the caller left.
_RING_ENDS = (
    b"Event: AgentConnect\r\n",
    b"Event: AgentRingNoAnswer\r\n",
    b"Event: QueueCallerAbandon\r\n",
)


def extensions(agents: int) -> list[str]:
    return [str(FIRST_EXTENSION + i) for i in range(agents)]


class TimedSimulator(PbxSimulator):
    """The simulator, noting by linkedid when each call's `AgentCalled` was written and when
    its ringing stopped."""

    def __init__(self, config: SimulatorConfig, *, clock: Clock) -> None:
        super().__init__(config, clock=clock)
        self.written: dict[str, float] = {}
        self.ring_ended: dict[str, float] = {}

    def broadcast(self, data: bytes) -> None:
        now = time.perf_counter()
        if data.startswith(b"Event: AgentCalled\r\n") or data.startswith(_RING_ENDS):
            found = _LINKEDID.search(data)
            if found:
                seen = self.written if data.startswith(b"Event: AgentCalled") else self.ring_ended
                seen.setdefault(found.group(1).decode(), now)
        super().broadcast(data)


async def _run(args: argparse.Namespace) -> None:
    agents = extensions(args.agents)
    sim = TimedSimulator(
        SimulatorConfig(
            port=0,
            secret=args.secret,
            seed=5,
            recordings_dir=Path(args.recordings),
            queues=tuple(f"q{e}" for e in agents),
            static_members={f"q{e}": [StaticMember(f"PJSIP/{e}", name=f"坐席{e}")] for e in agents},
        ),
        clock=SystemClock(),
    )
    await sim.warm_voices()  # the stand-in for two people talking is not the PBX's work
    _, port = await sim.start()
    print(json.dumps({"port": port}), flush=True)
    if not await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline):
        await sim.stop()  # the benchmark gave up before the calls
        return
    rng = random.Random(9)
    busy_until = dict.fromkeys(agents, 0.0)
    call_length = args.answer_after + args.talk_seconds + 1.0
    placed: dict[str, str] = {}
    begin = time.perf_counter()
    for n in range(int(args.rate * args.seconds)):
        await asyncio.sleep(max(0.0, begin + n / args.rate - time.perf_counter()))
        now = time.perf_counter()
        # A free agent: every call rings at once, none waits in its queue for a busy one.
        agent = rng.choice([e for e, until in busy_until.items() if until <= now] or agents)
        busy_until[agent] = now + call_length
        linkedid = await sim.place_inbound_call(
            mobile(rng.randrange(args.customers)),
            queue=f"q{agent}",
            answer_after=args.answer_after,
            talk_seconds=args.talk_seconds,
        )
        placed[linkedid] = agent
    await sim.wait_calls()
    for linkedid, agent in placed.items():
        print(
            json.dumps(
                {
                    "linkedid": linkedid,
                    "extension": agent,
                    "written": sim.written.get(linkedid),
                    "ring_ended": sim.ring_ended.get(linkedid),
                }
            ),
            flush=True,
        )
    print(json.dumps({"done": len(placed)}), flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)  # the end
    await sim.stop()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.pops_pbx")
    parser.add_argument("--agents", type=int, required=True)
    parser.add_argument("--rate", type=float, required=True)
    parser.add_argument("--seconds", type=float, required=True)
    parser.add_argument("--customers", type=int, default=10_000)
    parser.add_argument("--answer-after", type=float, default=3.0)
    parser.add_argument("--talk-seconds", type=float, default=3.0)
    parser.add_argument("--secret", default="bench-secret")
    parser.add_argument("--recordings", required=True)
    asyncio.run(_run(parser.parse_args()))


if __name__ == "__main__":
    main()

"""Generated traffic: inbound queue calls arriving as a Poisson process."""

from __future__ import annotations

import random

from telephony.pbx_sim.calls import start_inbound_call
from telephony.pbx_sim.config import SimulatorConfig
from telephony.pbx_sim.pbx import Pbx
from telephony.pbx_sim.scenario import make_plan

MOBILE_PREFIXES = ("130", "131", "135", "136", "138", "139", "150", "158", "177", "186", "189")


def pick_caller(config: SimulatorConfig, rng: random.Random) -> str:
    """A known customer's phone, or (at `unknown_caller_ratio`) a random mobile number."""
    if config.callers and rng.random() >= config.unknown_caller_ratio:
        return rng.choice(config.callers)
    return rng.choice(MOBILE_PREFIXES) + "".join(rng.choice("0123456789") for _ in range(8))


async def generate_traffic(pbx: Pbx) -> None:
    """Place `calls_per_minute` inbound calls on average until cancelled."""
    config, rng = pbx.config, pbx.rng
    rate = config.calls_per_minute / 60.0
    while True:
        await pbx.clock.sleep(rng.expovariate(rate))
        quick_abandon = rng.random() < config.abandon_ratio
        patience = rng.uniform(2.0, 6.0) if quick_abandon else rng.uniform(*config.patience_seconds)
        plan = make_plan(pbx, patience=patience)
        start_inbound_call(pbx, pick_caller(config, rng), plan, queue=config.inbound_queue)

"""A simulated Asterisk 22 that speaks AMI, so the demo and the tests run without a PBX.

    simulator = PbxSimulator(SimulatorConfig(port=0, time_scale=0.05))
    host, port = await simulator.start()
    linkedid = await simulator.place_inbound_call("13800138000", talk_seconds=30)
    outcome = await simulator.originate("PJSIP/1001", context="callback", exten="13900139000")
    await simulator.stop()

It imitates the production dialplan of `telephony/contract.py` with PJSIP phones
(`PJSIP/1001-0000000b`) and a SIP trunk (`PJSIP/trunk-0000000a`), and answers the AMI
actions the server uses. Sim-only actions let a test in another process drive it (they need
no login and work while the PBX plays dead): `SimInboundCall` (Caller, Queue, Extension,
AnswerAfter, TalkSeconds, HangupBy, Abandon), `SimSetAnswer` (Extension, AnswerAfter | Never),
`SimDropConnections`, `SimSilence` (Silent: on|off), `SimRestart` (Downtime).

`run_simulator(config, replay=None)` runs one until cancelled: the `callcentre pbx-sim`
command (`callcentre pbx-sim --help`).
"""

from telephony.pbx_sim.config import SimulatorConfig, StaticMember
from telephony.pbx_sim.originate import OriginateOutcome
from telephony.pbx_sim.server import AmiSession, PbxSimulator, run_simulator

__all__ = [
    "AmiSession",
    "OriginateOutcome",
    "PbxSimulator",
    "SimulatorConfig",
    "StaticMember",
    "run_simulator",
]

"""A simulated Asterisk 22 that speaks AMI, so the demo and the tests run without a PBX.

    simulator = PbxSimulator(SimulatorConfig(port=0, time_scale=0.05), clock=SystemClock())
    host, port = await simulator.start()
    linkedid = await simulator.place_inbound_call("13800138000", talk_seconds=30)
    outcome = await simulator.originate("PJSIP/1001", context="callback", exten="13900139000")
    await simulator.stop()

It runs the site's dialplan (asterisk-conf/ as shipped, `interpreter.py`) the way Asterisk
22.10.1 does, event for event as the captures in shared/fixtures/ami/ show, and answers the
AMI actions the server uses (an Originate may assign its channel's Uniqueid, `ChannelId`, as
Asterisk's does; a supervisor's phone originated into [cc-spy] runs ChanSpy, `chanspy.py`:
ChanSpyStart/Stop, no bridge). The demo's configuration has PJSIP phones
(`PJSIP/1001-0000000b`) and a SIP trunk (`PJSIP/trunk-0000000a`), which behave as the project's
Asterisk lab shows (tests/test_asterisk_lab_conformance.py; what differs from Local channels
is in `technology.py`); `capture_lab.py` configures the same code as the PBXs that produced
the captures (Local channels standing in for phones and trunk), and
tests/test_sim_conformance.py holds it to every capture.

Sim-only actions let a test in another process drive it (they need no login and work while
the PBX plays dead or shuts down): `SimInboundCall` (Caller, Queue, Extension, AnswerAfter,
TalkSeconds, HangupBy, Abandon), `SimSetAnswer` (Extension, AnswerAfter | Never),
`SimDropConnections`, `SimSilence` (Silent: on|off), `SimRestart` (Downtime; `core restart
now`, or Crash: yes for a silent death), `SimShutdown` (Graceful, Restart, Downtime: `core
stop|restart gracefully|now`), `SimBlindTransfer` (Extension, Target: that agent's phone
transfers its call blind, as its SIP REFER would; the AMI action BlindTransfer does the same
for a channel).

`run_simulator(config, clock=..., replay=None)` runs one until cancelled: the `callcentre pbx-sim`
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

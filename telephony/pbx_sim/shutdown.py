"""`core stop|restart gracefully|now`, as main/asterisk.c's quit_handler runs them.

Gracefully: no new channel, every AMI action (a new Login too) is refused with `Asterisk is
shutting down`, the calls in progress go on until they end. Now: every channel gets a
SoftHangupRequest whose Cause is AST_SOFTHANGUP_SHUTDOWN (4), and the PBX waits for them to
go (15 s at most). Then, if it had to wait, one more second; the `Shutdown` event
(`Cleanly` when no channel is left, `Restart: True|False`); the AMI connections close. A
restart comes back with fresh state: uniqueids from `.0` again, static queue members only.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from telephony.ami.vocabulary import SoftHangup
from telephony.pbx_sim.channels import event

if TYPE_CHECKING:
    from telephony.pbx_sim.server import PbxSimulator

POLL_GRACEFULLY = 1.0  # wait_for_channels_to_die() sleeps a second between looks ...
POLL_NOW = 0.1  # ... or a tenth of a second when it has a timeout
NOW_TIMEOUT = 15.0  # SHUTDOWN_TIMEOUT
SETTLE = 1.0  # "give things in progress a chance to recognize the final shutdown phase"


async def core_stop(simulator: PbxSimulator, *, gracefully: bool, restart: bool) -> None:
    """Stop the PBX (simulated seconds); the caller brings it back for a restart."""
    pbx = simulator.pbx
    if pbx.shutting_down:
        return
    pbx.shutting_down = True
    simulator.stop_traffic()
    if not gracefully:
        for channel in list(pbx.channels):
            pbx.soft_hangup_request(channel, SoftHangup.SHUTDOWN)
    waited, deadline = False, pbx.clock.now() + NOW_TIMEOUT
    while list(pbx.channels) and (gracefully or pbx.clock.now() < deadline):
        waited = True
        await pbx.clock.sleep(POLL_GRACEFULLY if gracefully else POLL_NOW)
    if waited:
        await pbx.clock.sleep(SETTLE)
    cleanly = "Uncleanly" if list(pbx.channels) else "Cleanly"
    pbx.emit(
        event("Shutdown", [("Shutdown", cleanly), ("Restart", "True" if restart else "False")])
    )
    await simulator.close_connections()

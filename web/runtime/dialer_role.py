"""The dialer role: campaign calls; one active, any number standing by (only the holder of
the database's advisory lock dials). With Redis each dialer keeps its state on the dialer
board, for the campaign pages of the other processes."""

from __future__ import annotations

from contextlib import AsyncExitStack

from starlette.datastructures import State

from crm.bus import LocalBus
from telephony.bridge import Bridge
from telephony.dialer import Dialer
from telephony.process_name import process_name
from web.runtime.lifetimes import start_task
from web.services import Services


async def start_dialer(stack: AsyncExitStack, svc: Services, state: State) -> None:
    """Dial through this process's bridge, or else through an AMI session of the dialer's
    own, which follows the calls and never stores them (the PBX's bridge does)."""
    bridge = svc.bridge
    if bridge is None:
        bridge = Bridge(
            svc.settings, svc.database, LocalBus(), clock=svc.clock, records_calls=False
        )
        state.health_probes["pbx"] = bridge.health
        stack.push_async_callback(bridge.bus.close)
        stack.push_async_callback(bridge.stop)
        await bridge.start()
    svc.dialer = Dialer(svc.settings, svc.database, bridge, clock=svc.clock)
    state.health_probes["dialer"] = svc.dialer.health
    start_task(stack, svc.dialer.run(), name="dialer")
    if svc.dialer_board is not None:
        start_task(
            stack, svc.dialer_board.publish(process_name(), svc.dialer.health), name="dialer-board"
        )

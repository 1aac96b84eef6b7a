"""What a request handler may use: one object built at start-up, found on `app.state`."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING

from fastapi import Request

from crm.bus import EventBus
from crm.clock import Clock, local_today
from crm.db import Database
from crm.settings import Settings
from telephony.bridge import Bridge
from telephony.dialer import Dialer

if TYPE_CHECKING:
    from web.agent_states import AgentStates
    from web.metrics import Metrics
    from web.outbox import Outbox


@dataclass
class Services:
    settings: Settings
    database: Database
    clock: Clock
    bus: EventBus
    outbox: Outbox
    metrics: Metrics
    bridge: Bridge | None = None
    agent_states: AgentStates | None = field(default=None)
    dialer: Dialer | None = None

    def today(self) -> date:
        return local_today(self.clock, self.settings.tz)


def services(request: Request) -> Services:
    return request.app.state.services

"""A process's services without its lifespan (no PBX, no background tasks), for tests that
drive one service (screen pops, agent states) by hand."""

from __future__ import annotations

from typing import Any

from crm.bus import LocalBus
from crm.clock import Clock
from crm.db import Database
from crm.settings import load_settings
from web.metrics import Metrics
from web.outbox import Outbox
from web.services import Services


def bare_services(database: Database, clock: Clock, **settings: Any) -> Services:
    """Settings for `database` (and `settings`), a local bus, an outbox and metrics of their
    own."""
    return Services(
        settings=load_settings(database_url=database.url, **settings),
        database=database,
        clock=clock,
        bus=LocalBus(),
        outbox=Outbox(clock=clock),
        metrics=Metrics(),
    )

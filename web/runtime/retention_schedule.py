"""The retention job's schedule in the worker role: a pass soon after start, then every hour,
at the time the injected clock says (so tests and replays decide what is due)."""

from __future__ import annotations

import asyncio
import logging

from crm.retention.planner import RetentionPolicy
from telephony.recordings.retention import RetentionReport, run_retention
from web.services import Services

log = logging.getLogger(__name__)
INTERVAL_SECONDS = 3600.0


async def retention_pass(svc: Services) -> RetentionReport:
    return await run_retention(
        svc.database,
        svc.recording_files,
        policy=RetentionPolicy.of(svc.settings),
        now=svc.clock.now(),
    )


async def run_retention_schedule(
    svc: Services, *, interval: float = INTERVAL_SECONDS, first_after: float = 60.0
) -> None:
    """Until cancelled; a failed pass (database away) is logged and tried at the next hour."""
    await asyncio.sleep(first_after)
    while True:
        try:
            await retention_pass(svc)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("retention pass failed; next in %.0f s", interval)
        await asyncio.sleep(interval)

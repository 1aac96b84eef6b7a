"""The background rounds a web process runs for ever (promised call-back reminders, deadline
warnings, QA sampling): one round now and one every interval after, a failed round logged
and the next one trying again."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable


async def every(
    interval: float,
    check: Callable[[], Awaitable[object]],
    *,
    what: str,
    log: logging.Logger,
    after_round: Callable[[], None] | None = None,
) -> None:
    """`check` now and then every `interval` seconds until cancelled. A round that fails (a
    database hiccup, a bad row) is logged on `log` as `what` failing; what it had to do
    waits in the database for the next round. `after_round`: after each, failed ones too."""
    while True:
        try:
            await check()
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("%s failed; retrying in %.0f s", what, interval)
        if after_round is not None:
            after_round()
        await asyncio.sleep(interval)

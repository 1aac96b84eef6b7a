"""Fills the QA review queue on its own: every CALLCENTRE_QA_SAMPLE_INTERVAL_SECONDS the web
role runs the sampling rules over last week and this one, by the injected clock. Running them
again adds nothing, and several web processes running them at once add each call once."""

from __future__ import annotations

import logging

from crm.audit import service as audit
from crm.quality import review_queue
from crm.quality.review_queue import SamplingRun
from web import periodic
from web.services import Services

log = logging.getLogger(__name__)


class ReviewSampler:
    def __init__(self, svc: Services, *, interval: float | None = None) -> None:
        self.svc = svc
        self.interval = interval or svc.settings.qa_sample_interval_seconds
        self.rounds = 0  # runs finished, failed ones included (tests wait for the first)

    async def check(self) -> SamplingRun:
        """Queue what the rules pick now; the run is audited when it added calls."""
        settings, now = self.svc.settings, self.svc.clock.now()
        async with self.svc.database.session() as session:
            run = await review_queue.sample(
                session,
                weeks=review_queue.weeks_to_sample(now, settings.tz),
                rules=review_queue.rules_of(settings),
                key=review_queue.key_of(settings),
                tz=settings.tz,
                now=now,
            )
            if run.added:
                await audit.record(
                    session,
                    actor="qa-sampling",
                    action="qa.sampled",
                    detail={
                        "weeks": list(run.weeks),
                        "added": {k.value: n for k, n in run.counts().items()},
                        "call_ids": [pick.call_id for pick in run.added],
                    },
                    at=now,
                )
        if run.added:
            log.info("queued %d calls for QA review", len(run.added))
        return run

    async def run(self) -> None:
        await periodic.every(
            self.interval, self.check, what="QA sampling", log=log, after_round=self._counted
        )

    def _counted(self) -> None:
        self.rounds += 1

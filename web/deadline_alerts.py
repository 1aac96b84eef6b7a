"""Pushes warnings about complaints and repairs nearing or past their time limits to the
people responsible, over their websockets. Each warning is claimed once in the database, so
with several server processes only one sends it."""

from __future__ import annotations

import logging

from crm.complaints.alerts import Alert, claim_alerts
from web import periodic
from web.services import Services
from web.ws_messages import DeadlineMessage

log = logging.getLogger(__name__)


def message(alert: Alert) -> DeadlineMessage:
    """The warning as the browser gets it (a kind or state it has no place for is refused)."""
    return DeadlineMessage.model_validate(
        {
            "kind": alert.kind,
            "id": alert.id,
            "step": alert.step,
            "state": alert.state.value,
            "due_at": alert.due_at,
            "customer": alert.customer,
            "owner": alert.owner,
        }
    )


class DeadlineAlerts:
    def __init__(self, svc: Services, *, interval: float = 30.0) -> None:
        self.svc = svc
        self.interval = interval

    async def check(self) -> list[Alert]:
        """Claim and push what is due now."""
        async with self.svc.database.session() as session:
            alerts = await claim_alerts(session, self.svc.complaint_rules, now=self.svc.clock.now())
        for alert in alerts:
            for user_id in alert.recipients:
                self.svc.notify_user(user_id, message(alert))
        if alerts:
            log.info("pushed %d deadline warnings", len(alerts))
        return alerts

    async def run(self) -> None:
        await periodic.every(self.interval, self.check, what="deadline warnings", log=log)

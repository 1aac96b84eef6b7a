"""Reminds agents of the call backs they promised ("稍后再打" at a time) when that time comes:
a "callback_reminder" message on their websocket. Read from the database on every round, and
each reminder claimed there once, so a restart loses none and several processes send each
once."""

from __future__ import annotations

import logging

from crm.callbacks import worklist
from web import periodic
from web.services import Services
from web.ws_messages import CallbackReminderMessage

log = logging.getLogger(__name__)


class CallbackReminders:
    def __init__(self, svc: Services, *, interval: float = 10.0) -> None:
        self.svc = svc
        self.interval = interval

    async def check(self) -> list[worklist.CallBackReminder]:
        """Claim and push the reminders due now."""
        async with self.svc.database.session() as session:
            due = await worklist.claim_reminders(session, now=self.svc.clock.now())
        for reminder in due:
            message = CallbackReminderMessage(
                attempt_id=reminder.attempt_id,
                task_id=reminder.task_id,
                stage=reminder.stage,
                month=reminder.month,
                call_back_at=reminder.call_back_at,
                customer_id=reminder.customer_id,
                customer_name=reminder.customer_name,
                contract_number=reminder.contract_number,
            )
            self.svc.notify_user(reminder.agent_id, message)
        if due:
            log.info("reminded agents of %d promised call back(s)", len(due))
        return due

    async def run(self) -> None:
        await periodic.every(self.interval, self.check, what="callback reminders", log=log)

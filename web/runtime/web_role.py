"""The web role: HTTP and websockets, any number behind a load balancer. Besides the routes
(web/app.py) it runs what the browsers connected here are pushed: screen pops, the
supervisors' live wallboard, deadline warnings, reminders of promised call backs; with Redis,
the messages and websocket endings published on any process for the users whose websocket it
holds. It also fills the QA review queue by the sampling rules."""

from __future__ import annotations

from contextlib import AsyncExitStack

from starlette.datastructures import State

from web import revocation
from web.callback_reminders import CallbackReminders
from web.deadline_alerts import DeadlineAlerts
from web.events import SocketsEnded, UserMessage
from web.pops import POP_EVENTS, PopService
from web.review_sampler import ReviewSampler
from web.runtime.lifetimes import start_task, subscribe
from web.services import Services
from web.wallboard_feed import WALLBOARD_EVENTS, WallboardFeed
from web.ws_messages import PUSHED_MESSAGE


async def start_web(stack: AsyncExitStack, svc: Services, state: State) -> None:
    """Pops, the live wallboard and deadline warnings for this process's websockets."""
    pops = PopService(svc)
    state.pops = pops
    stack.push_async_callback(pops.close)  # once no event reaches it: what its lanes hold
    subscribe(stack, svc.bus, pops.handle, name="screen-pops", types=POP_EVENTS)
    if svc.bus.spans_processes:
        follow_users_messages(stack, svc)
    if svc.remote_pbx is not None:  # the PBX through the bridge: keep its status fresh
        state.health_probes["pbx"] = svc.remote_pbx.health
        start_task(stack, svc.remote_pbx.run(), name="pbx-status")
    state.deadline_alerts = DeadlineAlerts(svc)
    start_task(stack, state.deadline_alerts.run(), name="deadline-alerts")
    state.review_sampler = ReviewSampler(svc)  # the QA review queue, by rule
    start_task(stack, state.review_sampler.run(), name="qa-sampling")
    state.callback_reminders = CallbackReminders(svc)  # promised call backs, when due
    start_task(stack, state.callback_reminders.run(), name="callback-reminders")
    state.wallboard = WallboardFeed(svc)  # supervisors' wallboards, live
    subscribe(stack, svc.bus, state.wallboard.handle, name="wallboard", types=WALLBOARD_EVENTS)
    start_task(stack, state.wallboard.run(), name="wallboard")


def follow_users_messages(stack: AsyncExitStack, svc: Services) -> None:
    """Deliver the messages meant for users whose websocket this process holds (or may hold
    on their return), and close the websockets of sessions ended on any process."""

    async def deliver(message: UserMessage) -> None:
        # Built and checked where it was sent; read back into its model here.
        pushed = PUSHED_MESSAGE.validate_python({**message.payload, "type": message.kind})
        svc.outbox.push(message.user_id, pushed)

    subscribe(stack, svc.bus, deliver, name="user-messages", types=(UserMessage,))

    async def end_sockets(ended: SocketsEnded) -> None:
        await revocation.from_stream(svc, ended)

    subscribe(stack, svc.bus, end_sockets, name="sockets-ended", types=(SocketsEnded,))

"""Queue(): app_queue's ringall queue as Asterisk 22.10.1 runs it (apps/app_queue.c).

joinempty keeps a caller out when nobody can take calls (QUEUESTATUS=JOINEMPTY, no
QueueCallerJoin). Members are rung in ring cycles of `timeout` seconds, cut short by the
caller's queue wait (timeoutpriority=app), `retry` seconds apart; a cycle nobody answers ends
with AgentRingNoAnswer (RingTime in milliseconds), DialEnd NOANSWER and DialEnd CANCEL. When
the wait runs out the caller is recorded as abandoned (QueueCallerAbandon, queue_log
EXITWITHTIMEOUT) although nobody hung up, then leaves with QUEUESTATUS=TIMEOUT and the
dialplan goes on; leavewhenempty does the same with LEAVEEMPTY. A caller who hangs up while
members ring gets each member's DialEnd CANCEL twice; a member's channel hung up while it
rings (`core restart now`) is a DialEnd NOANSWER and AgentRingNoAnswer first. When a member
answers: the caller's connected line becomes the member's caller ID (a PJSIP phone's, as its
driver sent it), bridge, talk, AgentComplete, and the caller is hung up after the talk (no
`c` option).
"""

from __future__ import annotations

from dataclasses import dataclass

from telephony.ami.vocabulary import (
    AgentCompleteReason,
    CdrDisposition,
    DeviceState,
    DialStatus,
    HangupCause,
    QueueResult,
)
from telephony.pbx_sim.apps import HANGUP, AppContext
from telephony.pbx_sim.channels import FAR_FAILURES, CdrSpec, Channel, FarEnd
from telephony.pbx_sim.devices import FAR_STATUS
from telephony.pbx_sim.dialplan import split_args
from telephony.pbx_sim.legs import LegRequest, Requester, dial_string, open_leg, start_far_end
from telephony.pbx_sim.pbx import Pbx
from telephony.pbx_sim.queues import CallQueue, QueueEntry, QueueMember
from telephony.pbx_sim.scenario import talk
from telephony.pbx_sim.technology import technology
from telephony.pbx_sim.transfer import after_bridge
from telephony.pbx_sim.wire import Fields

RECHECK = 1.0  # wait_our_turn looks again every second while it is not this caller's turn
QUEUE_START_VARS = (
    "ANSWEREDTIME", "ANSWEREDTIME_MS", "DIALEDTIME", "DIALEDTIME_MS", "QUEUEWAIT", "QUEUEWAIT_MS",
)  # fmt: skip
# get_member_status(): which member states count as "nobody" for joinempty / leavewhenempty.
EMPTY_STATUSES = {
    "unavailable": DeviceState.UNAVAILABLE,
    "invalid": DeviceState.INVALID,
    "unknown": DeviceState.UNKNOWN,
    "inuse": DeviceState.INUSE,
    "ringing": DeviceState.RINGING,
}


def nobody_can_answer(pbx: Pbx, queue: CallQueue, conditions: frozenset[str]) -> bool:
    """get_member_status(): True when no member escapes every condition (no member at all
    counts as empty)."""
    statuses = {EMPTY_STATUSES[c] for c in conditions if c in EMPTY_STATUSES}
    for member in queue.members.values():
        if member.status in statuses:
            continue
        if member.paused and "paused" in conditions:
            continue
        if "wrapup" in conditions and pbx.clock.now() < member.wrapup_until:
            continue
        return False
    return True


async def queue_app(ctx: AppContext, data: str) -> object:
    """Queue(<name>,<options>,,,<timeout>)."""
    pbx, caller = ctx.pbx, ctx.channel
    args = [*split_args(data), "", "", "", "", ""]
    name, wait_text = args[0].strip(), args[4].strip()
    for variable in QUEUE_START_VARS:
        pbx.set_var(caller, variable, "")
    queue = pbx.queues.get(name)
    if queue is None:  # Queue() on an unknown queue returns at once
        pbx.set_var(caller, "QUEUESTATUS", QueueResult.UNKNOWN)
        return None
    if pbx.config.joinempty and nobody_can_answer(pbx, queue, pbx.config.joinempty):
        pbx.set_var(caller, "QUEUESTATUS", QueueResult.JOINEMPTY)
        return None
    start = pbx.clock.now()
    entry = queue.join(caller, start)
    pbx.refresh_queue_devices(queue)
    pbx.channel_event(
        "QueueCallerJoin",
        caller,
        [
            ("Queue", queue.name),
            ("Position", str(queue.position(entry))),
            ("Count", str(len(queue.entries))),
        ],
    )
    pbx.channel_event("MusicOnHoldStart", caller, [("Class", "default")])
    expire = start + float(wait_text) if wait_text else None
    return await QueueWait(ctx, queue, entry, data).run(expire)


@dataclass(eq=False)
class Attempt:
    """One member's phone ringing for a waiting caller."""

    member: QueueMember
    channel: Channel
    started: float
    rung: bool = False  # its DialState RINGING has been sent


class QueueWait:
    """One caller's stay in a queue: the members rung, and each way the stay can end."""

    def __init__(self, ctx: AppContext, queue: CallQueue, entry: QueueEntry, data: str) -> None:
        self.ctx, self.pbx, self.call = ctx, ctx.pbx, ctx.call
        self.queue, self.entry, self.data = queue, entry, data
        self.caller = ctx.channel
        self.attempts: list[Attempt] = []
        self.rung: list[Channel] = []  # every member channel, for the Cdrs

    async def run(self, expire: float | None) -> object:
        pbx, config, plan = self.pbx, self.pbx.config, self.call.plan
        start = self.entry.joined
        give_up = start + plan.patience if plan.patience is not None else None
        next_try, ring_end, ring_for = start, start, 0.0
        while True:
            now = pbx.clock.now()
            if give_up is not None and now >= give_up:
                pbx.far_hangup(self.caller, HangupCause.NORMAL_CLEARING)  # the customer hangs up
            ringing = bool(self.attempts)
            self._follow_attempts()
            if self.caller.hung_up:
                return self.abandon()
            answered = [a for a in self.attempts if a.channel.far == FarEnd.ANSWERED]
            if answered:
                return await self.connect(answered[0])
            cycle_over = False
            if self.attempts and now >= ring_end:
                self.ring_no_answer(ring_for)
                cycle_over = True
            elif ringing and not self.attempts:  # every member rung refused the call
                cycle_over = True
            elif not self.attempts and now >= next_try:
                if expire is not None and now >= expire:
                    return self.leave_unanswered(QueueResult.TIMEOUT)
                free = [m for m in self.queue.members.values() if pbx.member_ready(m)]
                if self.queue.position(self.entry) > max(1, len(free)):  # autofill: not our turn
                    next_try = now + RECHECK
                else:
                    ring_for = config.member_ring_timeout
                    if expire is not None:
                        ring_for = min(ring_for, expire - now)
                    self.ring(free)
                    ring_end = now + ring_for
                    cycle_over = not self.attempts  # nobody could be rung: the cycle is over
            if cycle_over:  # try_calling() returned: leavewhenempty, the wait, then `retry`
                if config.leavewhenempty and _empty(pbx, self.queue, config.leavewhenempty):
                    return self.leave_unanswered(QueueResult.LEAVEEMPTY)
                if expire is not None and now >= expire:
                    return self.leave_unanswered(QueueResult.TIMEOUT)
                next_try = now + config.retry_seconds
            wake_at = [ring_end if self.attempts else next_try]
            wake_at += [t for t in (expire, give_up) if t is not None]
            await self.call.pause(min(wake_at) - now)

    # -- ringing members -------------------------------------------------------------------

    def ring(self, members: list[QueueMember]) -> None:
        """Call every free member at once (ringall), last member first as app_queue's list of
        outgoing calls runs; their phones (or Local channels) then report ringing."""
        pbx, caller = self.pbx, self.caller
        dialled = []
        for member in reversed(members):
            agent = open_leg(
                pbx,
                LegRequest(
                    interface=member.interface,
                    call=self.call,
                    linkedid=caller.linkedid,
                    app=Requester.QUEUE,
                    caller=(caller.caller_num, caller.caller_name),
                    connected=(caller.caller_num, caller.caller_name),
                    exten=caller.exten,
                    variables=[("DIALEDPEERNUMBER", dial_string(member.interface))],
                ),
            )
            if agent is None:  # the technology refused it: this member is skipped
                continue
            pbx.dial_event("AgentCalled", caller, agent, self._member_fields(member))
            pbx.dial_event("DialBegin", caller, agent, [("DialString", member.interface)])
            dialled.append(agent)
            self.attempts.append(Attempt(member, agent, pbx.clock.now()))
            self.rung.append(agent)
        for agent in dialled:
            start_far_end(pbx, agent, self.ctx.start_far_half)

    def _follow_attempts(self) -> None:
        """DialState for members whose phones ring; a member who refuses drops out."""
        for attempt in list(self.attempts):
            channel = attempt.channel
            if channel.far in FAR_FAILURES or (channel.hung_up and channel.far != FarEnd.ANSWERED):
                self.declined(attempt)
            elif channel.rang and not attempt.rung:
                attempt.rung = True
                self.pbx.newexten(channel, Requester.QUEUE, "(Outgoing Line)")
                self.pbx.dial_event(
                    "DialState", self.caller, channel, [("DialStatus", DialStatus.RINGING)]
                )

    def _member_fields(self, member: QueueMember) -> Fields:
        return [
            ("Queue", self.queue.name),
            ("Interface", member.interface),
            ("MemberName", member.name),
        ]

    def _ring_no_answer_event(self, attempt: Attempt, milliseconds: int) -> None:
        self.pbx.dial_event(
            "AgentRingNoAnswer",
            self.caller,
            attempt.channel,
            [*self._member_fields(attempt.member), ("RingTime", str(milliseconds))],
        )

    def _cancel(self, attempt: Attempt, cause: int, times: int) -> None:
        for _ in range(times):
            self.pbx.dial_event(
                "DialEnd", self.caller, attempt.channel, [("DialStatus", DialStatus.CANCEL)]
            )
        self.pbx.hangup(attempt.channel, cause)

    def ring_no_answer(self, ring_seconds: float) -> None:
        """The ring cycle timed out: rna() for each member with the cycle's length (whole
        seconds, in ms), DialEnd NOANSWER, then hangupcalls()' DialEnd CANCEL and the hangup."""
        milliseconds = round(ring_seconds) * 1000
        for attempt in self.attempts:
            self._ring_no_answer_event(attempt, milliseconds)
        for attempt in self.attempts:
            self.pbx.dial_event(
                "DialEnd", self.caller, attempt.channel, [("DialStatus", DialStatus.NOANSWER)]
            )
        for attempt in self.attempts:
            self._cancel(attempt, HangupCause.NOTDEFINED, 1)
        self.attempts.clear()

    def declined(self, attempt: Attempt) -> None:
        """The member's phone refused the call (busy, congested) or its channel was hung up
        while ringing (ast_read() returned nothing: NOANSWER): its DialEnd says which, then
        rna() with the seconds it rang."""
        pbx, channel = self.pbx, attempt.channel
        elapsed = int(pbx.clock.now() - attempt.started)
        refused = channel.far in FAR_FAILURES
        status = (
            FAR_STATUS[channel.far] if refused and channel.far is not None else DialStatus.NOANSWER
        )
        pbx.dial_event("DialEnd", self.caller, channel, [("DialStatus", status)])
        self._ring_no_answer_event(attempt, elapsed * 1000)
        if refused:
            cause = channel.far_cause or channel.hangup_cause or HangupCause.NORMAL_CLEARING
        else:  # hung up: it ends with the cause it was given (0 from a soft hangup)
            cause = (
                channel.hangup_cause if channel.hangup_cause is not None else HangupCause.NOTDEFINED
            )
        pbx.hangup(channel, cause)
        self.attempts.remove(attempt)

    # -- leaving -----------------------------------------------------------------------------

    def _leave(self) -> int:
        position = self.queue.leave(self.entry)
        self.pbx.channel_event(
            "QueueCallerLeave",
            self.caller,
            [
                ("Queue", self.queue.name),
                ("Position", str(position)),
                ("Count", str(len(self.queue.entries))),
            ],
        )
        self.pbx.set_var(self.caller, "QUEUEPOSITION", str(position))
        self.pbx.refresh_queue_devices(self.queue)
        return position

    def _duration_vars(self) -> None:
        """queue_exec's `stop:`: QUEUEWAIT, DIALEDTIME and ANSWEREDTIME when still empty."""
        pbx, caller = self.pbx, self.caller
        now = pbx.clock.now()
        for name, milliseconds in (
            ("QUEUEWAIT", int((now - self.entry.joined) * 1000)),
            ("DIALEDTIME", int((now - caller.created) * 1000)),
            ("ANSWEREDTIME", 0),
        ):
            if not caller.variables.get(name):
                pbx.set_var(caller, name, str(milliseconds // 1000))
                pbx.set_var(caller, f"{name}_MS", str(milliseconds))

    def _record_abandoned(self) -> None:
        """record_abandoned(): ABANDONED=TRUE and QueueCallerAbandon, for a caller who hung
        up and for one the queue let go (timeout, leavewhenempty) alike."""
        pbx, caller = self.pbx, self.caller
        pbx.set_var(caller, "ABANDONED", "TRUE")
        pbx.channel_event(
            "QueueCallerAbandon",
            caller,
            [
                ("Queue", self.queue.name),
                ("Position", str(self.queue.position(self.entry))),
                ("OriginalPosition", str(self.entry.original_position)),
                ("HoldTime", str(int(pbx.clock.now() - self.entry.joined))),
            ],
        )
        self.queue.abandoned += 1

    def abandon(self) -> object:
        """The caller hung up while waiting."""
        pbx = self.pbx
        pbx.channel_event("MusicOnHoldStop", self.caller)
        for attempt in self.attempts:
            self._cancel(attempt, HangupCause.NOTDEFINED, 2)
        self.attempts.clear()
        self._duration_vars()
        self._record_abandoned()
        self._leave()
        self._no_answer_cdrs()
        return HANGUP

    def leave_unanswered(self, status: QueueResult) -> object:
        """The queue let the caller go (TIMEOUT, LEAVEEMPTY): the dialplan goes on."""
        for attempt in self.attempts:
            self._cancel(attempt, HangupCause.NOTDEFINED, 1)
        self.attempts.clear()
        self._record_abandoned()
        self._duration_vars()
        self.pbx.channel_event("MusicOnHoldStop", self.caller)
        self._leave()
        self.pbx.set_var(self.caller, "QUEUESTATUS", status)
        self._no_answer_cdrs()
        return None

    def _no_answer_cdrs(self) -> None:
        self.caller.cdrs.extend(
            CdrSpec(channel, CdrDisposition.NO_ANSWER, "Queue", self.data) for channel in self.rung
        )

    # -- answered ----------------------------------------------------------------------------

    async def connect(self, winner: Attempt) -> object:
        """A member answered: bridge, talk, and end the call the way it ends."""
        pbx, caller, queue, member = self.pbx, self.caller, self.queue, winner.member
        agent = winner.channel
        pbx.dial_event("DialEnd", caller, agent, [("DialStatus", DialStatus.ANSWER)])
        if technology(agent.tech).sends_connected_line:  # the pending connected-line update
            pbx.set_connected(caller, agent.caller_num, agent.caller_name)
        for attempt in self.attempts:
            if attempt is not winner:
                self._cancel(attempt, HangupCause.ANSWERED_ELSEWHERE, 2)
        self.attempts.clear()
        pbx.channel_event("MusicOnHoldStop", caller)
        now = pbx.clock.now()
        held, ring_time = round(now - self.entry.joined), int(now - winner.started)
        queue.record_holdtime(held)
        member_vars = [
            ("MEMBERINTERFACE", member.interface), ("MEMBERNAME", member.name),
            ("MEMBERCALLS", str(member.calls_taken)), ("MEMBERLASTCALL", str(member.last_call)),
            ("MEMBERPENALTY", str(member.penalty)), ("MEMBERDYNAMIC", str(int(member.dynamic))),
            ("MEMBERREALTIME", "0"),
        ]  # fmt: skip
        entry_vars = [
            ("QEHOLDTIME", str(held)),
            ("QEORIGINALPOS", str(self.entry.original_position)),
        ]
        for variables in (member_vars, entry_vars, self._queue_vars()):
            for channel in (caller, agent):
                for name, value in variables:
                    pbx.set_var(channel, name, value)
        self._leave()
        pbx.set_var(caller, "QUEUEWAIT", str(held))
        pbx.set_var(caller, "QUEUEWAIT_MS", str(int((now - self.entry.joined) * 1000)))
        pbx.dial_event(
            "AgentConnect",
            caller,
            agent,
            [*self._member_fields(member), ("HoldTime", str(held)), ("RingTime", str(ring_time))],
        )
        member.in_call = True
        pbx.bridge(agent, caller)

        ended = await talk(self.call, customer=caller, agent=agent)
        blind = ended.blind_transferred  # a blind transfer (transfer.py): AgentComplete now
        # Redirected (redirect.py): both parties of a Redirect with ExtraChannel go on; one
        # left behind is kicked as the bridge dissolves.
        caller_goes = caller.after_bridge is not None and not caller.hung_up
        agent_goes = agent.after_bridge is not None and not agent.hung_up
        transferred = caller_goes or agent_goes
        end = pbx.clock.now()
        talked = round(end - now)

        def complete(reason: AgentCompleteReason) -> None:
            at = pbx.clock.now()
            pbx.dial_event(
                "AgentComplete",
                caller,
                agent,
                [
                    *self._member_fields(member),
                    ("HoldTime", str(held)),
                    ("TalkTime", str(round(at - now))),
                    ("Reason", reason),
                ],
            )
            queue.record_completed(round(at - now))
            member.calls_taken += 1
            member.last_call = int(at)
            member.in_call = False
            member.wrapup_until = at + pbx.wrapup_seconds(queue, member)

        if blind or not transferred:
            complete(_complete_reason(transferred=blind, by_agent=ended is agent))
        else:
            # app_queue's stasis subscription outlives Queue(): the call is complete when the
            # caller or the member hangs up, whoever is first (handle_hangup).
            def on_hangup(reason: AgentCompleteReason) -> None:
                if not done:
                    done.append(reason)
                    complete(reason)

            done: list[AgentCompleteReason] = []
            caller.on_hangup.append(lambda: on_hangup(AgentCompleteReason.CALLER))
            agent.on_hangup.append(lambda: on_hangup(AgentCompleteReason.AGENT))
        answered_vars = [
            ("ANSWEREDTIME", str(talked)), ("ANSWEREDTIME_MS", str(int((end - now) * 1000))),
            ("DIALEDTIME", str(int(end - caller.created))),
            ("DIALEDTIME_MS", str(int((end - caller.created) * 1000))),
        ]  # fmt: skip
        caller.cdrs.extend(
            CdrSpec(channel, CdrDisposition.NO_ANSWER, "Queue", self.data)
            for channel in self.rung
            if channel is not agent
        )
        caller.cdrs.append(CdrSpec(agent, CdrDisposition.ANSWERED, "Queue", self.data))

        if ended is agent and not transferred:
            pbx.leave_bridge(agent)
            pbx.hangup(agent, agent.hangup_cause or HangupCause.NORMAL_CLEARING)
            pbx.leave_bridge(caller)
            for name, value in [*self._queue_vars(), *answered_vars]:
                pbx.set_var(caller, name, value)
            return HANGUP
        pbx.leave_bridge(caller)
        for name, value in [*self._queue_vars(), *answered_vars]:
            pbx.set_var(caller, name, value)
        pbx.leave_bridge(agent)
        if not transferred:  # the caller hung up
            pbx.hangup(agent, HangupCause.NORMAL_CLEARING)
            return HANGUP
        if agent_goes:  # the member goes on in a dialplan of its own
            await after_bridge(self.ctx, agent)
        else:
            pbx.hangup(
                agent, HangupCause.NORMAL_CLEARING
            )  # the caller went on: the member's part is over
        return await after_bridge(self.ctx, caller) if caller_goes else HANGUP

    def _queue_vars(self) -> Fields:
        queue = self.queue
        return [
            ("QUEUENAME", queue.name), ("QUEUEMAX", str(queue.max_callers)),
            ("QUEUESTRATEGY", queue.strategy), ("QUEUECALLS", str(len(queue.entries))),
            ("QUEUEHOLDTIME", str(queue.holdtime)), ("QUEUETALKTIME", str(queue.talktime)),
            ("QUEUECOMPLETED", str(queue.completed)), ("QUEUEABANDONED", str(queue.abandoned)),
            ("QUEUESRVLEVEL", str(queue.servicelevel)), ("QUEUESRVLEVELPERF", "0.0"),
        ]  # fmt: skip


def _empty(pbx: Pbx, queue: CallQueue, conditions: frozenset[str]) -> bool:
    return nobody_can_answer(pbx, queue, conditions)


def _complete_reason(*, transferred: bool, by_agent: bool) -> AgentCompleteReason:
    if transferred:
        return AgentCompleteReason.TRANSFER
    return AgentCompleteReason.AGENT if by_agent else AgentCompleteReason.CALLER

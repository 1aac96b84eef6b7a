"""Queue(): ring every free member of a ringall queue until one answers, the caller gives up,
or the queue's timeout passes; then bridge and talk, as app_queue does."""

from __future__ import annotations

from dataclasses import dataclass

from telephony.pbx_sim.channels import (
    ANSWERED_ELSEWHERE,
    NORMAL_CLEARING,
    RINGING,
    UNKNOWN_CAUSE,
    UP,
    Channel,
)
from telephony.pbx_sim.pbx import Pbx
from telephony.pbx_sim.queues import CallQueue, QueueEntry, QueueMember, endpoint_of, extension_of
from telephony.pbx_sim.scenario import Call, Dialplan, seconds_text, single_cdr, talk
from telephony.pbx_sim.wire import Fields

RECHECK = 1.0  # app_queue looks for a free member every second while none is free
QUEUE_START_VARS = (
    "ANSWEREDTIME", "ANSWEREDTIME_MS", "DIALEDTIME", "DIALEDTIME_MS", "QUEUEWAIT", "QUEUEWAIT_MS",
)  # fmt: skip


@dataclass(eq=False)
class Attempt:
    """One member's phone ringing for a waiting caller."""

    member: QueueMember
    channel: Channel
    started: float
    answer_at: float | None


async def queue_call(pbx: Pbx, call: Call, dialplan: Dialplan, queue_name: str) -> None:
    """Queue(<name>,t,,,<timeout>): ring all free members until one answers, then talk."""
    config, caller = pbx.config, dialplan.channel
    queue = pbx.queues.get(queue_name)
    dialplan.app("Queue", f"{queue_name},t,,,{seconds_text(config.queue_timeout)}")
    if queue is None:  # Queue() on an unknown queue returns at once
        pbx.set_var(caller, "QUEUESTATUS", "UNKNOWN")
        dialplan.end([single_cdr(pbx, caller, "Queue")])
        return
    for variable in QUEUE_START_VARS:
        pbx.set_var(caller, variable, "")
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

    waiting = QueueWait(pbx, call, dialplan, queue, entry)
    deadline = start + config.queue_timeout
    give_up = start + call.plan.patience if call.plan.patience is not None else None
    next_try, cycle_end = start, start
    while True:
        now = pbx.clock.now()
        if give_up is not None and now >= give_up:
            caller.request_hangup(NORMAL_CLEARING)
        if caller.hung_up:
            waiting.abandon()
            return
        for attempt in [a for a in waiting.attempts if a.channel.hung_up]:
            waiting.declined(attempt)
        answered = [a for a in waiting.attempts if a.answer_at is not None and a.answer_at <= now]
        if answered:
            await waiting.connect(min(answered, key=lambda a: a.answer_at or 0.0))
            return
        if now >= deadline:
            waiting.timeout()
            return
        if waiting.attempts and now >= cycle_end:
            waiting.ring_no_answer()
            next_try = now + config.retry_seconds
        if not waiting.attempts and now >= next_try:
            free = [m for m in queue.members.values() if pbx.member_ready(m)]
            if free and queue.position(entry) <= len(free):  # autofill
                waiting.ring(free)
                cycle_end = now + config.member_ring_timeout
            else:
                next_try = now + RECHECK
        wake_at = [deadline, cycle_end if waiting.attempts else next_try]
        wake_at += [a.answer_at for a in waiting.attempts if a.answer_at is not None]
        if give_up is not None:
            wake_at.append(give_up)
        await call.pause(min(wake_at) - now)


class QueueWait:
    """One caller's stay in a queue: the members rung, and each way the stay can end."""

    def __init__(
        self, pbx: Pbx, call: Call, dialplan: Dialplan, queue: CallQueue, entry: QueueEntry
    ) -> None:
        self.pbx, self.call, self.dialplan = pbx, call, dialplan
        self.queue, self.entry = queue, entry
        self.caller = dialplan.channel
        self.attempts: list[Attempt] = []
        self.rung: list[Channel] = []  # every member channel, for the Cdrs

    def ring(self, members: list[QueueMember]) -> None:
        """Call every free member at once (ringall); their phones then report ringing."""
        pbx, caller, plan = self.pbx, self.caller, self.call.plan
        dialled = []
        for member in members:
            _, resource = endpoint_of(member.interface)
            agent = pbx.new_channel(
                member.interface,
                context=pbx.config.agent_context,
                exten="s",
                linkedid=caller.linkedid,
                wake=self.call.wake,
            )
            pbx.newexten(agent, "AppQueue", "(Outgoing Line)")
            pbx.set_caller(agent, caller.caller_num, caller.caller_name)
            pbx.set_var(agent, "DIALEDPEERNUMBER", resource)
            pbx.set_connected(agent, caller.caller_num, caller.caller_name)
            pbx.dial_event("AgentCalled", caller, agent, self._member_fields(member))
            pbx.dial_event("DialBegin", caller, agent, [("DialString", member.interface)])
            dialled.append((member, agent))
        now = pbx.clock.now()
        for member, agent in dialled:  # 180 Ringing from each phone
            pbx.set_state(agent, RINGING)
            agent.exten = caller.exten  # app_queue gives the member channel the caller's exten
            pbx.newexten(agent, "AppQueue", "(Outgoing Line)")
            pbx.dial_event("DialState", caller, agent, [("DialStatus", "RINGING")])
            delay = pbx.answer_delay(extension_of(member.interface))
            if delay is not None and plan.answer_after is not None:
                delay = plan.answer_after
            if plan.nobody_answers:
                delay = None
            answer_at = None if delay is None else now + delay
            self.attempts.append(Attempt(member, agent, now, answer_at))
            self.rung.append(agent)

    def _member_fields(self, member: QueueMember) -> Fields:
        return [
            ("Queue", self.queue.name),
            ("Interface", member.interface),
            ("MemberName", member.name),
        ]

    def _cancel(self, attempt: Attempt, cause: int) -> None:
        # Asterisk 22 publishes a member's CANCEL twice (see the captures).
        for _ in range(2):
            self.pbx.dial_event("DialEnd", self.caller, attempt.channel, [("DialStatus", "CANCEL")])
        self.pbx.hangup(attempt.channel, cause)

    def _no_answer(self, attempt: Attempt, status: str, cause: int) -> None:
        pbx = self.pbx
        ring_time = int(pbx.clock.now() - attempt.started)
        pbx.dial_event(
            "AgentRingNoAnswer",
            self.caller,
            attempt.channel,
            [*self._member_fields(attempt.member), ("RingTime", str(ring_time))],
        )
        pbx.dial_event("DialEnd", self.caller, attempt.channel, [("DialStatus", status)])
        pbx.hangup(attempt.channel, cause)

    def ring_no_answer(self) -> None:
        """The ring cycle timed out: stop ringing, wait `retry`, ring again."""
        for attempt in self.attempts:
            self._no_answer(attempt, "NOANSWER", UNKNOWN_CAUSE)
        self.attempts.clear()

    def declined(self, attempt: Attempt) -> None:
        """The member's ringing channel was hung up (the phone rejected it)."""
        self.pbx.announce_hangup_request(attempt.channel)
        self._no_answer(attempt, "BUSY", attempt.channel.hangup_cause or NORMAL_CLEARING)
        self.attempts.remove(attempt)

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
        self.pbx.refresh_queue_devices(self.queue)
        return position

    def abandon(self) -> None:
        """The caller hung up while waiting."""
        pbx, caller = self.pbx, self.caller
        pbx.announce_hangup_request(caller)
        pbx.channel_event("MusicOnHoldStop", caller)
        for attempt in self.attempts:
            self._cancel(attempt, UNKNOWN_CAUSE)
        self.attempts.clear()
        held = int(pbx.clock.now() - self.entry.joined)
        pbx.channel_event(
            "QueueCallerAbandon",
            caller,
            [
                ("Queue", self.queue.name),
                ("Position", str(self.queue.position(self.entry))),
                ("OriginalPosition", str(self.entry.original_position)),
                ("HoldTime", str(held)),
            ],
        )
        self._leave()
        self.queue.abandoned += 1
        pbx.hangup(caller, caller.hangup_cause or NORMAL_CLEARING, self._cdrs(None))

    def timeout(self) -> None:
        """The queue's timeout passed: the caller leaves and the dialplan hangs up."""
        for attempt in self.attempts:
            self._cancel(attempt, UNKNOWN_CAUSE)
        self.attempts.clear()
        self.pbx.channel_event("MusicOnHoldStop", self.caller)
        self._leave()
        self.pbx.set_var(self.caller, "QUEUESTATUS", "TIMEOUT")
        self.dialplan.end(self._cdrs(None))

    async def connect(self, winner: Attempt) -> None:
        """A member answered: bridge, talk, and end the call the way the plan says."""
        pbx, caller, queue, member = self.pbx, self.caller, self.queue, winner.member
        agent = winner.channel
        pbx.set_state(agent, UP)
        pbx.dial_event("DialEnd", caller, agent, [("DialStatus", "ANSWER")])
        for attempt in self.attempts:
            if attempt is not winner:
                self._cancel(attempt, ANSWERED_ELSEWHERE)
        self.attempts.clear()
        pbx.channel_event("MusicOnHoldStop", caller)
        now = pbx.clock.now()
        held, ring_time = round(now - self.entry.joined), round(now - winner.started)
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
        position = self._leave()
        pbx.set_var(caller, "QUEUEPOSITION", str(position))
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
        if self.call.recording is not None:
            pbx.recorder.begin(self.call.recording, now)

        ended = await talk(self.call, customer=caller, agent=agent)
        pbx.announce_hangup_request(ended)
        end = pbx.clock.now()
        talked = round(end - now)
        pbx.dial_event(
            "AgentComplete",
            caller,
            agent,
            [
                *self._member_fields(member),
                ("HoldTime", str(held)),
                ("TalkTime", str(talked)),
                ("Reason", "agent" if ended is agent else "caller"),
            ],
        )
        if self.call.recording is not None:
            pbx.recorder.finish(self.call.recording, end)
        queue.record_completed(talked)
        answered_vars = [
            ("ANSWEREDTIME", str(talked)), ("ANSWEREDTIME_MS", str(int((end - now) * 1000))),
            ("DIALEDTIME", str(int(end - self.entry.joined))),
            ("DIALEDTIME_MS", str(int((end - self.entry.joined) * 1000))),
        ]  # fmt: skip

        def member_done() -> None:
            member.calls_taken += 1
            member.last_call = int(end)
            member.in_call = False
            member.wrapup_until = end + queue.wrapuptime

        if ended is agent:
            pbx.leave_bridge(agent)
            member_done()
            pbx.hangup(agent, agent.hangup_cause or NORMAL_CLEARING)
            pbx.leave_bridge(caller)
            for name, value in [*self._queue_vars(), *answered_vars]:
                pbx.set_var(caller, name, value)
            self.dialplan.end(self._cdrs(agent))
        else:
            pbx.leave_bridge(caller)
            for name, value in [*self._queue_vars(), *answered_vars]:
                pbx.set_var(caller, name, value)
            pbx.hangup(caller, caller.hangup_cause or NORMAL_CLEARING, self._cdrs(agent))
            pbx.leave_bridge(agent)
            member_done()
            pbx.hangup(agent, NORMAL_CLEARING)

    def _queue_vars(self) -> Fields:
        queue = self.queue
        return [
            ("QUEUENAME", queue.name), ("QUEUEMAX", str(queue.max_callers)),
            ("QUEUESTRATEGY", queue.strategy), ("QUEUECALLS", str(len(queue.entries))),
            ("QUEUEHOLDTIME", str(queue.holdtime)), ("QUEUETALKTIME", str(queue.talktime)),
            ("QUEUECOMPLETED", str(queue.completed)), ("QUEUEABANDONED", str(queue.abandoned)),
            ("QUEUESRVLEVEL", str(queue.servicelevel)), ("QUEUESRVLEVELPERF", "0.0"),
        ]  # fmt: skip

    def _cdrs(self, winner: Channel | None) -> list[Fields | None]:
        """One Cdr per member rung (the answered one last), or the caller's own."""
        data = self.caller.app_data if self.caller.application == "Queue" else ""
        if not self.rung:
            return [single_cdr(self.pbx, self.caller, "Queue", data)]
        ordered = [ch for ch in self.rung if ch is not winner] + ([winner] if winner else [])
        return [
            self.pbx.cdr(
                self.caller,
                dest=channel,
                disposition="ANSWERED" if channel is winner else "NO ANSWER",
                application="Queue",
                data=data or self._queue_data(),
            )
            for channel in ordered
        ]

    def _queue_data(self) -> str:
        return f"{self.queue.name},t,,,{seconds_text(self.pbx.config.queue_timeout)}"

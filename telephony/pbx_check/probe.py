"""Gathering the facts of `callcentre pbx check` over AMI (the I/O half of the check).

Only actions the product's own manager user may send are used (contract.ACTION_PRIVILEGES):
no `Command`, no `PJSIPShowEndpoint` (write class system), so the check sees the PBX exactly
as the server does. Two things change the PBX briefly, both undone at once:
- per queue, a paused probe member (`Local/pbx-check@cc-selftest`, never rung) is added to
  read the queue's own `ringinuse` (QueueStatus does not report it) and removed again;
- one recording test call (contract.CONTEXT_SELFTEST) records a second into CC_MONITOR_DIR.
A running server sees that call like any other.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

from panoramisk.message import Message

from crm.clock import Clock
from telephony import contract
from telephony.ami.client import AmiError
from telephony.ami.vocabulary import QueueMembership
from telephony.pbx_check.checks import trunk_target
from telephony.pbx_check.conf_files import Step
from telephony.pbx_check.expectations import Expectations
from telephony.pbx_check.facts import (
    DirectoryFacts,
    LiveMember,
    LiveQueue,
    PbxFacts,
    Refused,
    SelfTestFacts,
    TrunkFacts,
    TrunkKind,
)
from telephony.pbx_check.session import CheckSession

PROBE_INTERFACE = f"Local/pbx-check@{contract.CONTEXT_SELFTEST}"
MAX_MEMBERS_READ = 200  # Getvar per member: enough for any call centre this serves

# Finds the file the PBX recorded at a path of its own; raises LookupError saying why not.
Locate = Callable[[str], Path]


def _refused(action: str, answer: Any) -> Refused:
    if isinstance(answer, list):
        answer = answer[0] if answer else None
    message = answer.get("Message") if isinstance(answer, Message) else None
    return Refused(action, str(message or "no answer"))


def _membership(value: Any) -> QueueMembership | None:
    try:
        return QueueMembership(str(value or ""))
    except ValueError:
        return None


def _failed(answer: Any) -> bool:
    first = answer[0] if isinstance(answer, list) and answer else answer
    return not isinstance(first, Message) or first.get("Response") in ("Error", "Failure")


class Probe:
    def __init__(
        self,
        session: CheckSession,
        expected: Expectations,
        *,
        clock: Clock,
        user: str,
        locate: Locate,
        selftest: bool = True,
        wait_recording: float = 5.0,
    ) -> None:
        self.session = session
        self.expected = expected
        self.clock = clock
        self.user = user
        self.locate = locate
        self.run_selftest = selftest
        self.wait_recording = wait_recording
        self.exercised: dict[str, str] = {"system": "logging in (FullyBooted)"}

    async def _action(self, action: dict[str, Any], *, as_list: bool) -> Any:
        try:
            return await self.session.send(action, as_list=as_list)
        except AmiError as exc:
            return Refused(str(action.get("Action")), str(exc))

    async def _single(self, action: dict[str, Any]) -> Message | Refused:
        answer = await self._action(action, as_list=False)
        if isinstance(answer, Refused):
            return answer
        return _refused(action["Action"], answer) if _failed(answer) else answer

    async def _list(self, action: dict[str, Any]) -> list[Message] | Refused:
        answer = await self._action(action, as_list=True)
        if isinstance(answer, Refused):
            return answer
        return _refused(action["Action"], answer) if _failed(answer) else answer[1:]

    async def getvar(self, variable: str) -> str | Refused:
        answer = await self._single({"Action": "Getvar", "Variable": variable})
        return answer if isinstance(answer, Refused) else str(answer.get("Value") or "")

    # -- the facts --------------------------------------------------------------------------

    async def gather(self) -> PbxFacts:
        core = await self._single({"Action": "CoreSettings"})
        commands = await self._commands()
        globals_ = {name: await self.getvar(f"GLOBAL({name})") for name in self.expected.globals}
        dialplan = {c: await self._context(c) for c in self.expected.contexts}
        queues = await self._queues()
        trunk_value = globals_.get(contract.GLOBAL_TRUNK)
        trunk = await self._trunk(trunk_value) if isinstance(trunk_value, str) else None
        selftest, skipped = None, "--no-call" if not self.run_selftest else ""
        if self.run_selftest:
            selftest = await self._selftest(globals_.get(contract.GLOBAL_MONITOR_DIR))
        await self._settle()
        return PbxFacts(
            user=self.user,
            core=core if isinstance(core, Refused) else {k: str(v) for k, v in core.items()},
            commands=commands,
            events=[
                (str(e.get("Event")), _classes(e.get("Privilege"))) for e in self.session.events
            ],
            exercised=self.exercised,
            globals=globals_,
            dialplan=dialplan,
            queues=queues,
            trunk=trunk,
            recordings_dir=directory_facts(self.expected.recordings_dir),
            selftest=selftest,
            selftest_skipped=skipped,
        )

    async def _commands(self) -> dict[str, frozenset[str]] | Refused:
        answer = await self._single({"Action": "ListCommands"})
        if isinstance(answer, Refused):
            return answer
        commands = {}
        for key, value in answer.items():
            text = str(value)
            if key in ("Response", "ActionID") or "(Priv: " not in text:
                continue
            privileges = text.rsplit("(Priv: ", 1)[1].rstrip(")")
            commands[key] = _classes(privileges) - {"<none>", "all"}
        return commands

    async def _context(self, context: str) -> dict[str, list[Step]] | Refused:
        items = await self._list({"Action": "ShowDialPlan", "Context": context})
        if isinstance(items, Refused):
            return items
        extensions: dict[str, list[Step]] = {}
        for item in items:
            priority = str(item.get("Priority") or "")
            if item.get("Event") != "ListDialplan" or not priority.isdigit():
                continue  # includes, ignore patterns, switches, hints
            step = Step(
                int(priority),
                str(item.get("Application") or ""),
                str(item.get("AppData") or ""),
                str(item.get("ExtensionLabel")) if item.get("ExtensionLabel") else None,
            )
            extensions.setdefault(str(item.get("Extension")), []).append(step)
        return extensions

    async def _queues(self) -> dict[str, LiveQueue | Refused | None]:
        items = await self._list({"Action": "QueueStatus"})
        wanted = [q.name for q in self.expected.queues]
        if isinstance(items, Refused):
            return dict.fromkeys(wanted, items)
        params = {str(i.get("Queue")): i for i in items if i.get("Event") == "QueueParams"}
        result: dict[str, LiveQueue | Refused | None] = {}
        for name in wanted:
            if name not in params:
                result[name] = None
                continue
            members = [
                i
                for i in items
                if i.get("Event") == "QueueMember"
                and i.get("Queue") == name
                and i.get("Location") != PROBE_INTERFACE
            ]
            live_members = []
            for member in members[:MAX_MEMBERS_READ]:
                interface = str(member.get("Location"))
                value = await self.getvar(f"QUEUE_MEMBER({name},ringinuse,{interface})")
                live_members.append(
                    LiveMember(
                        interface=interface,
                        state_interface=str(member.get("StateInterface") or interface),
                        membership=_membership(member.get("Membership")),
                        ringinuse=None if isinstance(value, Refused) or not value else value == "1",
                    )
                )
            result[name] = LiveQueue(
                name=name,
                strategy=str(params[name].get("Strategy") or ""),
                members=tuple(live_members),
                ringinuse=await self._queue_ringinuse(name),
            )
        return result

    async def _queue_ringinuse(self, queue: str) -> bool | Refused:
        """A paused probe member takes the queue's ringinuse (app_queue add_to_queue); read it
        with QUEUE_MEMBER() and remove the member again."""
        added = await self._single(
            {
                "Action": "QueueAdd",
                "Queue": queue,
                "Interface": PROBE_INTERFACE,
                "MemberName": "callcentre pbx check",
                "Paused": "true",
            }
        )
        if isinstance(added, Refused) and "already there" not in added.message.lower():
            return added
        self.exercised.setdefault("agent", f"adding a paused probe member to {queue}")
        try:
            value = await self.getvar(f"QUEUE_MEMBER({queue},ringinuse,{PROBE_INTERFACE})")
        finally:
            await self._single(
                {"Action": "QueueRemove", "Queue": queue, "Interface": PROBE_INTERFACE}
            )
        if isinstance(value, Refused):
            return value
        return value.strip() == "1"

    async def _trunk(self, template: str) -> TrunkFacts | None:
        target = trunk_target(template)
        if target is None:
            return None
        if target.kind is TrunkKind.PJSIP:
            context = await self.getvar(f"PJSIP_ENDPOINT({target.name},context)")
            if isinstance(context, Refused):
                return TrunkFacts(target, context)
            detail = f" (calls from it enter [{context}])" if context else ""
            return TrunkFacts(target, bool(context), detail)
        if target.kind is TrunkKind.LOCAL:
            items = await self._list({"Action": "ShowDialPlan", "Context": target.name})
            if isinstance(items, Refused) and "did not find" not in items.message.lower():
                return TrunkFacts(target, items)
            return TrunkFacts(target, not isinstance(items, Refused))
        return TrunkFacts(target, None)

    async def _selftest(self, monitor_dir: str | Refused | None) -> SelfTestFacts:
        token = f"{int(self.clock.now().timestamp())}{random.randrange(10_000):04d}"
        action_id = f"cc-pbx-check-{token}"
        name = f"cc-selftest-{token}.wav"
        default_path = f"{monitor_dir}/{name}" if isinstance(monitor_dir, str) else name
        seen_before = len(self.session.events)
        originate = await self._single(
            {
                "Action": "Originate",
                "ActionID": action_id,
                "Channel": f"Local/{token}@{contract.CONTEXT_SELFTEST}",
                "Context": contract.CONTEXT_SELFTEST,
                "Exten": "wait",
                "Priority": "1",
                "Timeout": "10000",
                "Async": "true",
            }
        )
        if isinstance(originate, Refused):
            return SelfTestFacts(originate, default_path, None, "the call was not placed")
        self.exercised.setdefault("call", "the recording test call (Newchannel)")
        self.exercised.setdefault(
            "dialplan", "the recording test call (VarSet MIXMONITOR_FILENAME)"
        )
        response = await self._wait_event(
            lambda e: e.get("Event") == "OriginateResponse" and e.get("ActionID") == action_id,
            seen_before,
            12.0 if self.session.events else 3.0,  # no event since the login: events are off
        )
        outcome = (
            f"OriginateResponse {response.get('Response')}, reason {response.get('Reason')}"
            if response is not None
            else "no OriginateResponse"
        )
        varset = await self._wait_event(
            lambda e: (
                e.get("Event") == "VarSet"
                and e.get("Variable") == contract.VAR_MIXMONITOR_FILENAME
                and token in str(e.get("Channel"))
            ),
            seen_before,
            2.0 if response is not None and response.get("Response") == "Success" else 0.0,
        )
        pbx_path = str(varset.get("Value")) if varset is not None else default_path
        return await self._find_recording(outcome, pbx_path)

    async def _find_recording(self, outcome: str, pbx_path: str) -> SelfTestFacts:
        started = self.clock.monotonic()
        problem = ""
        while True:
            try:
                local = await asyncio.to_thread(self.locate, pbx_path)
            except LookupError as exc:
                problem = str(exc)
            else:
                waited = self.clock.monotonic() - started
                await asyncio.to_thread(_remove_quietly, local)
                return SelfTestFacts(outcome, pbx_path, local, waited=round(waited, 1))
            if self.clock.monotonic() - started >= self.wait_recording:
                break
            await asyncio.sleep(0.25)
        return SelfTestFacts(outcome, pbx_path, None, problem, round(self.wait_recording, 1))

    async def _wait_event(
        self, predicate: Callable[[Message], bool], since: int, timeout: float
    ) -> Message | None:
        deadline = self.clock.monotonic() + timeout
        while True:
            for event in self.session.events[since:]:
                if predicate(event):
                    return event
            if self.clock.monotonic() >= deadline:
                return None
            await asyncio.sleep(0.05)

    async def _settle(self) -> None:
        """Let the events of the last actions arrive (Asterisk publishes them after the
        response): one more round trip, then a short pause."""
        await self._action({"Action": "Ping"}, as_list=False)
        await asyncio.sleep(0.3)


def _classes(privilege: Any) -> frozenset[str]:
    return frozenset(p.strip().lower() for p in str(privilege or "").split(",") if p.strip())


def _remove_quietly(path: Path) -> None:
    """The test recording is of no use once found; a read-only share keeps it."""
    with contextlib.suppress(OSError):
        path.unlink()


def directory_facts(path: Path) -> DirectoryFacts:
    return DirectoryFacts(
        path=path,
        exists=path.exists(),
        is_dir=path.is_dir(),
        readable=os.access(path, os.R_OK | os.X_OK),
    )

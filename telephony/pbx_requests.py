"""What a web process asks of the PBX it has no connection to: through the bridge.

Requests go on a stream read by the bridge of that PBX (a consumer group, so a request left
unacknowledged by a bridge that died is taken over by the next one), and the answer comes
back on a short-lived list the caller waits on. Every request carries a deadline: one that
arrives late (the bridge was down) is refused rather than acted on, since a call placed
minutes after the agent clicked would surprise everyone. Agent-state requests are
idempotent; an Originate (a call, or a supervisor's spy call) and a call control
(telephony/call_controls.py) are done at most once, guarded by their request id.

The bridge also keeps the PBX's connection status in a key that expires, so a web process
shows "disconnected" when the bridge itself is gone.
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections.abc import Awaitable, Callable
from enum import StrEnum
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError, ResponseError

from crm.agents.models import AgentStatus
from crm.clock import Clock
from telephony.agent_sync import AgentPbxSync, AgentTarget
from telephony.ami.client import AmiError
from telephony.bridge import Bridge
from telephony.call_controls import (
    CallControls,
    ControlKind,
    ControlRefused,
    ControlRequest,
    ControlState,
    Refusal,
    TargetKind,
    TransferTarget,
)
from telephony.process_name import process_name
from telephony.supervision import SpyCall

log = logging.getLogger(__name__)

GROUP = "bridge"
STATUS_TTL_SECONDS = 10
REPLY_TTL_SECONDS = 120


class PbxOp(StrEnum):
    """What a web process can ask the bridge to do (a request's `op`)."""

    APPLY_AGENT = "apply_agent"  # AgentPbxSync.apply
    ORIGINATE = "originate"  # Bridge.originate
    SPY = "spy"  # Bridge.spy: a supervisor listens in, whispers or barges
    CALL_CONTROL = "call_control"  # CallControls.apply: hold, transfer, consult, conference...
    CALL_CONTROL_STATE = "call_control_state"  # CallControls.state


def commands_stream(pbx_id: str) -> str:
    return f"callcentre:pbx:{pbx_id}:commands"


def status_key(pbx_id: str) -> str:
    return f"callcentre:pbx:{pbx_id}:status"


class PbxUnreachable(AmiError):
    """No bridge answered in time (it is down, or Redis is)."""


class RemotePbx:
    """The web role's view of the PBX: its status, and requests through the bridge."""

    def __init__(
        self, redis: Redis, pbx_id: str, *, clock: Clock, action_timeout: float = 10.0
    ) -> None:
        self.redis = redis
        self.pbx_id = pbx_id
        self.clock = clock
        self.action_timeout = action_timeout
        self.connected = False
        self.bridge_seen = False

    async def refresh(self) -> None:
        raw = await self.redis.get(status_key(self.pbx_id))
        status = json.loads(raw) if raw else None
        self.bridge_seen = status is not None
        self.connected = bool(status and status.get("connected"))

    async def run(self, interval: float = 1.0) -> None:
        while True:
            try:
                await self.refresh()
            except RedisError as exc:
                self.connected = False
                log.warning("cannot read the PBX status from Redis: %s", exc)
            await asyncio.sleep(interval)

    def health(self) -> dict[str, Any]:
        return {"connected": self.connected, "via": "bridge", "bridge_running": self.bridge_seen}

    async def request(self, op: PbxOp, args: dict[str, Any], *, timeout: float) -> dict[str, Any]:
        """Send one request and wait for the bridge's answer; PbxUnreachable without one."""
        request_id = uuid.uuid4().hex
        reply = f"callcentre:pbx:reply:{request_id}"
        try:
            await self.redis.xadd(
                commands_stream(self.pbx_id),
                {
                    "id": request_id,
                    "op": op,
                    "args": json.dumps(args, ensure_ascii=False),
                    # Wall time: the bridge reading it is another process, maybe another host.
                    "deadline": str(self.clock.now().timestamp() + timeout),
                    "reply": reply,
                },
                maxlen=10_000,
                approximate=True,
            )
            # Wait a little past the deadline: an answer given at the deadline still counts.
            answer = await self.redis.blpop([reply], timeout=timeout + 2.0)
        except RedisError as exc:
            raise PbxUnreachable(f"Redis: {exc}") from None
        if answer is None:
            raise PbxUnreachable("no answer from the PBX bridge")
        return dict(json.loads(answer[1]))

    async def apply(self, target: AgentTarget) -> bool:
        """AgentPbxSync.apply through the bridge; False if it could not be told (the bridge's
        next resync puts the PBX back in line)."""
        try:
            answer = await self.request(
                PbxOp.APPLY_AGENT,
                {
                    "extension": target.extension,
                    "name": target.name,
                    "status": target.status.value,
                    "reason": target.reason,
                },
                timeout=5.0,
            )
        except PbxUnreachable as exc:
            log.warning("PBX not updated for agent %s: %s", target.extension, exc)
            return False
        return bool(answer.get("ok"))

    async def originate(self, **kwargs: Any) -> str:
        """Bridge.originate through the bridge: its ActionID, or AmiError."""
        answer = await self.request(PbxOp.ORIGINATE, kwargs, timeout=self.action_timeout)
        if not answer.get("ok"):
            raise AmiError(str(answer.get("error") or "refused"))
        return str(answer["action_id"])

    async def spy(self, call: SpyCall) -> str:
        """Bridge.spy through the bridge: its ActionID, or AmiError."""
        answer = await self.request(PbxOp.SPY, call.fields(), timeout=self.action_timeout)
        if not answer.get("ok"):
            raise AmiError(str(answer.get("error") or "refused"))
        return str(answer["action_id"])

    async def call_control(self, request: ControlRequest) -> ControlState:
        """CallControls.apply through the bridge; ControlRefused as there."""
        args = {
            "linkedid": request.linkedid,
            "control": request.control.value,
            "extension": request.extension,
            "target": None
            if request.target is None
            else {"kind": request.target.kind.value, "value": request.target.value},
            "caller_id": request.caller_id,
        }
        # A control waits for the PBX's word on its effect: give it that long and more.
        return _control_answer(
            await self._ask(PbxOp.CALL_CONTROL, args, timeout=self.action_timeout + 10.0)
        )

    async def call_control_state(self, linkedid: str, extension: str | None) -> ControlState:
        """CallControls.state through the bridge."""
        args = {"linkedid": linkedid, "extension": extension}
        return _control_answer(await self._ask(PbxOp.CALL_CONTROL_STATE, args, timeout=5.0))

    async def _ask(self, op: PbxOp, args: dict[str, Any], *, timeout: float) -> dict[str, Any]:
        try:
            return await self.request(op, args, timeout=timeout)
        except PbxUnreachable as exc:
            raise ControlRefused(Refusal.PBX_UNAVAILABLE, str(exc)) from None


def _control_answer(answer: dict[str, Any]) -> ControlState:
    if answer.get("ok"):
        return ControlState.of(answer["state"])
    refusal = str(answer.get("refusal"))
    known = refusal in {r.value for r in Refusal}
    raise ControlRefused(
        Refusal(refusal) if known else Refusal.PBX_UNAVAILABLE,
        str(answer.get("error") or "refused"),
    )


def control_request(args: dict[str, Any]) -> ControlRequest:
    """A ControlRequest from its JSON (RemotePbx.call_control's args)."""
    target = args.get("target")
    return ControlRequest(
        linkedid=str(args["linkedid"]),
        control=ControlKind(args["control"]),
        extension=args.get("extension"),
        target=None
        if target is None
        else TransferTarget(TargetKind(target["kind"]), str(target["value"])),
        caller_id=args.get("caller_id"),
    )


class PbxCommandServer:
    """The bridge's side: carries out the web processes' requests on its PBX."""

    def __init__(
        self,
        redis: Redis,
        bridge: Bridge,
        sync: AgentPbxSync,
        *,
        controls: CallControls | None = None,
        block_ms: int = 2_000,
    ) -> None:
        self.redis = redis
        self.bridge = bridge
        self.sync = sync
        self.controls = controls or CallControls(bridge)
        self.stream = commands_stream(bridge.settings.pbx_id)
        self.consumer = process_name()
        self.block_ms = block_ms
        self.handled = 0

    async def run(self) -> None:
        await self._ensure_group()
        # Requests a previous bridge took and never answered are ours now.
        await self._handle_all(await self._take_over_pending())
        while True:
            try:
                batches: Any = await self.redis.xreadgroup(
                    GROUP, self.consumer, {self.stream: ">"}, count=10, block=self.block_ms
                )
            except RedisError as exc:
                if isinstance(exc, ResponseError) and str(exc).startswith("NOGROUP"):
                    log.warning("the PBX requests stream has no group (Redis lost its data)")
                    # From the start of the new stream: what was asked since is still
                    # answered (or refused, past its deadline).
                    await self._ensure_group(start="0")
                    continue
                log.warning("cannot read PBX requests from Redis (%s); retrying", exc)
                await asyncio.sleep(1.0)
                continue
            for _stream, entries in batches or ():
                await self._handle_all(entries)

    async def publish_status(self, interval: float = 2.0) -> None:
        while True:
            try:
                await self.redis.set(
                    status_key(self.bridge.settings.pbx_id),
                    json.dumps(
                        {
                            "connected": self.bridge.client.connected,
                            "at": self.bridge.clock.now().timestamp(),
                        }
                    ),
                    ex=STATUS_TTL_SECONDS,
                )
            except RedisError as exc:
                log.warning("cannot write the PBX status to Redis: %s", exc)
            await asyncio.sleep(interval)

    async def _ensure_group(self, start: str = "$") -> None:
        while True:
            try:
                await self.redis.xgroup_create(self.stream, GROUP, id=start, mkstream=True)
                return
            except ResponseError as exc:
                if "BUSYGROUP" in str(exc):
                    return
                raise
            except RedisError as exc:
                log.warning("cannot reach Redis (%s); retrying", exc)
                await asyncio.sleep(1.0)

    async def _take_over_pending(self) -> list[Any]:
        taken: list[Any] = []
        cursor = "0-0"
        while True:
            claimed: Any = await self.redis.xautoclaim(
                self.stream, GROUP, self.consumer, min_idle_time=0, start_id=cursor, count=100
            )
            cursor = claimed[0]
            taken.extend(claimed[1])
            if str(cursor) == "0-0":
                return taken

    async def _handle_all(self, entries: list[Any]) -> None:
        for entry_id, fields in entries:
            try:
                await self.handle(fields)
            except Exception:
                log.exception("PBX request %s failed", fields.get("op"))
            await self.redis.xack(self.stream, GROUP, entry_id)
            self.handled += 1

    async def handle(self, fields: dict[str, str]) -> None:
        op, reply = fields.get("op"), fields.get("reply")
        if float(fields.get("deadline") or 0) < self.bridge.clock.now().timestamp():
            answer: dict[str, Any] = {"ok": False, "error": "the request expired"}
        elif op == PbxOp.APPLY_AGENT:
            args = json.loads(fields["args"])
            answer = {
                "ok": await self.sync.apply(
                    AgentTarget(
                        args["extension"], args["name"], AgentStatus(args["status"]), args["reason"]
                    )
                )
            }
        elif op == PbxOp.ORIGINATE:
            args = json.loads(fields["args"])
            answer = await self._once(fields["id"], lambda: self.bridge.originate(**args))
        elif op == PbxOp.SPY:
            try:
                call = SpyCall.from_fields(json.loads(fields["args"]))
            except (ValueError, KeyError, TypeError) as exc:
                answer = {"ok": False, "error": f"bad spy request: {exc}"}
            else:
                answer = await self._once(fields["id"], lambda: self.bridge.spy(call))
        elif op == PbxOp.CALL_CONTROL:
            answer = await self._control_once(fields["id"], json.loads(fields["args"]))
        elif op == PbxOp.CALL_CONTROL_STATE:
            args = json.loads(fields["args"])
            answer = self._controlled(
                lambda: self.controls.state(args["linkedid"], args["extension"])
            )
        else:
            answer = {"ok": False, "error": f"unknown request {op!r}"}
        if reply:
            await self.redis.rpush(reply, json.dumps(answer, ensure_ascii=False))
            await self.redis.expire(reply, REPLY_TTL_SECONDS)

    async def _control_once(self, request_id: str, args: dict[str, Any]) -> dict[str, Any]:
        if not await self.redis.set(f"callcentre:pbx:done:{request_id}", "1", nx=True, ex=3600):
            return {
                "ok": False,
                "refusal": Refusal.PBX_UNAVAILABLE.value,
                "error": "already handled",
            }
        try:
            request = control_request(args)
        except (KeyError, ValueError) as exc:
            return {"ok": False, "refusal": Refusal.NOT_NOW.value, "error": f"bad request: {exc}"}
        try:
            state = await self.controls.apply(request)
        except ControlRefused as exc:
            return {"ok": False, "refusal": exc.refusal.value, "error": exc.message}
        return {"ok": True, "state": state.as_dict()}

    @staticmethod
    def _controlled(read: Callable[[], ControlState]) -> dict[str, Any]:
        try:
            return {"ok": True, "state": read().as_dict()}
        except ControlRefused as exc:
            return {"ok": False, "refusal": exc.refusal.value, "error": exc.message}

    async def _once(
        self, request_id: str, originate: Callable[[], Awaitable[str]]
    ) -> dict[str, Any]:
        """An Originate done at most once for its request, however often it is delivered."""
        if not await self.redis.set(f"callcentre:pbx:done:{request_id}", "1", nx=True, ex=3600):
            return {"ok": False, "error": "already handled"}
        try:
            return {"ok": True, "action_id": await originate()}
        except AmiError as exc:
            return {"ok": False, "error": str(exc)}

"""The AMI client over real TCP: login failure, watchdog, reconnects, timeouts, bad bytes."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from panoramisk.message import Message
from pydantic import SecretStr

from crm.clock import SystemClock
from telephony.ami.bad_frames import BadFrames
from telephony.ami.client import (
    AmiActionTimeout,
    AmiAuthenticationError,
    AmiClient,
    AmiConnectionError,
    AmiEndpoint,
    _Protocol,
)
from telephony.ami.framing import FrameDecoder, read_capture
from tests.conftest import FIXTURES
from tests.support.scripted_ami import ScriptedAmi, frame
from tests.support.waiting import until


def _client(
    port: int,
    events: list[Message] | None = None,
    secret: str = "test",
    ping_interval: float = 0.2,
) -> AmiClient:
    received = events if events is not None else []
    return AmiClient(
        AmiEndpoint("127.0.0.1", port, "callcentre", SecretStr(secret)),
        on_event=received.append,
        action_timeout=2.0,
        ping_interval=ping_interval,
        ping_timeout=0.3,
        backoff_min=0.05,
        backoff_max=0.2,
        clock=SystemClock(),
    )


@pytest.fixture
async def peer() -> AsyncIterator[ScriptedAmi]:
    server = ScriptedAmi()
    await server.start()
    yield server
    await server.stop()


async def test_bad_secret_is_a_clear_error_and_never_retried(peer: ScriptedAmi) -> None:
    client = _client(peer.port, secret="wrong")
    with pytest.raises(AmiAuthenticationError) as caught:
        await asyncio.wait_for(client.run(), 5)
    message = str(caught.value)
    assert "127.0.0.1" in message and "callcentre" in message
    assert "Authentication failed" in message and "wrong" not in message
    await asyncio.sleep(0.3)
    assert peer.connections == 1


def _refusal_during_shutdown() -> dict[str, str]:
    """The login answer of a real Asterisk 22 that is shutting down (the capture's)."""
    [answer, _] = read_capture(
        (FIXTURES / "pbx_core_stop_and_login_during_shutdown.login.txt").read_bytes()
    )
    assert answer["Message"] == "Asterisk is shutting down"
    return {k: str(v) for k, v in answer.items() if k != "content"}


async def test_login_refused_while_asterisk_shuts_down_is_retried(peer: ScriptedAmi) -> None:
    peer.login_refusals = [_refusal_during_shutdown(), _refusal_during_shutdown()]
    client = _client(peer.port)
    errors: list[str | None] = []
    task = asyncio.create_task(client.run())

    def connected_noting_each_error() -> bool:
        errors.append(client.last_error)
        return client.connected

    await until(connected_noting_each_error, timeout=5)
    assert peer.connections == 3 and not task.done()
    assert any(e and "Asterisk is shutting down" in e for e in errors)
    assert client.last_error is None
    await client.close()
    await asyncio.wait_for(task, 2)


@pytest.mark.parametrize(
    ("message", "definite"),
    [
        ("Authentication failed", True),
        ("Asterisk is shutting down", False),
        ("Permission denied", False),
        ("", False),
    ],
)
async def test_only_a_definite_authentication_failure_stops_the_client(
    message: str, definite: bool
) -> None:
    server = ScriptedAmi(login_refusals=[{"Response": "Error", "Message": message}])
    port = await server.start()
    client = _client(port)
    task = asyncio.create_task(client.run())
    try:
        if definite:
            with pytest.raises(AmiAuthenticationError):
                await asyncio.wait_for(task, 5)
        else:
            await until(lambda: client.connected, timeout=5)
            assert server.connections == 2, message
    finally:
        await client.close()
        await asyncio.gather(task, return_exceptions=True)
        await server.stop()


async def test_pbx_closing_the_socket_is_reported_at_once(peer: ScriptedAmi) -> None:
    """Asterisk closes the connection (restart, crash): the listener hears of it without
    waiting for the watchdog's next Ping."""
    changes: list[str] = []

    async def connected() -> None:
        changes.append("connected")

    client = AmiClient(
        AmiEndpoint("127.0.0.1", peer.port, "callcentre", SecretStr("test")),
        on_event=lambda _: None,
        on_connected=connected,
        on_disconnected=lambda reason: changes.append(f"disconnected: {reason}"),
        ping_interval=60.0,  # the watchdog cannot be what notices
        backoff_min=5.0,
        backoff_max=5.0,
        clock=SystemClock(),
    )
    task = asyncio.create_task(client.run())
    await until(lambda: changes == ["connected"])
    started = time.monotonic()
    for writer in peer.writers:
        writer.close()
    await until(lambda: len(changes) == 2, timeout=2)
    assert time.monotonic() - started < 1.0
    assert changes[1].startswith("disconnected: ") and "closed" in changes[1]
    await client.close()
    await asyncio.wait_for(task, 2)


async def test_login_sends_credentials_and_events_on(peer: ScriptedAmi) -> None:
    events: list[Message] = []
    client = _client(peer.port, events)
    task = asyncio.create_task(client.run())
    await until(lambda: client.connected)
    login = peer.received[0]
    assert (login["Action"], login["Username"], login["Secret"], login["Events"]) == (
        "Login",
        "callcentre",
        "test",
        "on",
    )
    await until(lambda: any(e.get("Event") == "FullyBooted" for e in events))
    await client.close()
    await asyncio.wait_for(task, 2)
    assert peer.received[-1]["Action"] == "Logoff"


async def test_silent_peer_is_dropped_by_the_watchdog(
    peer: ScriptedAmi, caplog: pytest.LogCaptureFixture
) -> None:
    peer.silent_after_login = True
    client = _client(peer.port)
    # Each login is answered; afterwards the peer answers nothing, not even Ping.
    task = asyncio.create_task(client.run())
    await until(lambda: peer.connections >= 2, timeout=5)
    assert "no answer to Ping within 0.3 s" in caplog.text
    await client.close()
    await asyncio.wait_for(task, 2)


async def test_dropped_connection_is_reconnected_with_backoff(peer: ScriptedAmi) -> None:
    peer.close_after_login = True
    client = _client(peer.port)
    task = asyncio.create_task(client.run())
    await until(lambda: peer.connections >= 4, timeout=5)
    await client.close()
    await asyncio.wait_for(task, 2)
    assert client.connections >= 3


async def test_refused_connection_is_retried(peer: ScriptedAmi) -> None:
    await peer.stop()
    client = _client(peer.port)
    task = asyncio.create_task(client.run())
    await asyncio.sleep(0.5)
    assert not client.connected and client.last_error
    await client.close()
    await asyncio.wait_for(task, 2)


async def test_every_action_has_a_timeout(peer: ScriptedAmi) -> None:
    peer.replies = {"QueuePause": lambda action: None}  # never answered
    client = _client(peer.port, ping_interval=5)
    task = asyncio.create_task(client.run())
    await until(lambda: client.connected)
    started = time.monotonic()
    with pytest.raises(AmiActionTimeout, match="QueuePause"):
        await client.send(
            {"Action": "QueuePause", "Interface": "PJSIP/1001"}, as_list=False, timeout=0.3
        )
    assert time.monotonic() - started < 1.5
    assert client.connected  # a slow action does not cost the connection
    await client.close()
    await asyncio.wait_for(task, 2)


async def test_originate_is_async_and_not_resent_after_a_drop(peer: ScriptedAmi) -> None:
    seen = []

    def originate(action: dict[str, str]) -> bytes | None:
        seen.append(action)
        for writer in peer.writers:
            writer.close()  # the PBX dies before answering
        return None

    peer.replies = {"Originate": originate}
    client = _client(peer.port, ping_interval=5)
    task = asyncio.create_task(client.run())
    await until(lambda: client.connected)
    with pytest.raises(AmiConnectionError):
        await client.originate(
            channel="PJSIP/1001",
            context="callback",
            exten="13900139000",
            variables={"CC_ATTEMPT_ID": "7"},
        )
    await until(lambda: client.connected and peer.connections == 2)
    await asyncio.sleep(0.3)
    assert len(seen) == 1, "the Originate must not be replayed on the new connection"
    assert seen[0]["Async"] == "true" and seen[0]["Variable"] == "CC_ATTEMPT_ID=7"
    await client.close()
    await asyncio.wait_for(task, 2)


async def test_list_action_error_completes_instead_of_hanging(peer: ScriptedAmi) -> None:
    client = _client(peer.port, ping_interval=5)
    task = asyncio.create_task(client.run())
    await until(lambda: client.connected)
    result = await client.send({"Action": "Queues"}, as_list=True, timeout=1)
    assert result[0]["Response"] == "Error" and "Queues" in result[0]["Message"]
    await client.close()
    await asyncio.wait_for(task, 2)


async def test_list_action_returns_the_whole_list(peer: ScriptedAmi) -> None:
    capture = (FIXTURES / "queue_status_idle.txt").read_bytes()
    listed = [m for m in read_capture(capture) if m.get("ActionID") == "qstatus-1"]

    def status(action: dict[str, str]) -> bytes:
        return b"".join(
            frame(**{**dict(m.items()), "ActionID": action["ActionID"]}) for m in listed
        )

    peer.replies = {"QueueStatus": status}
    client = _client(peer.port, ping_interval=5)
    task = asyncio.create_task(client.run())
    await until(lambda: client.connected)
    done: list[list[Message]] = []
    result = await client.send({"Action": "QueueStatus"}, as_list=True, on_complete=done.append)
    assert [m.get("Event") or m.get("Response") for m in result] == [
        "Success",
        "QueueParams",
        "QueueMember",
        "QueueMember",
        "QueueParams",
        "QueueMember",
        "QueueStatusComplete",
    ]
    assert done == [result]
    await client.close()
    await asyncio.wait_for(task, 2)


async def test_chinese_split_across_reads_and_garbage_frames(peer: ScriptedAmi) -> None:
    events: list[Message] = []
    client = _client(peer.port, events, ping_interval=5)
    task = asyncio.create_task(client.run())
    await until(lambda: client.connected)
    data = frame(
        Event="Newchannel",
        Channel="PJSIP/trunk-00000001",
        CallerIDName="王建国",
        Uniqueid="1.1",
        Linkedid="1.1",
    )
    cut = data.index("王".encode()) + 1  # inside the first character's three bytes
    peer.broadcast(b"\xff\xfe garbage without colon\r\n\r\nEvent\r\n\r\n" + data[:cut])
    await asyncio.sleep(0.05)
    peer.broadcast(data[cut:] + frame(Event="Hangup", Uniqueid="1.1", Linkedid="1.1"))
    await until(lambda: any(e.get("Event") == "Hangup" for e in events))
    newchannel = next(e for e in events if e.get("Event") == "Newchannel")
    assert newchannel["CallerIDName"] == "王建国"
    await client.close()
    await asyncio.wait_for(task, 2)


async def test_an_oversized_frame_is_dropped_and_the_connection_kept(peer: ScriptedAmi) -> None:
    events: list[Message] = []
    client = _client(peer.port, events, ping_interval=5)
    task = asyncio.create_task(client.run())
    await until(lambda: client.connected)
    huge = b"Event: Newchannel\r\nX: " + b"a" * (1 << 20) + b"\r\n\r\n"
    for start in range(0, len(huge), 65536):  # as TCP delivers it: many reads
        peer.broadcast(huge[start : start + 65536])
        await asyncio.sleep(0)
    peer.broadcast(frame(Event="Hangup", Uniqueid="1.1", Linkedid="1.1"))
    await until(lambda: any(e.get("Event") == "Hangup" for e in events))
    assert [e.get("Event") for e in events if e.get("Event") != "FullyBooted"] == ["Hangup"]
    assert client.bad_frames.counts == {"oversized": 1}
    assert peer.connections == 1 and client.connected
    await client.close()
    await asyncio.wait_for(task, 2)


async def test_an_endless_frame_costs_the_connection_not_the_memory(
    peer: ScriptedAmi, caplog: pytest.LogCaptureFixture
) -> None:
    """A peer that never ends its frame swallows the Ping answers too: the watchdog drops it."""
    client = _client(peer.port, ping_interval=0.3)
    task = asyncio.create_task(client.run())
    await until(lambda: client.connected)
    peer.broadcast(b"Event: Huge\r\nX: " + b"a" * (1 << 20) + b"b" * 1000)
    await until(lambda: peer.connections >= 2, timeout=5)
    assert client.bad_frames.counts["oversized"] == 1
    assert "no answer to Ping within 0.3 s" in caplog.text
    await client.close()
    await asyncio.wait_for(task, 2)


class _Factory:
    def __init__(self) -> None:
        self.bad_frames = BadFrames(SystemClock())  # what the client's manager keeps
        self.events: list[Message] = []
        self.awaiting_actions: list = []
        self.forgetable_actions = ("ping", "login")

    def dispatch(self, message: Message) -> None:
        self.events.append(message)

    def connection_lost(self, exc: Exception | None) -> None:
        pass


class _Transport(asyncio.Transport):
    def close(self) -> None:
        pass


def _protocol() -> tuple[_Protocol, _Factory]:
    protocol = _Protocol()
    protocol.connection_made(_Transport())
    factory = _Factory()
    protocol.factory = factory
    return protocol, factory


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(
    chunks=st.lists(
        st.one_of(
            st.binary(max_size=300),
            st.text(max_size=200).map(lambda t: t.encode("utf-8", "surrogatepass")),
            st.sampled_from(
                [
                    b"\r\n\r\n",
                    b"Event: ",
                    b": ",
                    b"\r\n",
                    b"Response: Follows\r\n",
                    b"ActionID: x\r\n",
                    b"Event: Hangup\r\nUniqueid: <unknown>\r\n\r\n",
                    "CallerIDName: 王".encode()[:-1],
                ]
            ),
        ),
        max_size=30,
    )
)
def test_random_bytes_never_crash_the_reader(chunks: list[bytes]) -> None:
    protocol, factory = _protocol()
    for chunk in chunks:
        protocol.data_received(chunk)
    # A valid event after any garbage still gets through once the frame boundary is seen.
    protocol.data_received(b"\r\n\r\n" + frame(Event="Ping-Test", Value="ok"))
    assert factory.events and factory.events[-1].get("Event") == "Ping-Test"


def test_frame_decoder_matches_the_captures_exactly() -> None:
    for path in FIXTURES.glob("*.txt"):
        if path.name.endswith(".sent.txt"):
            continue
        data = path.read_bytes()
        whole = list(read_capture(data))
        decoder = FrameDecoder()
        pieces = []
        for i in range(0, len(data), 7):  # tiny TCP reads
            pieces += list(decoder.feed(data[i : i + 7]))
        assert len(pieces) == len(whole)

"""A real Asterisk shutting down (the shared capture): the bridge reports the outage at once,
keeps retrying a login refused during the shutdown, and /healthz and /metrics say so."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import select

from crm.calls.models import Call
from crm.db import Database
from crm.settings import Settings, load_settings
from telephony.ami.framing import read_capture
from telephony.events import PbxConnection
from tests.conftest import FIXTURES
from tests.support.api import running_app
from tests.support.scripted_ami import ScriptedAmi
from tests.support.waiting import until

CAPTURE = "pbx_core_stop_and_login_during_shutdown"


def _events_until_shutdown() -> bytes:
    """The capture's bytes from its first event to `Shutdown`: what a bridge logged in during
    a `core stop gracefully` receives before Asterisk closes the socket."""
    data = (FIXTURES / f"{CAPTURE}.txt").read_bytes()
    frames = data.split(b"\r\n\r\n")
    start = next(i for i, f in enumerate(frames) if f.startswith(b"Event: Newchannel"))
    end = next(i for i, f in enumerate(frames) if f.startswith(b"Event: Shutdown"))
    return b"".join(f + b"\r\n\r\n" for f in frames[start : end + 1])


def _refusal() -> dict[str, str]:
    [answer, _] = read_capture((FIXTURES / f"{CAPTURE}.login.txt").read_bytes())
    return {k: str(v) for k, v in answer.items() if k != "content"}


def _settings(database: Database, port: int) -> Settings:
    return load_settings(
        database_url=database.url,
        ami_port=port,
        ami_secret="test",
        ami_ping_interval=30,  # the watchdog must not be what notices
        ami_reconnect_min=0.2,
        ami_reconnect_max=0.4,
    )


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_shutdown_is_reported_at_once_and_the_login_refusal_retried(db: Database) -> None:
    peer = ScriptedAmi()
    port = await peer.start()
    try:
        async with running_app(_settings(db, port), db, with_bridge=True) as api:
            svc = api.app.state.services
            seen: list[PbxConnection] = []

            async def record(event: PbxConnection) -> None:
                seen.append(event)

            svc.bus.subscribe(record, name="test", types=(PbxConnection,))
            client = api.anonymous()
            await until(lambda: svc.bridge.client.connected)
            # The capture's events arrive, then Asterisk closes the socket; the next logins
            # are refused by the same shutdown, then the PBX is back.
            peer.login_refusals = [_refusal(), _refusal()]
            peer.broadcast(_events_until_shutdown())
            await until(lambda: svc.bridge.events_processed > 0)
            for writer in peer.writers:
                writer.close()
            await until(lambda: any(not e.connected for e in seen), timeout=1)
            response = await client.get("/healthz")
            assert response.status_code == 503
            body = response.json()
            assert body["status"] == "degraded" and body["pbx"]["connected"] is False
            assert body["pbx"]["stopped"] is False
            metrics = (await client.get("/metrics")).text
            assert "callcentre_pbx_connected 0.0" in metrics
            await until(lambda: svc.bridge.client.connected, timeout=10)
            assert svc.bridge.fatal is None
            assert peer.connections == 4  # the capture's session, two refusals, then back
            assert any(
                e.connected for e in seen[seen.index(next(e for e in seen if not e.connected)) :]
            )
            response = await client.get("/healthz")
            assert response.status_code == 200 and response.json()["status"] == "ok"
            # The capture's call (abandoned during the shutdown) was stored.
            await svc.bridge.drain()
            [call] = await _calls(db)
            assert (call.outcome, call.answered_at) == ("abandoned", None)
    finally:
        await peer.stop()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_wrong_credentials_stop_the_bridge_loudly(db: Database) -> None:
    peer = ScriptedAmi(secret="the-right-one")
    port = await peer.start()
    try:
        async with running_app(_settings(db, port), db, with_bridge=True) as api:
            svc = api.app.state.services
            await until(lambda: svc.bridge.fatal is not None, timeout=5)
            response = await api.anonymous().get("/healthz")
            assert response.status_code == 503
            body = response.json()
            assert body["status"] == "error" and body["pbx"]["stopped"] is True
            assert "Authentication failed" in body["pbx"]["error"]
            assert "callcentre_pbx_stopped 1.0" in (await api.anonymous().get("/metrics")).text
            await asyncio.sleep(1.0)  # several reconnect intervals: none is tried
            assert peer.connections == 1
    finally:
        await peer.stop()


async def _calls(db: Database) -> list[Call]:
    async with db.session() as session:
        return list(await session.scalars(select(Call)))

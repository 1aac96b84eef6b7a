"""Behind a reverse proxy: the client's address (login throttling, the audit log) and scheme
(HSTS) come from `X-Forwarded-*` only when the peer is a proxy named in
CALLCENTRE_TRUSTED_PROXIES; anyone else's headers are ignored, and uvicorn's own habit of
trusting 127.0.0.1 is off."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest
import uvicorn

from crm.audit import service as audit
from crm.clock import FixedClock
from crm.db import Database
from crm.settings import ConfigurationError, load_settings
from tests.support.api import PASSWORD, Api, running_app
from tests.support.live import free_port
from web.server import web_config

PROXY = "10.0.0.7"  # in the trusted network below
OUTSIDER = "203.0.113.9"
CLIENT_A, CLIENT_B = "198.51.100.20", "198.51.100.21"


@asynccontextmanager
async def app_behind(
    sqlite_url: str, clock: FixedClock, proxies: str | None
) -> AsyncIterator[tuple[Api, Database]]:
    settings = load_settings(
        database_url=sqlite_url,
        **({"trusted_proxies": proxies} if proxies is not None else {}),
    )
    database = Database(sqlite_url)
    try:
        async with running_app(settings, database, clock=clock) as api:
            yield api, database
    finally:
        await database.dispose()


def peer(api: Api, address: str) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=api.app, client=(address, 40000))
    return httpx.AsyncClient(transport=transport, base_url=api.base_url)


async def login(
    client: httpx.AsyncClient, password: str, forwarded_for: str | None = None
) -> httpx.Response:
    headers = {"X-Forwarded-For": forwarded_for} if forwarded_for else {}
    return await client.post(
        "/api/auth/login",
        json={"username": "supervisor", "password": password},
        headers=headers,
    )


async def failed_login_addresses(database: Database) -> list[str]:
    async with database.session() as session:
        entries = await audit.get_all(session, action="login_failed")
    return sorted(entry.ip or "" for entry in entries)


async def test_a_trusted_proxy_names_the_client_and_an_outsider_cannot(
    sqlite_url: str, clock: FixedClock
) -> None:
    async with app_behind(sqlite_url, clock, "10.0.0.0/24") as (api, database):
        async with peer(api, PROXY) as proxy, peer(api, OUTSIDER) as outsider:
            # The client's forged entry comes first; the proxy appends who really connected.
            assert (await login(proxy, "wrong", f"6.6.6.6, {CLIENT_A}")).status_code == 401
            assert (await login(outsider, "wrong", CLIENT_B)).status_code == 401
        assert await failed_login_addresses(database) == sorted([OUTSIDER, CLIENT_A])


async def test_without_trusted_proxies_the_header_is_ignored(
    sqlite_url: str, clock: FixedClock
) -> None:
    async with app_behind(sqlite_url, clock, None) as (api, database):
        async with peer(api, PROXY) as proxy:
            assert (await login(proxy, "wrong", CLIENT_A)).status_code == 401
        assert await failed_login_addresses(database) == [PROXY]


@pytest.mark.parametrize(("proxies", "b_is_throttled"), [("10.0.0.0/24", False), ("", True)])
async def test_one_clients_failures_behind_the_proxy_do_not_slow_another(
    sqlite_url: str, clock: FixedClock, proxies: str, b_is_throttled: bool
) -> None:
    """Unconfigured, every client behind the proxy is one address: one person's typos (5
    free checks, then delays) make everyone behind the proxy wait."""
    async with app_behind(sqlite_url, clock, proxies) as (api, _):
        async with peer(api, PROXY) as proxy:
            for _ in range(6):
                await login(proxy, "wrong", CLIENT_A)
            assert (await login(proxy, "wrong", CLIENT_A)).status_code == 429
            answer = await login(proxy, PASSWORD, CLIENT_B)
        assert answer.status_code == (429 if b_is_throttled else 200), answer.text


async def test_the_scheme_comes_from_the_trusted_proxy(sqlite_url: str, clock: FixedClock) -> None:
    """HSTS is sent on https only; a trusted proxy that ended TLS says it was https."""
    async with app_behind(sqlite_url, clock, PROXY) as (api, _):
        https = {"X-Forwarded-Proto": "https"}
        async with peer(api, PROXY) as proxy, peer(api, OUTSIDER) as outsider:
            through_proxy = await proxy.get("/healthz", headers=https)
            direct = await outsider.get("/healthz", headers=https)
    assert "strict-transport-security" in through_proxy.headers
    assert "strict-transport-security" not in direct.headers


@pytest.mark.parametrize("bad", ["*", "proxy.example", "10.0.0.0/33", "10.0.0.1,,nonsense"])
def test_a_trusted_proxy_is_an_address_or_a_network(bad: str) -> None:
    with pytest.raises(ConfigurationError, match="CALLCENTRE_TRUSTED_PROXIES"):
        load_settings(trusted_proxies=bad)


def test_trusted_proxies_are_read_as_a_comma_separated_list(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CALLCENTRE_TRUSTED_PROXIES", " 127.0.0.1, 10.0.0.9/24 ,::1")
    assert load_settings().trusted_proxies == ["127.0.0.1", "10.0.0.0/24", "::1"]


async def test_uvicorn_itself_trusts_no_proxy(sqlite_url: str, clock: FixedClock) -> None:
    """The server as `callcentre serve` runs it: uvicorn would believe X-Forwarded-For from
    127.0.0.1 by default; with no trusted proxy configured, the peer stays the client."""
    async with app_behind(sqlite_url, clock, None) as (api, database):
        server = uvicorn.Server(
            web_config(api.app, host="127.0.0.1", port=free_port(), lifespan="off")
        )
        serving = asyncio.create_task(server.serve())
        try:
            while not server.started:
                assert not serving.done(), serving.result()
                await asyncio.sleep(0.02)
            port = server.servers[0].sockets[0].getsockname()[1]
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
                assert (await login(client, "wrong", CLIENT_A)).status_code == 401
        finally:
            server.should_exit = True
            await serving
        assert await failed_login_addresses(database) == ["127.0.0.1"]

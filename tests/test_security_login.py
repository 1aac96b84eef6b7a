"""Login throttling under attack, on SQLite and PostgreSQL: parallel guesses get a bounded
number of password checks, delays grow instead of a lock, a stranger cannot lock the real
user out, and every delay that starts is audited. Password checks are counted at argon2's
verify (`crm.users.service.verify_password`), so nothing can slip past the count."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest

from crm.audit import service as audit
from crm.clock import FixedClock
from crm.db import Database
from crm.settings import Settings
from crm.users import service as users
from crm.users import throttle
from tests.support.api import PASSWORD, Api, running_app

STRANGER = "203.0.113.9"


@pytest.fixture
async def api(db: Database, settings: Settings, clock: FixedClock) -> AsyncIterator[Api]:
    async with running_app(settings, db, clock=clock) as running:
        yield running


@pytest.fixture
def checks(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every password check made from now on (the hash it was checked against)."""
    made: list[str] = []
    verify = users.verify_password

    def counted(password_hash: str, password: str) -> bool:
        made.append(password_hash)
        # A guess is wrong: counted as a check without argon2's half second on a busy machine.
        return False if password.startswith("guess") else verify(password_hash, password)

    monkeypatch.setattr(users, "verify_password", counted)
    return made


def from_address(api: Api, address: str) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=api.app, client=(address, 40000))
    return httpx.AsyncClient(transport=transport, base_url=api.base_url)


async def _login(client: httpx.AsyncClient, username: str, password: str) -> httpx.Response:
    return await client.post("/api/auth/login", json={"username": username, "password": password})


async def test_forty_parallel_guesses_get_five_password_checks(
    api: Api, checks: list[str], db: Database
) -> None:
    async with from_address(api, STRANGER) as client:
        answers = await asyncio.gather(
            *(_login(client, "supervisor", f"guess-{n}") for n in range(40))
        )
    statuses = sorted(r.status_code for r in answers)
    assert len(checks) == throttle.NAME_ADDRESS.free == 5, len(checks)
    assert statuses == [401] * 5 + [429] * 35
    refused = next(r for r in answers if r.status_code == 429)
    assert refused.json()["detail"][0]["code"] == "too_many_attempts"
    assert refused.headers["Retry-After"] == "1"
    async with db.session() as session:
        failed = await audit.get_all(session, action="login_failed")
        throttled = await audit.get_all(session, action="login_throttled")
    assert len(failed) == 5 and {f.ip for f in failed} == {STRANGER}
    assert [(t.entity_id, t.detail["scope"], t.ip) for t in throttled] == [
        ("supervisor", "name_address", STRANGER)
    ]  # audited once, not once per refused guess


async def test_delays_grow_and_a_right_password_resets_them(
    api: Api, clock: FixedClock, checks: list[str]
) -> None:
    async with from_address(api, STRANGER) as client:
        for _ in range(5):
            assert (await _login(client, "agent2", "guess")).status_code == 401
        refused = await _login(client, "agent2", PASSWORD)  # right, but not checked
        assert refused.status_code == 429 and len(checks) == 5
        for wait in (1, 2, 4, 8):
            clock.advance(seconds=wait)
            assert (await _login(client, "agent2", "guess")).status_code == 401
            again = await _login(client, "agent2", "guess")
            assert again.status_code == 429
            assert again.headers["Retry-After"] == str(wait * 2)
        assert len(checks) == 9  # one check per elapsed delay, no more
        clock.advance(seconds=16)
        assert (await _login(client, "agent2", PASSWORD)).status_code == 200
        assert (await _login(client, "agent2", "guess")).status_code == 401  # afresh: 5 free


async def test_a_stranger_cannot_lock_the_real_user_out(
    api: Api, clock: FixedClock, checks: list[str], db: Database
) -> None:
    """running_app logged everyone in from 127.0.0.1: the supervisor's usual address."""
    strangers = [f"198.51.100.{n}" for n in range(1, 6)]
    for address in strangers:  # 5 addresses × 8 guesses each, in parallel
        async with from_address(api, address) as client:
            await asyncio.gather(*(_login(client, "supervisor", "guess") for _ in range(8)))
    # Each address got 5 checks until the name-wide cap (20, from addresses the user has
    # never used) began slowing them all.
    assert len(checks) == throttle.NAME.free == 20
    async with from_address(api, "198.51.100.200") as newcomer:
        slowed = await _login(newcomer, "supervisor", PASSWORD)
    assert slowed.status_code == 429  # a new address is slowed (at most NAME.max_delay)...
    assert int(slowed.headers["Retry-After"]) <= throttle.NAME.max_delay.total_seconds()
    async with from_address(api, "127.0.0.1") as usual:
        assert (await _login(usual, "supervisor", PASSWORD)).status_code == 200  # ...not them
    clock.advance(seconds=throttle.NAME.max_delay.total_seconds())
    async with from_address(api, "198.51.100.200") as newcomer:
        assert (await _login(newcomer, "supervisor", PASSWORD)).status_code == 200
    async with db.session() as session:
        scopes = {t.detail["scope"] for t in await audit.get_all(session, action="login_throttled")}
    assert scopes == {"name_address", "name"}


async def test_one_address_trying_many_names_is_slowed(api: Api, checks: list[str]) -> None:
    async with from_address(api, STRANGER) as client:
        for n in range(throttle.ADDRESS.free):
            assert (await _login(client, f"user{n}", "guess")).status_code == 401
        spray = await _login(client, "another-name", "guess")
    assert spray.status_code == 429 and len(checks) == throttle.ADDRESS.free


def test_delays_double_up_to_their_cap() -> None:
    rule = throttle.NAME_ADDRESS
    assert [rule.delay(n).total_seconds() for n in range(3, 9)] == [0, 0, 1, 2, 4, 8]
    assert rule.delay(10_000) == rule.max_delay

"""The process's kept extension directory (web/extension_directory.py): a ring is looked up
without a round trip of its own, and an admin's edit of a user is seen by the very next ring
(the directory forgets what it kept), not after the directory's keep time."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from crm.clock import FixedClock
from crm.db import Database
from crm.settings import Settings
from crm.users.models import Role
from tests.support.api import Api, running_app
from web.services import Services


@pytest.fixture
async def api(db: Database, settings: Settings, clock: FixedClock) -> AsyncIterator[Api]:
    async with running_app(settings, db, clock=clock, with_bridge=False) as running:
        yield running


async def test_an_edited_extension_is_seen_by_the_next_ring(api: Api) -> None:
    svc: Services = api.app.state.services
    directory = svc.extensions
    agent1 = api.ids["agent1"]
    assert await directory.user_id("1001") == agent1
    kept = await directory.holder("1001")
    assert kept is not None and kept.role is Role.AGENT
    admin = api["admin"]

    # The extension moves to another number: the old one maps to nobody at once.
    moved = await admin.patch(f"/api/users/{agent1}", json={"extension": "1099"})
    assert moved.status_code == 200, moved.text
    assert await directory.user_id("1001") is None
    assert await directory.user_id("1099") == agent1

    # A new agent takes the freed extension; a deactivated one holds none.
    created = await admin.post(
        "/api/users",
        json={
            "username": "agent9",
            "password": "password-9x",
            "display_name": "新坐席",
            "role": "agent",
            "extension": "1001",
        },
    )
    assert created.status_code == 201, created.text
    assert await directory.user_id("1001") == created.json()["id"]
    off = await admin.patch(f"/api/users/{agent1}", json={"is_active": False})
    assert off.status_code == 200, off.text
    assert await directory.user_id("1099") is None
    assert (await directory.user_ids()).get("1001") == created.json()["id"]


async def test_a_role_change_is_seen_by_the_agents_state_lookup(api: Api) -> None:
    """Agent states push only to agents: who stops being one is no longer pushed to."""
    svc: Services = api.app.state.services
    agent2 = api.ids["agent2"]
    assert svc.agent_states is not None
    assert await svc.agent_states._user_of("1002") == agent2
    changed = await api["admin"].patch(f"/api/users/{agent2}", json={"role": "supervisor"})
    assert changed.status_code == 200, changed.text
    assert await svc.agent_states._user_of("1002") is None

"""Which user has extension X: one answer everywhere (crm.users.service), and a deactivated
agent's extension maps to nobody — in the call store as on the wallboard — so a call on that
phone is never credited to someone who left."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import cast

import pytest

from crm.agents.presence import AgentPhone, PhoneCall
from crm.calls import service as calls
from crm.calls.models import Direction
from crm.db import Database
from crm.users import service as users
from crm.users.models import Role
from telephony.call_store import CallStore
from telephony.events import CallRecord
from telephony.tracker import RingingPhone
from web.floor import agent_extensions, live_view
from web.services import Services

START = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)


@pytest.fixture
async def agents(db: Database) -> dict[str, int]:
    """agent1 on 1001, active; agent2 on 1002, deactivated (left the team, phone not
    reassigned yet)."""
    async with db.session() as session:
        ids = {}
        for name, extension in (("agent1", "1001"), ("agent2", "1002")):
            user = await users.create(
                session,
                username=name,
                password="password-1",
                display_name=name.upper(),
                role=Role.AGENT,
                extension=extension,
            )
            ids[name] = user.id
        leaver = await users.get_or_raise(session, ids["agent2"])
        await users.update(session, leaver, is_active=False)
    return ids


def _answered(linkedid: str, extension: str) -> CallRecord:
    return CallRecord(
        linkedid=linkedid,
        direction=Direction.INBOUND,
        started_at=START,
        caller="13911150015",
        customer_number="13911150015",
        queue="service",
        agents_rung=(f"PJSIP/{extension}",),
        agent=f"PJSIP/{extension}",
        agent_extension=extension,
        answered_at=START + timedelta(seconds=8),
    )


async def test_the_call_store_credits_no_deactivated_agent(
    db: Database, agents: dict[str, int]
) -> None:
    await CallStore(db, pbx_id="default").write(
        [_answered("on-1001", "1001"), _answered("on-1002", "1002")]
    )
    async with db.session() as session:
        stored = {c.linkedid: c.agent_id for c in await calls.get_live(session, pbx_id="default")}
    assert stored == {"on-1001": agents["agent1"], "on-1002": None}


@dataclass
class _Tracker:
    live: list[CallRecord]
    recent: list[CallRecord] = field(default_factory=list)

    def live_calls(self, *, agents: Collection[str] | None = None) -> list[CallRecord]:
        return [r for r in self.live if agents is None or r.agent_extension in agents]

    def recent_calls(self) -> list[CallRecord]:
        return self.recent

    def ringing_phones(self, *, agents: Collection[str] | None = None) -> list[RingingPhone]:
        return []


async def test_the_wallboard_puts_no_deactivated_agent_on_a_call(
    db: Database, agents: dict[str, int]
) -> None:
    tracker = _Tracker([_answered("on-1001", "1001"), _answered("on-1002", "1002")])
    # The wallboard reads the database and the bridge's tracker, nothing else of Services.
    svc = cast(Services, SimpleNamespace(database=db, bridge=SimpleNamespace(tracker=tracker)))
    extensions = await agent_extensions(svc)
    assert extensions == {"1001": agents["agent1"]}
    view = await live_view(svc, extensions)
    assert view.phones == {
        agents["agent1"]: AgentPhone(on_call=PhoneCall("on-1001", START + timedelta(seconds=8)))
    }

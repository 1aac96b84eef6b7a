"""The campaigns page is for supervisors and admins; editing a campaign through the API: a field
that cannot be empty, sent as null (a cleared input on the supervisor's form), is refused by
name like any other bad value."""

from __future__ import annotations

import pytest

from crm.clock import FixedClock
from crm.db import Database
from crm.settings import Settings
from tests.support.api import running_app


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_a_cleared_field_is_refused_by_name_and_nothing_changes(
    settings: Settings, db: Database, clock: FixedClock
) -> None:
    async with running_app(settings, db, clock=clock) as api:
        supervisor = api["supervisor"]
        created = await supervisor.post(
            "/api/campaigns", json={"name": "中期回访", "stages": ["midterm"], "max_concurrent": 3}
        )
        assert created.status_code == 201, created.text
        url = f"/api/campaigns/{created.json()['id']}"

        response = await supervisor.patch(
            url,
            json={
                "max_concurrent": None,
                "stages": None,
                "mode": None,
                "due_to": "2026-11-01",
                "due_from": "2026-11-30",
            },
        )
        assert response.status_code == 422, response.text
        problems = {(p["field"], p["code"]) for p in response.json()["detail"]}
        assert problems == {
            ("max_concurrent", "required"),
            ("stages", "required"),
            ("mode", "required"),
            ("due_to", "range_reversed"),
        }

        # The fields that may be empty still can be: "any date", "the default hours".
        response = await supervisor.patch(
            url, json={"due_from": None, "calling_hours": None, "queue": None}
        )
        assert response.status_code == 200, response.text
        campaign = (await supervisor.get(url)).json()["campaign"]
        assert (campaign["max_concurrent"], campaign["stages"], campaign["mode"]) == (
            3,
            ["midterm"],
            "agent_first",
        )


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_the_campaigns_page_is_for_supervisors_and_admins(
    settings: Settings, db: Database, clock: FixedClock
) -> None:
    async with running_app(settings, db, clock=clock) as api:
        for username in ("supervisor", "admin"):
            page = await api[username].get("/campaigns")
            assert page.status_code == 200, username
            assert 'src="/static/js/campaigns.js"' in page.text
            console = await api[username].get("/console")
            assert 'id="nav-campaigns"' in console.text, username
        for username, home in (("agent1", "/console"), ("qa", "/qa")):
            page = await api[username].get("/campaigns")
            assert page.status_code == 403, username  # the "no access" page, with a way home
            assert f'href="{home}"' in page.text, username
            assert 'id="nav-campaigns"' not in (await api[username].get(home)).text
        anonymous = await api.anonymous().get("/campaigns")
        assert (anonymous.status_code, anonymous.headers["location"]) == (
            303,
            "/login?next=/campaigns",
        )

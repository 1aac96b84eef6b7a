"""Where the server rings an agent's phone for a call it starts (click-to-call, agent-first
callbacks): the queue members' interface, unless a site needs another (FreePBX)."""

from __future__ import annotations

import pytest

from crm.settings import ConfigurationError, load_settings


def test_calls_the_server_starts_ring_the_queue_members_interface_by_default() -> None:
    settings = load_settings(agent_interface_template="PJSIP/{extension}")
    assert settings.agent_phone("1001") == "PJSIP/1001"


def test_freepbx_rings_agents_through_from_internal_not_from_queue() -> None:
    """FreePBX's queue members are Local/<ext>@from-queue/n, a context that hangs up a call
    that did not come through a queue: originates need their own template."""
    settings = load_settings(
        agent_interface_template="Local/{extension}@from-queue/n",
        agent_dial_template="Local/{extension}@from-internal",
    )
    assert settings.agent_phone("1001") == "Local/1001@from-internal"


def test_a_dial_template_without_the_extension_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="CALLCENTRE_AGENT_DIAL_TEMPLATE"):
        load_settings(agent_dial_template="PJSIP/agent")

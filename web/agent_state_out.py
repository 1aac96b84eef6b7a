"""What the agent's page and API clients are told of an agent's state: `GET/PUT
/api/agent/state`, the websocket's `hello` and `state` messages (built by web/agent_states.py
from the same derivation the wallboard shows, crm/agents/presence.py)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict

from crm.agents.models import AgentStatus
from crm.agents.presence import Presence


class AgentStateOut(BaseModel):
    """An agent's state: the one they chose (`status`, `reason`, `since`) and what they are
    doing now (`presence`, `presence_since`, the call behind it), as the wallboard shows it."""

    model_config = ConfigDict(json_schema_serialization_defaults_required=True)  # always sent

    user_id: int
    status: AgentStatus
    reason: str | None
    since: datetime
    wrapup_until: datetime | None  # None in wrap-up: held until the agent's calls are coded
    pause_reasons: list[str]
    presence: Presence
    presence_since: datetime | None
    linkedid: str | None  # the call ringing or connected
    dispositions_owed: int  # today's answered calls the agent has not coded yet
    disposition_required: bool  # ... which keep them from going ready
    pbx_synced: bool | None = None  # None: no PBX in this process
    server_time: datetime | None = None  # so a page's countdown does not trust its own clock

"""What the agent's page and API clients are told of an agent's state: `GET/PUT
/api/agent/state`, the websocket's `hello` and `state` messages."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict

from crm.agents.models import AgentStatus


class AgentStateOut(BaseModel):
    model_config = ConfigDict(json_schema_serialization_defaults_required=True)  # always sent

    user_id: int
    status: AgentStatus
    reason: str | None
    since: datetime
    wrapup_until: datetime | None
    pause_reasons: list[str]
    pbx_synced: bool | None = None  # None: no PBX in this process
    server_time: datetime | None = None  # so a page's countdown does not trust its own clock

"""What agent states tell the rest of the system (published by web/agent_states.py)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from crm.agents.models import AgentStatus
from crm.bus import Event


@dataclass(frozen=True, slots=True)
class AgentStateChanged(Event):
    """An agent's state changed (the wallboard). The agent's own browser is told by a
    `UserMessage`; this one stays in the process where the change was made."""

    crosses_processes: ClassVar[bool] = False
    user_id: int
    status: AgentStatus

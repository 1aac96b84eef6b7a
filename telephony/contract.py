"""The contract between the server and the PBX: dialplan contexts, channel variables, AMI rights.

`asterisk-conf/` implements it for a real Asterisk and the PBX simulator imitates it; a test
checks that the configuration files provide everything listed here.
"""

from __future__ import annotations

from typing import Final

# Dialplan contexts.
CONTEXT_INBOUND: Final = "from-trunk"  # calls from the carrier enter here and join the queue
CONTEXT_AGENTS: Final = "agents"  # Local/<ext>@agents rings an agent's softphone
CONTEXT_CALLBACK: Final = "callback"  # agent-first callback: the agent's leg dials Exten = customer
CONTEXT_CALLBACK_QUEUE: Final = "callback-queue"  # customer-first callback: answered → queue
CONTEXT_OUTBOUND: Final = "outbound"  # dials an outside number through the trunk

# Channel variables set by the dialplan or by the server's Originate.
VAR_CALL_TYPE: Final = "CALL_TYPE"  # inbound | callback
VAR_ATTEMPT_ID: Final = "CC_ATTEMPT_ID"  # CallbackAttempt.id of an originated callback
VAR_CUSTOMER_NUMBER: Final = "CC_CUSTOMER_NUMBER"  # the outside party, as the PBX saw it
VAR_REC_AGENT: Final = "CC_REC_AGENT"  # recording of what the agent said (one leg)
VAR_REC_CUSTOMER: Final = "CC_REC_CUSTOMER"  # recording of what the customer said (one leg)
VAR_MIXMONITOR_FILENAME: Final = "MIXMONITOR_FILENAME"  # set by Asterisk: the mixed recording
# Set by app_queue when Queue() returns without an agent: TIMEOUT, JOINEMPTY, LEAVEEMPTY, FULL...
# (not set when the caller hangs up or an agent answered).
VAR_QUEUESTATUS: Final = "QUEUESTATUS"

CALL_TYPE_INBOUND: Final = "inbound"
CALL_TYPE_CALLBACK: Final = "callback"

TRACKED_VARIABLES: Final = frozenset(
    {
        VAR_CALL_TYPE,
        VAR_ATTEMPT_ID,
        VAR_CUSTOMER_NUMBER,
        VAR_REC_AGENT,
        VAR_REC_CUSTOMER,
        VAR_MIXMONITOR_FILENAME,
        VAR_QUEUESTATUS,
    }
)

# Of those, the ones Asterisk's own applications set (MixMonitor, Queue), not our Set()s.
PBX_SET_VARIABLES: Final = frozenset({VAR_MIXMONITOR_FILENAME, VAR_QUEUESTATUS})

# AMI privileges the bridge's manager user needs (manager.conf `read=` / `write=`).
AMI_READ_CLASSES: Final = frozenset({"system", "call", "agent", "dialplan"})
AMI_WRITE_CLASSES: Final = frozenset({"call", "agent", "originate", "reporting"})

# AMI actions the server sends.
ACTIONS_USED: Final = (
    "Login",
    "Logoff",
    "Ping",
    "Originate",
    "Hangup",
    "Getvar",
    "Setvar",
    "CoreShowChannels",
    "QueueStatus",
    "QueueSummary",
    "QueueAdd",
    "QueueRemove",
    "QueuePause",
)

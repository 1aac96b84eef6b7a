"""The contract between the server and the PBX: dialplan contexts, channel variables, AMI rights.

`asterisk-conf/` implements it for a real Asterisk and the PBX simulator imitates it; a test
checks that the configuration files provide everything listed here.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Final

# Dialplan contexts.
CONTEXT_INBOUND: Final = "from-trunk"  # calls from the carrier enter here and join the queue
CONTEXT_AGENTS: Final = "agents"  # Local/<ext>@agents rings an agent's softphone
CONTEXT_CALLBACK: Final = "callback"  # agent-first callback: the agent's leg dials Exten = customer
CONTEXT_CALLBACK_QUEUE: Final = "callback-queue"  # customer-first callback: answered → queue
CONTEXT_OUTBOUND: Final = "outbound"  # dials an outside number through the trunk
# `callcentre pbx check` records a second into CC_MONITOR_DIR through this context (Local
# channels named Local/<digits>@cc-selftest) to prove the server sees the PBX's recordings.
# Not reachable from phones or the trunk; its calls are no customer's.
CONTEXT_SELFTEST: Final = "cc-selftest"
# A supervisor listens to, whispers to or barges into an agent's call: the server originates
# the supervisor's phone into this context (Exten = one of SPY_EXTENS) with the agent's
# extension in VAR_SPY_EXTEN; the dialplan runs ChanSpy on the agent's phone channel.
CONTEXT_SPY: Final = "cc-spy"
# The agent console's call controls (telephony/call_controls.py): a held customer hears music
# in cc-hold; a held, consulting or conference call's parties meet in a ConfBridge room named
# after the call's Linkedid (the agent's side in cc-room, the customer in cc-room-customer);
# transfers and added parties go through cc-transfer (extension, q-<queue>, outside number).
CONTEXT_HOLD: Final = "cc-hold"
CONTEXT_ROOM: Final = "cc-room"
CONTEXT_ROOM_CUSTOMER: Final = "cc-room-customer"
CONTEXT_TRANSFER: Final = "cc-transfer"
TRANSFER_QUEUE_PREFIX: Final = "q-"  # cc-transfer's Exten for a queue: q-<queue name>
CONTEXTS: Final = (
    CONTEXT_INBOUND,
    CONTEXT_AGENTS,
    CONTEXT_CALLBACK,
    CONTEXT_CALLBACK_QUEUE,
    CONTEXT_OUTBOUND,
    CONTEXT_SELFTEST,
    CONTEXT_SPY,
    CONTEXT_HOLD,
    CONTEXT_ROOM,
    CONTEXT_ROOM_CUSTOMER,
    CONTEXT_TRANSFER,
)
SPY_LISTEN: Final = "listen"  # ChanSpy q: hears both parties, nobody hears the supervisor
SPY_WHISPER: Final = "whisper"  # ChanSpy w: the agent hears the supervisor, the customer not
SPY_BARGE: Final = "barge"  # ChanSpy B: both parties hear the supervisor
SPY_EXTENS: Final = (SPY_LISTEN, SPY_WHISPER, SPY_BARGE)
# Every channel of a supervisor's spy call carries this prefix in its Uniqueid and Linkedid:
# the Originate assigns them (ChannelId), so the tracker knows the leg from its first event
# and never makes a call of it.
SPY_CHANNEL_ID_PREFIX: Final = "cc-spy-"

# Dialplan globals ([globals] in extensions.conf) the server relies on.
GLOBAL_TRUNK: Final = "CC_TRUNK"  # dial-string template of outside numbers, e.g. PJSIP/{number}@x
GLOBAL_MONITOR_DIR: Final = "CC_MONITOR_DIR"  # where MixMonitor writes (the PBX's own path)
GLOBAL_QUEUE: Final = "CC_QUEUE"  # = CALLCENTRE_QUEUE
GLOBAL_CALLBACK_QUEUE: Final = "CC_CALLBACK_QUEUE"  # = CALLCENTRE_CALLBACK_QUEUE
TRUNK_NUMBER_PLACEHOLDER: Final = "{number}"  # replaced by the outside number (STRREPLACE)

# Channel variables set by the dialplan or by the server's Originate.
VAR_CALL_TYPE: Final = "CALL_TYPE"  # a CallType
VAR_ATTEMPT_ID: Final = "CC_ATTEMPT_ID"  # CallbackAttempt.id of an originated callback
VAR_CUSTOMER_NUMBER: Final = "CC_CUSTOMER_NUMBER"  # the outside party, as the PBX saw it
VAR_REC_AGENT: Final = "CC_REC_AGENT"  # recording of what the agent said (one leg)
VAR_REC_CUSTOMER: Final = "CC_REC_CUSTOMER"  # recording of what the customer said (one leg)
VAR_MIXMONITOR_FILENAME: Final = "MIXMONITOR_FILENAME"  # set by Asterisk: the mixed recording
# Set by app_queue when Queue() returns without an agent: TIMEOUT, JOINEMPTY, LEAVEEMPTY, FULL...
# (not set when the caller hangs up or an agent answered).
VAR_QUEUESTATUS: Final = "QUEUESTATUS"
# The spied-on agent's extension, given by the spy Originate (digits; the dialplan keeps only
# digits of it too before it reaches ChanSpy's arguments).
VAR_SPY_EXTEN: Final = "CC_SPY_EXTEN"


class CallType(StrEnum):
    """CALL_TYPE's values: how the call reached the centre."""

    INBOUND = "inbound"  # from the trunk, through the queue
    CALLBACK = "callback"  # the centre called out (the dialer, an agent's click-to-call)


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
    "Redirect",
    "BlindTransfer",
    "CoreShowChannels",
    "QueueStatus",
    "QueueSummary",
    "QueueAdd",
    "QueueRemove",
    "QueuePause",
)

# AMI actions `callcentre pbx check` sends besides those (all allowed by AMI_WRITE_CLASSES).
PBX_CHECK_ACTIONS: Final = ("CoreSettings", "ListCommands", "ShowDialPlan")

# The write classes each action is registered with in Asterisk 22 (any one of them allows it;
# none: every logged-in user may send it). From ast_manager_register_xml(_core) in
# main/manager.c, main/pbx.c and apps/app_queue.c.
ACTION_PRIVILEGES: Final[dict[str, frozenset[str]]] = {
    "Login": frozenset(),
    "Logoff": frozenset(),
    "Ping": frozenset(),
    "Originate": frozenset({"originate"}),
    "Hangup": frozenset({"system", "call"}),
    "Getvar": frozenset({"call", "reporting"}),
    "Setvar": frozenset({"call"}),
    "Redirect": frozenset({"call"}),
    "BlindTransfer": frozenset({"call"}),
    "CoreShowChannels": frozenset({"system", "reporting"}),
    "QueueStatus": frozenset(),
    "QueueSummary": frozenset(),
    "QueueAdd": frozenset({"agent"}),
    "QueueRemove": frozenset({"agent"}),
    "QueuePause": frozenset({"agent"}),
    "CoreSettings": frozenset({"system", "reporting"}),
    "ListCommands": frozenset(),
    "ShowDialPlan": frozenset({"config", "reporting"}),
}

# Asterisk releases: the configuration is written against 22 (LTS) and works on 20 (LTS);
# the advanced eventfilter syntax of manager.conf needs at least these (major: minor).
ASTERISK_SUPPORTED_MAJORS: Final = (20, 22)
EVENTFILTER_SINCE: Final[dict[int, int]] = {18: 26, 20: 11, 21: 6, 22: 1}

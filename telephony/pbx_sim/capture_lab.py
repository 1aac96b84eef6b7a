"""The PBXs that produced the captures in shared/fixtures/ami/, as simulator configurations.

Both ran Asterisk 22.10.1 with Local channels standing in for phones and trunk (fixtures
README). The simulator is the same as the demo's; only the configuration differs:

- `TEST_DIALPLAN`, the first captures (login_ok ... callback_busy): a test dialplan
  (`queue-inbound`, `inbound-customer`, `agent-phone`, its own `callback`, `customers`,
  `agents`) and static queue members `Local/100x@agents/n` in `service` and `sales`.
- `PROJECT_DIALPLAN`, the captures taken through the project's own asterisk-conf/
  (inbound_answered_first_abandoned, inbound_joinempty, callback_agent_first_answered,
  pbx_core_stop_and_login_during_shutdown): that dialplan with CC_QUEUE_WAIT=20 and outside
  numbers through `Local/{number}@customers`, members added by QueueAdd, and test phones:
  `agents` 1001 answers after 2 s, 1002 never; `sim-customer` callers (`abandon` hangs up
  after 6 s, `long` waits); `customers` answer after 2-3 s, greet, talk, hang up;
  13700137000 is busy.

Each phone is a dialplan context run by a Local channel's `;2` half, inferred from the
captures' Newexten events. Recordings are reported under the packaged spool
(/var/spool/asterisk/monitor, as the captures were rewritten) and written into the
configured recordings directory.
"""

from __future__ import annotations

from typing import Any

from telephony.pbx_sim.config import SimulatorConfig, StaticMember
from telephony.pbx_sim.dialplan import Context, context
from telephony.pbx_sim.site import PbxSite

TEST_DIALPLAN, PROJECT_DIALPLAN = "test-dialplan", "project-dialplan"
LABS = (TEST_DIALPLAN, PROJECT_DIALPLAN)
MONITOR_DIR = "/var/spool/asterisk/monitor"
SOUNDS = {"custom/callback-greeting": 2.0, "custom/speech": 60.0}  # no vm-nobodyavail
AGENT_INTERFACE = "Local/{extension}@agents/n"

# A customer's phone in `customers`: rings, answers, greets, talks, hangs up; or is busy.
_BUSY_CUSTOMER = ["NoOp(Customer ${EXTEN} is busy)", "Busy(10)"]

TEST_CONTEXTS: dict[str, Context] = {
    "queue-inbound": context(
        {
            "service": [
                "NoOp(Inbound call from ${CALLERID(num)})",
                "Set(CUSTOMER_ID=CUST-${CALLERID(num)})",
                "Set(CALL_TYPE=inbound)",
                "MixMonitor(inbound-${CALLERID(num)}-${UNIQUEID}.wav,b)",
                "Queue(service,t,,,60)",
            ],
            "sales": [
                "NoOp(Inbound sales call from ${CALLERID(num)})",
                "Set(CUSTOMER_ID=CUST-${CALLERID(num)})",
                "Set(CALL_TYPE=inbound)",
                "Queue(sales,t,,,60)",
            ],
        }
    ),
    "inbound-customer": context({"s": ["NoOp(Customer phone off-hook)", "Answer()", "Wait(30)"]}),
    "inbound-customer-abandon": context(
        {"s": ["NoOp(Impatient customer)", "Answer()", "Wait(6)", "Hangup()"]}
    ),
    "agents": context(
        {
            "1001": [
                "NoOp(Agent 1001 phone)",
                "Ringing()",
                "Wait(1)",
                "Answer()",
                "Wait(4)",
                "Hangup()",
            ],
            "1002": ["NoOp(Agent 1002 phone - never answers)", "Ringing()", "Wait(60)"],
            "1003": ["NoOp(Agent 1003 phone - never answers)", "Ringing()", "Wait(60)"],
        }
    ),
    "agent-phone": context(
        {"1001": ["NoOp(Agent 1001 off-hook for callback)", "Answer()", "Wait(60)"]}
    ),
    "callback": context(
        {
            "_X.": [
                "NoOp(Callback to ${EXTEN})",
                "Set(CUSTOMER_ID=${CUSTOMER_ID})",
                "Set(CALL_TYPE=callback)",
                "MixMonitor(callback-${EXTEN}-${UNIQUEID}.wav)",
                "Dial(Local/${EXTEN}@customers,30)",
            ]
        }
    ),
    "customers": context(
        {
            "_1XXXXXXXXXX": [
                "NoOp(Calling customer ${EXTEN})",
                "Ringing()",
                "Wait(2)",
                "Answer()",
                "Playback(custom/callback-greeting)",
                "Wait(3)",
                "Hangup()",
            ],
            "13700137000": _BUSY_CUSTOMER,
        }
    ),
}

PROJECT_CONTEXTS: dict[str, Context] = {
    "agents": context(
        {
            "1001": [
                "NoOp(Agent 1001 phone)",
                "Ringing()",
                "Wait(2)",
                "Answer()",
                "Playback(custom/speech)",
                "Hangup()",
            ],
            "1002": ["NoOp(Agent 1002 phone - never answers)", "Ringing()", "Wait(120)"],
        }
    ),
    "sim-customer": context(
        {
            "abandon": ["NoOp(customer phone, impatient)", "Answer()", "Wait(6)", "Hangup()"],
            "long": ["NoOp(customer phone, long)", "Answer()", "Wait(120)", "Hangup()"],
        }
    ),
    "customers": context(
        {
            "13911150015": [
                "NoOp(Customer 13911150015: answers after 3 s, talks 15 s)",
                "Ringing()",
                "Wait(3)",
                "Answer()",
                "Playback(custom/callback-greeting)",
                "Wait(13)",
                "Hangup()",
            ],
            "_1XXXXXXXXXX": [
                "NoOp(Customer ${EXTEN}: answers after 2 s)",
                "Ringing()",
                "Wait(2)",
                "Answer()",
                "Playback(custom/callback-greeting)",
                "Wait(3)",
                "Hangup()",
            ],
            "13700137000": _BUSY_CUSTOMER,
        }
    ),
}

_TEST_MEMBERS: dict[str, list[str | StaticMember]] = {
    "service": [
        StaticMember("Local/1001@agents/n", "Agent 1001", "Local/1001@agents"),
        StaticMember("Local/1002@agents/n", "Agent 1002", "Local/1002@agents"),
    ],
    "sales": [StaticMember("Local/1003@agents/n", "Agent 1003", "Local/1003@agents")],
}


def capture_lab_config(lab: str, **overrides: Any) -> SimulatorConfig:
    """The simulator configured as the PBX behind one set of captures (`LABS`)."""
    common: dict[str, Any] = {
        "user": "callcentre",
        "secret": "test",
        "agent_interface_template": AGENT_INTERFACE,
        "talk_seconds": None,  # the phones' dialplans end every call
        "sounds": dict(SOUNDS),
    }
    if lab == TEST_DIALPLAN:
        settings: dict[str, Any] = {
            "queues": ("service", "sales"),
            "static_members": _TEST_MEMBERS,
            "queue_timeout": 60.0,
            "joinempty": frozenset(),  # queues.conf without joinempty / leavewhenempty
            "leavewhenempty": frozenset(),
            "contexts": TEST_CONTEXTS,
            "site": PbxSite(monitor_dir=MONITOR_DIR),
        }
    elif lab == PROJECT_DIALPLAN:
        settings = {
            "queues": ("service", "callbacks"),
            "queue_timeout": 20.0,  # CC_QUEUE_WAIT shortened for the captures
            "member_ring_timeout": 15.0,
            "retry_seconds": 2.0,
            "wrapup_seconds": 30.0,
            "contexts": PROJECT_CONTEXTS,
            "site": PbxSite(
                monitor_dir=MONITOR_DIR, globals={"CC_TRUNK": "Local/{number}@customers"}
            ),
        }
    else:
        raise ValueError(f"unknown capture lab {lab!r}; one of {', '.join(LABS)}")
    return SimulatorConfig(**{**common, **settings, **overrides})

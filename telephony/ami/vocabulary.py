"""Asterisk's own closed sets, as its AMI events write them: hangup causes, Originate reasons,
dial statuses, queue results, channel and device states, soft-hangup flags.

Named as Asterisk's C sources name them (include/asterisk/causes.h, frame.h, channel.h,
devicestate.h, apps/app_dial.c and app_queue.c), so a reader can look each one up there. The
tracker reads these values and the PBX simulator writes them: one vocabulary for both. Values
are the wire's: a member compares equal to the number or word Asterisk sends.
"""

from __future__ import annotations

from enum import IntEnum, IntFlag, StrEnum


class HangupCause(IntEnum):
    """A channel's Q.850 hangup cause (AST_CAUSE_* of causes.h): Hangup's `Cause`."""

    NOTDEFINED = 0  # Asterisk had none to give (a leg Dial() cancelled, a queued caller's BYE)
    UNALLOCATED = 1
    NO_ROUTE_TRANSIT_NET = 2
    NO_ROUTE_DESTINATION = 3
    MISDIALLED_TRUNK_PREFIX = 5
    CHANNEL_UNACCEPTABLE = 6
    CALL_AWARDED_DELIVERED = 7
    PRE_EMPTED = 8
    NUMBER_PORTED_NOT_HERE = 14
    NORMAL_CLEARING = 16
    USER_BUSY = 17
    NO_USER_RESPONSE = 18
    NO_ANSWER = 19
    SUBSCRIBER_ABSENT = 20
    CALL_REJECTED = 21
    NUMBER_CHANGED = 22
    REDIRECTED_TO_NEW_DESTINATION = 23
    ANSWERED_ELSEWHERE = 26
    DESTINATION_OUT_OF_ORDER = 27
    INVALID_NUMBER_FORMAT = 28
    FACILITY_REJECTED = 29
    RESPONSE_TO_STATUS_ENQUIRY = 30
    NORMAL_UNSPECIFIED = 31
    NORMAL_CIRCUIT_CONGESTION = 34
    NETWORK_OUT_OF_ORDER = 38
    NORMAL_TEMPORARY_FAILURE = 41
    SWITCH_CONGESTION = 42
    ACCESS_INFO_DISCARDED = 43
    REQUESTED_CHAN_UNAVAIL = 44
    FACILITY_NOT_SUBSCRIBED = 50
    OUTGOING_CALL_BARRED = 52
    INCOMING_CALL_BARRED = 54
    BEARERCAPABILITY_NOTAUTH = 57
    BEARERCAPABILITY_NOTAVAIL = 58
    BEARERCAPABILITY_NOTIMPL = 65
    CHAN_NOT_IMPLEMENTED = 66
    FACILITY_NOT_IMPLEMENTED = 69
    INVALID_CALL_REFERENCE = 81
    INCOMPATIBLE_DESTINATION = 88
    INVALID_MSG_UNSPECIFIED = 95
    MANDATORY_IE_MISSING = 96
    MESSAGE_TYPE_NONEXIST = 97
    WRONG_MESSAGE = 98
    IE_NONEXIST = 99
    INVALID_IE_CONTENTS = 100
    WRONG_CALL_STATE = 101
    RECOVERY_ON_TIMER_EXPIRE = 102
    MANDATORY_IE_LENGTH_ERROR = 103
    PROTOCOL_ERROR = 111
    INTERWORKING = 127


class OriginateReason(IntEnum):
    """OriginateResponse's `Reason`: the last control frame (AST_CONTROL_* of frame.h) the
    originated channel's dial saw, or 0 when it could not be dialed at all."""

    FAILURE = 0  # no channel, or it failed before any answer or ringing (no AST_CONTROL_*)
    HANGUP = 1  # the far end hung up, or the number does not exist
    RINGING = 3  # it rang and nobody answered before the timeout
    ANSWER = 4
    BUSY = 5
    CONGESTION = 8


class DialStatus(StrEnum):
    """DialEnd's `DialStatus` (and Dial()'s DIALSTATUS); DialState's RINGING/PROGRESS/
    PROCEEDING while it lasts."""

    ANSWER = "ANSWER"
    BUSY = "BUSY"
    NOANSWER = "NOANSWER"
    CANCEL = "CANCEL"  # the caller hung up, or another leg answered (a ringall queue)
    CONGESTION = "CONGESTION"
    CHANUNAVAIL = "CHANUNAVAIL"
    DONTCALL = "DONTCALL"
    TORTURE = "TORTURE"
    INVALIDARGS = "INVALIDARGS"
    ABORT = "ABORT"
    CONTINUE = "CONTINUE"
    GOTANSWER = "GOTANSWER"
    RINGING = "RINGING"
    PROGRESS = "PROGRESS"
    PROCEEDING = "PROCEEDING"


class QueueResult(StrEnum):
    """QUEUESTATUS, set by app_queue when Queue() returns without an agent (not when the
    caller hung up or an agent answered)."""

    UNKNOWN = "UNKNOWN"
    TIMEOUT = "TIMEOUT"
    JOINEMPTY = "JOINEMPTY"
    LEAVEEMPTY = "LEAVEEMPTY"
    JOINUNAVAIL = "JOINUNAVAIL"
    LEAVEUNAVAIL = "LEAVEUNAVAIL"
    FULL = "FULL"
    CONTINUE = "CONTINUE"
    WITHDRAW = "WITHDRAW"


class AgentCompleteReason(StrEnum):
    """AgentComplete's `Reason`: who ended the queue call, or that the agent handed it on."""

    CALLER = "caller"
    AGENT = "agent"
    TRANSFER = "transfer"


class ChannelState(IntEnum):
    """A channel's state (AST_STATE_* of channelstate.h): `ChannelState` in channel events."""

    DOWN = 0
    RSRVD = 1
    OFFHOOK = 2
    DIALING = 3
    RING = 4
    RINGING = 5
    UP = 6
    BUSY = 7
    DIALING_OFFHOOK = 8
    PRERING = 9


class DeviceState(IntEnum):
    """A device's state (AST_DEVICE_* of devicestate.h): a queue member's numeric `Status`;
    DeviceStateChange writes the member's name ("NOT_INUSE")."""

    UNKNOWN = 0
    NOT_INUSE = 1
    INUSE = 2
    BUSY = 3
    INVALID = 4
    UNAVAILABLE = 5
    RINGING = 6
    RINGINUSE = 7
    ONHOLD = 8


class SoftHangup(IntFlag):
    """SoftHangupRequest's `Cause`: AST_SOFTHANGUP_* of channel.h, not a Q.850 cause."""

    DEV = 1 << 0
    ASYNCGOTO = 1 << 1
    SHUTDOWN = 1 << 2  # Asterisk stops or restarts (`core restart now`)
    TIMEOUT = 1 << 3
    APPUNLOAD = 1 << 4
    EXPLICIT = 1 << 5
    UNBRIDGE = 1 << 6


class CdrDisposition(StrEnum):
    """Cdr's `Disposition` (ast_cdr_disp2str of cdr.c)."""

    NO_ANSWER = "NO ANSWER"
    FAILED = "FAILED"
    BUSY = "BUSY"
    ANSWERED = "ANSWERED"
    CONGESTION = "CONGESTION"


class TransferResult(StrEnum):
    """BlindTransfer's and AttendedTransfer's `Result` (ast_transfer_result, as
    stasis_bridges.c words it)."""

    FAIL = "Fail"
    INVALID = "Invalid"
    NOT_PERMITTED = "Not Permitted"
    SUCCESS = "Success"


class QueueMembership(StrEnum):
    """A queue member's `Membership` in QueueStatus and the member events (app_queue)."""

    DYNAMIC = "dynamic"  # added over AMI or the CLI: the server's own
    STATIC = "static"  # a `member =>` line of queues.conf
    REALTIME = "realtime"

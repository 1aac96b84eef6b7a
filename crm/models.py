"""Every table of the system, imported in one place so the metadata (and Alembic) sees them all."""

from crm.access.models import AccessGrant
from crm.agents.models import AgentState, AgentStateLog
from crm.audit.models import AuditEntry
from crm.callbacks.models import CallbackAttempt, CallbackTask
from crm.calls.models import Call
from crm.campaigns.models import Campaign
from crm.complaints.models import Complaint, ComplaintEvent
from crm.customers.models import Customer, Phone
from crm.db import Base
from crm.dispositions.models import CallDisposition
from crm.importer.models import ImportJob
from crm.projects.models import Project
from crm.quality.models import CallScore, QaAssignment, QaFeedback, RuleReview
from crm.recordings.models import RecordingCompression
from crm.repairs.models import Repair
from crm.transcripts.models import Transcript, TranscriptionJob
from crm.users.models import LoginThrottle, User, UserSession

__all__ = [
    "AccessGrant",
    "AgentState",
    "AgentStateLog",
    "AuditEntry",
    "Base",
    "Call",
    "CallDisposition",
    "CallScore",
    "CallbackAttempt",
    "CallbackTask",
    "Campaign",
    "Complaint",
    "ComplaintEvent",
    "Customer",
    "ImportJob",
    "LoginThrottle",
    "Phone",
    "Project",
    "QaAssignment",
    "QaFeedback",
    "RecordingCompression",
    "Repair",
    "RuleReview",
    "Transcript",
    "TranscriptionJob",
    "User",
    "UserSession",
]

"""Other departments read callback records only with the customer-service manager's approval
(相关部门经同意后方可查阅电话回访记录): a request names who, which records, why and until when."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, Text
from sqlalchemy.orm import Mapped, mapped_column

from crm.db import Base, TimestampMixin, enum_type


class GrantStatus(StrEnum):
    REQUESTED = "requested"
    APPROVED = "approved"
    REJECTED = "rejected"
    REVOKED = "revoked"


class AccessGrant(TimestampMixin, Base):
    __tablename__ = "access_grants"

    id: Mapped[int] = mapped_column(primary_key=True)
    requester_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    # Which records: one project's callbacks, or every project of one customer.
    project_id: Mapped[int | None] = mapped_column(ForeignKey("projects.id"))
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"))
    reason: Mapped[str] = mapped_column(Text)
    wanted_until: Mapped[datetime]
    status: Mapped[GrantStatus] = mapped_column(
        enum_type(GrantStatus), default=GrantStatus.REQUESTED
    )
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[datetime | None]
    expires_at: Mapped[datetime | None]  # approved until (may be shorter than asked)
    decision_note: Mapped[str] = mapped_column(Text, default="")

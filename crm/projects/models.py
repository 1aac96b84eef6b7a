"""Renovation projects (工程): the job, its people, and the dates of its construction stages."""

from __future__ import annotations

from datetime import date
from enum import StrEnum

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crm.customers.models import Customer
from crm.db import Base, TimestampMixin, enum_type


class ProjectStatus(StrEnum):
    SIGNED = "signed"
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"
    CANCELLED = "cancelled"


class Project(TimestampMixin, Base):
    __tablename__ = "projects"

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    contract_number: Mapped[str] = mapped_column(String(64), unique=True)
    address: Mapped[str] = mapped_column(String(255), default="")
    designer: Mapped[str] = mapped_column(String(100), default="")
    project_manager: Mapped[str] = mapped_column(String(100), default="")
    foreman: Mapped[str] = mapped_column(String(100), default="")
    crew: Mapped[str] = mapped_column(String(100), default="")
    contract_date: Mapped[date | None]
    start_date: Mapped[date | None]  # 开工
    concealed_works_date: Mapped[date | None]  # 隐蔽工程
    midterm_date: Mapped[date | None]  # 中期
    completion_date: Mapped[date | None]  # 完工
    status: Mapped[ProjectStatus] = mapped_column(
        enum_type(ProjectStatus), default=ProjectStatus.SIGNED
    )

    customer: Mapped[Customer] = relationship()

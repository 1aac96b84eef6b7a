"""Customers (业主) and their phone numbers, stored normalised for the screen-pop lookup."""

from __future__ import annotations

from enum import StrEnum

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crm.db import Base, TimestampMixin, enum_type
from crm.phones import PhoneKind


class Grade(StrEnum):
    """A = most important: longer callback script, the manager's attention."""

    A = "A"
    B = "B"
    C = "C"

    @property
    def rank(self) -> int:
        return "ABC".index(self.value) + 1


class Customer(TimestampMixin, Base):
    __tablename__ = "customers"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), index=True)
    address: Mapped[str] = mapped_column(String(255), default="")
    grade: Mapped[Grade] = mapped_column(enum_type(Grade), default=Grade.B)
    notes: Mapped[str] = mapped_column(Text, default="")
    do_not_call: Mapped[bool] = mapped_column(default=False)
    do_not_call_reason: Mapped[str | None] = mapped_column(String(255))

    phones: Mapped[list[Phone]] = relationship(
        back_populates="customer", cascade="all, delete-orphan", order_by="Phone.id"
    )


class Phone(Base):
    __tablename__ = "phones"
    __table_args__ = (
        UniqueConstraint("customer_id", "number"),
        # The screen pop looks callers up by this column: an index, never a scan, that also
        # holds the owner, so the lookup reads no table row to find the customer.
        Index("ix_phones_number_customer_id", "number", "customer_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    number: Mapped[str] = mapped_column(String(32))  # normalised, see crm.phones
    extension: Mapped[str | None] = mapped_column(String(8))
    kind: Mapped[PhoneKind] = mapped_column(enum_type(PhoneKind, length=16))
    raw: Mapped[str] = mapped_column(String(64))  # as it was written, for the record
    label: Mapped[str] = mapped_column(String(32), default="")

    customer: Mapped[Customer] = relationship(back_populates="phones")

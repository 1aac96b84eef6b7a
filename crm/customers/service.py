"""Customers: creation and edits with validated, normalised phones; lookup by caller number."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import Select, bindparam, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from crm.callbacks import service as callbacks
from crm.callbacks.models import CallbackAttempt, CallbackTask
from crm.customers import card_rows, cards
from crm.customers.cards import CustomerCard
from crm.customers.models import Customer, Grade, Phone
from crm.errors import NotFound, Problem, ValidationError
from crm.one_of import one_of
from crm.phones import PhoneKind, PhoneNumber, PhoneNumberError, lookup_key, normalize_phone
from crm.projects.models import Project

DIALABLE_KINDS = frozenset(
    {PhoneKind.MOBILE, PhoneKind.LANDLINE, PhoneKind.LOCAL, PhoneKind.INTERNATIONAL}
)
MAX_NAME = 100


ParsedPhone = tuple[PhoneNumber, str]  # normalised, as written


def parse_phones(
    raws: Sequence[str], *, default_area_code: str | None, field: str = "phones"
) -> tuple[list[ParsedPhone], list[Problem]]:
    """Normalise a customer's numbers, dropping repeats; problems name the item (phones[1])."""
    numbers: list[ParsedPhone] = []
    problems: list[Problem] = []
    seen: set[str] = set()
    for i, raw in enumerate(raws):
        where = f"{field}[{i}]"
        try:
            phone = normalize_phone(raw, default_area_code=default_area_code)
        except PhoneNumberError as exc:
            problems.append(Problem(where, "invalid_phone", str(exc), {"value": str(raw)}))
            continue
        if phone.kind not in DIALABLE_KINDS:
            problems.append(
                Problem(
                    where,
                    "not_a_customer_phone",
                    f"{raw!r} is a {phone.kind.value} number, not a customer's",
                    {"value": str(raw), "kind": phone.kind.value},
                )
            )
        elif phone.number not in seen:
            seen.add(phone.number)
            numbers.append((phone, str(raw)))
    return numbers, problems


def _check_fields(
    *, name: str | None, do_not_call: bool | None, do_not_call_reason: str | None
) -> list[Problem]:
    problems = []
    if name is not None and not name.strip():
        problems.append(Problem("name", "required", "the customer's name is required"))
    elif name is not None and len(name.strip()) > MAX_NAME:
        problems.append(Problem("name", "too_long", f"at most {MAX_NAME} characters"))
    if do_not_call and not (do_not_call_reason or "").strip():
        problems.append(
            Problem("do_not_call_reason", "required", "say why the customer must not be called")
        )
    return problems


def _phone_row(phone: PhoneNumber, raw: str) -> Phone:
    return Phone(number=phone.number, extension=phone.extension, kind=phone.kind, raw=raw[:64])


async def get(session: AsyncSession, customer_id: int) -> Customer | None:
    """The customer with their phones loaded, or None."""
    return await session.scalar(
        select(Customer).where(Customer.id == customer_id).options(selectinload(Customer.phones))
    )


async def names(session: AsyncSession, *, ids: Iterable[int]) -> dict[int, str]:
    """Customers' names by id, for lists; unknown ids are left out."""
    wanted = set(ids)
    if not wanted:
        return {}
    rows = await session.execute(
        select(Customer.id, Customer.name).where(one_of(Customer.id, wanted))
    )
    return {row.id: row.name for row in rows}


async def count(session: AsyncSession) -> int:
    """How many customers there are."""
    return await session.scalar(select(func.count()).select_from(Customer)) or 0


async def phone_numbers(
    session: AsyncSession, *, limit: int, callable_only: bool = False
) -> list[str]:
    """Customers' phone numbers, oldest first (a simulated PBX's known callers);
    `callable_only` leaves out the customers who must not be called."""
    query = select(Phone.number).order_by(Phone.id).limit(limit)
    if callable_only:
        query = query.join(Customer).where(Customer.do_not_call.is_(False))
    return list(await session.scalars(query))


async def get_or_raise(session: AsyncSession, customer_id: int) -> Customer:
    """The customer, or NotFound."""
    customer = await get(session, customer_id)
    if customer is None:
        raise NotFound(f"no customer {customer_id}", code="customer_not_found")
    return customer


async def create(
    session: AsyncSession,
    *,
    name: str,
    phones: Sequence[str],
    address: str = "",
    grade: Grade = Grade.B,
    notes: str = "",
    do_not_call: bool = False,
    do_not_call_reason: str | None = None,
    default_area_code: str | None = None,
) -> Customer:
    """A new customer; every phone must normalise to a dialable number."""
    customer = new_customer(
        name=name,
        phones=phones,
        address=address,
        grade=grade,
        notes=notes,
        do_not_call=do_not_call,
        do_not_call_reason=do_not_call_reason,
        default_area_code=default_area_code,
    )
    session.add(customer)
    await session.flush()
    return customer


def new_customer(
    *,
    name: str,
    phones: Sequence[str],
    address: str = "",
    grade: Grade = Grade.B,
    notes: str = "",
    do_not_call: bool = False,
    do_not_call_reason: str | None = None,
    default_area_code: str | None = None,
) -> Customer:
    """`create`'s checks and row, not yet added: a bulk import adds many and flushes them
    together (`add_customers`) instead of one round trip each."""
    numbers, problems = parse_phones(phones, default_area_code=default_area_code)
    problems += _check_fields(
        name=name, do_not_call=do_not_call, do_not_call_reason=do_not_call_reason
    )
    if not phones:
        problems.append(Problem("phones", "required", "at least one phone number is required"))
    if problems:
        raise ValidationError.of(problems)
    return Customer(
        name=name.strip(),
        address=address.strip(),
        grade=grade,
        notes=notes,
        do_not_call=do_not_call,
        do_not_call_reason=do_not_call_reason if do_not_call else None,
        phones=[_phone_row(phone, raw) for phone, raw in numbers],
    )


async def add_customers(session: AsyncSession, new: Sequence[Customer]) -> None:
    """Customers made by `new_customer`, written together: one batched insert of the
    customers and one of their phones (SQLAlchemy's insertmanyvalues), not one flush each."""
    session.add_all(new)
    await session.flush()


async def update(
    session: AsyncSession,
    customer: Customer,
    *,
    name: str | None = None,
    address: str | None = None,
    grade: Grade | None = None,
    notes: str | None = None,
    do_not_call: bool | None = None,
    do_not_call_reason: str | None = None,
    phones: Sequence[str] | None = None,
    default_area_code: str | None = None,
) -> Customer:
    """Edit a customer; `phones` replaces the whole list when given. A new grade re-ranks the
    customer's callback tasks."""
    dnc = customer.do_not_call if do_not_call is None else do_not_call
    reason = do_not_call_reason if do_not_call_reason is not None else customer.do_not_call_reason
    problems = _check_fields(name=name, do_not_call=dnc, do_not_call_reason=reason)
    numbers: list[ParsedPhone] = []
    if phones is not None:
        numbers, phone_problems = parse_phones(phones, default_area_code=default_area_code)
        problems += phone_problems
        if not phones:
            problems.append(Problem("phones", "required", "at least one phone number is required"))
    if problems:
        raise ValidationError.of(problems)
    if name is not None:
        customer.name = name.strip()
    if address is not None:
        customer.address = address.strip()
    regraded = grade is not None and grade is not customer.grade
    if grade is not None:
        customer.grade = grade
    if notes is not None:
        customer.notes = notes
    customer.do_not_call = dnc
    customer.do_not_call_reason = reason if dnc else None
    if phones is not None:
        await session.refresh(customer, ["phones"])
        kept = {p.number: p for p in customer.phones}
        customer.phones = [
            kept.get(phone.number) or _phone_row(phone, raw) for phone, raw in numbers
        ]
    await session.flush()
    if regraded:
        await callbacks.reprioritise_customer(session, customer)
    return customer


async def add_note(
    session: AsyncSession, customer: Customer, *, text: str, author: str, stamp: str
) -> Customer:
    """Append a dated, signed note; earlier notes are never rewritten."""
    text = text.strip()
    if not text:
        raise ValidationError("the note is empty", code="required", field="text")
    line = f"[{stamp} {author}] {text}"
    customer.notes = f"{customer.notes.rstrip()}\n{line}" if customer.notes.strip() else line
    await session.flush()
    return customer


@dataclass(frozen=True, slots=True)
class OwnerPhone:
    """One of a phone owner's numbers, as the card shows it."""

    id: int
    number: str
    extension: str | None
    kind: PhoneKind


@dataclass(frozen=True, slots=True)
class PhoneOwner:
    """A customer found by a caller's number, with all their numbers: what a screen pop and
    the dialer's do-not-call check need, read as plain rows (no ORM objects to build)."""

    id: int
    name: str
    grade: Grade
    address: str
    notes: str
    do_not_call: bool
    do_not_call_reason: str | None
    phones: tuple[OwnerPhone, ...]


def _owner_columns() -> tuple[Any, ...]:
    """A phone owner's columns and one of their phones', as the owner queries read them."""
    customer, phone = Customer.__table__, Phone.__table__
    return (
        customer.c.id,
        customer.c.name,
        customer.c.grade,
        customer.c.address,
        customer.c.notes,
        customer.c.do_not_call,
        customer.c.do_not_call_reason,
        phone.c.id.label("phone_id"),
        phone.c.number,
        phone.c.extension,
        phone.c.kind,
    )


def _owners_query() -> Select[tuple[Any, ...]]:
    """Customers owning the number `:number`, each once per phone of theirs: the number's
    index (ix_phones_number_customer_id, which also holds the owner), the customer by its key,
    their phones by (customer_id, number). Core table columns, so the session runs it
    without the ORM's compile step, and built once, so its compiled form is cached."""
    customer, phone = Customer.__table__, Phone.__table__
    matched = phone.alias("matched")
    return (
        select(*_owner_columns())
        .select_from(matched)
        .join(customer, customer.c.id == matched.c.customer_id)
        .join(phone, phone.c.customer_id == customer.c.id)
        .where(matched.c.number == bindparam("number"))
        .order_by(customer.c.id, phone.c.id)
    )


def _called_about_query() -> Select[tuple[Any, ...]]:
    """A callback attempt's task and its project's customer, once per phone of theirs (or
    once with no phone): the attempt, task, project and customer by their keys, the phones by
    customer. One statement, so a callback's pop costs no more than an inbound call's."""
    customer, phone = Customer.__table__, Phone.__table__
    attempt, task = CallbackAttempt.__table__, CallbackTask.__table__
    project = Project.__table__
    return (
        select(task.c.id.label("task_id"), *_owner_columns())
        .select_from(attempt)
        .join(task, task.c.id == attempt.c.task_id)
        .join(project, project.c.id == task.c.project_id)
        .join(customer, customer.c.id == project.c.customer_id)
        .outerjoin(phone, phone.c.customer_id == customer.c.id)
        .where(attempt.c.id == bindparam("attempt_id"))
        .order_by(phone.c.id)
    )


_OWNERS = _owners_query()
_CALLED_ABOUT = _called_about_query()


def _owners(rows: Iterable[Any]) -> list[PhoneOwner]:
    """Owners from rows ordered by owner, one per phone (a row without a phone: none)."""
    owners: list[PhoneOwner] = []
    phones: list[OwnerPhone] = []
    current: Any = None
    for row in rows:
        if current is None or row.id != current.id:
            if current is not None:
                owners.append(_owner(current, phones))
            current, phones = row, []
        if row.phone_id is not None:
            phones.append(OwnerPhone(row.phone_id, row.number, row.extension, row.kind))
    if current is not None:
        owners.append(_owner(current, phones))
    return owners


async def find_by_phone(
    session: AsyncSession, raw: str | None, *, default_area_code: str | None = None
) -> list[PhoneOwner]:
    """Customers having this number in any written form, with their phones: one indexed
    equality lookup in one round trip, returned as plain typed records."""
    key = lookup_key(raw, default_area_code=default_area_code)
    if key is None:
        return []
    return _owners(await session.execute(_OWNERS, {"number": key}))


async def caller_card(
    session: AsyncSession, raw: str | None, *, default_area_code: str | None, today: date
) -> tuple[list[PhoneOwner], CustomerCard | None]:
    """A ringing caller: the customers having the number, with their phones, and the first
    one's card, in one round trip (crm/customers/card_rows.py)."""
    key = lookup_key(raw, default_area_code=default_area_code)
    if key is None:
        return [], None
    rows, records = await card_rows.caller_records(session, number=key)
    owners = _owners(rows)
    return owners, cards.card_from(owners[0], records, today=today) if owners else None


@dataclass(frozen=True, slots=True)
class CalledAbout:
    """Whom a callback attempt calls: its task, and the project's customer with their phones."""

    task_id: int
    owner: PhoneOwner


async def called_about(session: AsyncSession, *, attempt_id: int) -> CalledAbout | None:
    """The task and customer of this attempt (an outbound call's pop) in one round trip, or
    None for an unknown attempt."""
    rows = list(await session.execute(_CALLED_ABOUT, {"attempt_id": attempt_id}))
    if not rows:
        return None
    [owner] = _owners(rows)
    return CalledAbout(task_id=rows[0].task_id, owner=owner)


def _owner(row: Any, phones: list[OwnerPhone]) -> PhoneOwner:
    return PhoneOwner(
        id=row.id,
        name=row.name,
        grade=row.grade,
        address=row.address,
        notes=row.notes,
        do_not_call=row.do_not_call,
        do_not_call_reason=row.do_not_call_reason,
        phones=tuple(phones),
    )


async def search(
    session: AsyncSession, text: str, *, default_area_code: str | None = None, limit: int = 20
) -> list[Customer]:
    """Customers by name, any form of a phone number, or contract number."""
    text = text.strip()
    if not text:
        return []
    conditions = [
        Customer.name.contains(text, autoescape=True),
        Customer.id.in_(select(Project.customer_id).where(Project.contract_number == text)),
    ]
    key = lookup_key(text, default_area_code=default_area_code)
    if key is not None:
        conditions.append(Customer.id.in_(select(Phone.customer_id).where(Phone.number == key)))
    query = (
        select(Customer)
        .where(or_(*conditions))
        .options(selectinload(Customer.phones))
        .order_by(Customer.name, Customer.id)
        .limit(limit)
    )
    return list(await session.scalars(query))

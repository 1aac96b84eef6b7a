"""Login throttling: a bounded number of password checks per (name, address), whatever the
concurrency, and delays that grow rather than a lock a stranger could put on someone.

Each check is paid for before it is made: one guarded UPDATE per key charges a failure only
if the key still has a free check or its delay has passed, and the row stays locked until the
charge commits, so 40 parallel guesses get `NAME_ADDRESS.free` checks, not 40. A login that
succeeds gives its charges back. Three keys are charged:

- the name from this address: 5 free checks, then 1 s, 2 s, 4 s … up to 15 minutes between
  checks, until the key has been quiet for `QUIET`;
- the name from any address the user has not logged in from lately (a looser cap that only
  slows: at most `NAME.max_delay` between checks), so a stranger guessing from many
  addresses is slowed while the real user at their usual desk is not;
- the address, across names (one machine trying many names).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import case, delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from crm.db import insert_for
from crm.users.models import LoginThrottle, User, UserSession

QUIET = timedelta(minutes=15)  # a key without a failure this long starts afresh
KNOWN_FOR = timedelta(days=30)  # an address the user logged in from this recently is theirs


@dataclass(frozen=True, slots=True)
class Rule:
    scope: str
    free: int  # checks before the first delay
    max_delay: timedelta

    def delay(self, failures: int) -> timedelta:
        """The wait before the next check after `failures` charged checks."""
        if failures < self.free:
            return timedelta(0)
        doublings = min(failures - self.free, 30)
        return min(timedelta(seconds=2**doublings), self.max_delay)


NAME_ADDRESS = Rule("name_address", free=5, max_delay=timedelta(minutes=15))
NAME = Rule("name", free=20, max_delay=timedelta(seconds=30))
ADDRESS = Rule("address", free=30, max_delay=timedelta(minutes=15))
MAX_DELAY = max(r.max_delay for r in (NAME_ADDRESS, NAME, ADDRESS))


@dataclass(frozen=True, slots=True)
class Attempt:
    username: str
    address: str | None


@dataclass(frozen=True, slots=True)
class Charge:
    rule: Rule
    key: str


@dataclass(frozen=True, slots=True)
class Reservation:
    charges: tuple[Charge, ...]
    engaged: tuple[tuple[Rule, int], ...]  # rules whose delay began with this charge


class Throttled(Exception):
    """No check now: raised inside the caller's transaction, so the charges roll back."""

    def __init__(self, rule: Rule, retry_after: timedelta) -> None:
        super().__init__(f"{rule.scope}: retry after {retry_after}")
        self.rule = rule
        self.retry_after = retry_after


def charges(attempt: Attempt, *, known_address: bool) -> tuple[Charge, ...]:
    """The keys this attempt is charged to, in one global order (no deadlock between two
    attempts locking the same rows)."""
    address = attempt.address or "-"
    found = [Charge(NAME_ADDRESS, f"name_address:{attempt.username}|{address}")]
    if not known_address:
        found += [
            Charge(NAME, f"name:{attempt.username}"),
            Charge(ADDRESS, f"address:{address}"),
        ]
    return tuple(sorted(found, key=lambda c: c.key))


async def known_address(session: AsyncSession, attempt: Attempt, *, at: datetime) -> bool:
    """Whether this user logged in from this address lately (read before `reserve`, in its
    own transaction: SQLite must not upgrade a read transaction to a write)."""
    if attempt.address is None:
        return False
    found = await session.scalar(
        select(UserSession.id)
        .join(User, User.id == UserSession.user_id)
        .where(
            User.username == attempt.username,
            UserSession.ip == attempt.address,
            UserSession.created_at >= at - KNOWN_FOR,
        )
        .limit(1)
    )
    return found is not None


async def _ensure_row(session: AsyncSession, key: str, at: datetime) -> None:
    values = {"key": key, "failures": 0, "last_failure_at": at, "next_allowed_at": at}
    insert = insert_for(session)
    await session.execute(insert(LoginThrottle).values(values).on_conflict_do_nothing())


async def _charge(session: AsyncSession, charge: Charge, at: datetime) -> int | None:
    """The key's failures with this one, or None when it has no check to give now."""
    quiet = LoginThrottle.last_failure_at < at - QUIET
    failures = await session.scalar(
        update(LoginThrottle)
        .where(
            LoginThrottle.key == charge.key,
            or_(
                LoginThrottle.failures < charge.rule.free,
                LoginThrottle.next_allowed_at <= at,
                quiet,
            ),
        )
        .values(
            failures=case((quiet, 1), else_=LoginThrottle.failures + 1),
            last_failure_at=at,
        )
        .returning(LoginThrottle.failures)
        .execution_options(synchronize_session=False)
    )
    if failures is None:
        return None
    await session.execute(
        update(LoginThrottle)
        .where(LoginThrottle.key == charge.key)
        .values(next_allowed_at=at + charge.rule.delay(failures))
        .execution_options(synchronize_session=False)
    )
    return int(failures)


async def reserve(
    session: AsyncSession, attempt: Attempt, *, known_address: bool, at: datetime
) -> Reservation:
    """Charge one password check to every key of the attempt, or raise Throttled (the
    caller's transaction then rolls every charge back)."""
    wanted = charges(attempt, known_address=known_address)
    engaged = []
    for charge in wanted:
        await _ensure_row(session, charge.key, at)
        failures = await _charge(session, charge, at)
        if failures is None:
            allowed = await session.scalar(
                select(LoginThrottle.next_allowed_at).where(LoginThrottle.key == charge.key)
            )
            wait = (allowed or at) - at
            raise Throttled(charge.rule, max(wait, timedelta(seconds=1)))
        if failures == charge.rule.free:
            engaged.append((charge.rule, failures))
    return Reservation(wanted, tuple(engaged))


async def succeeded(session: AsyncSession, reservation: Reservation, *, at: datetime) -> None:
    """The password was right: this name from this address starts afresh, the wider keys get
    their charge back, and keys long quiet are deleted."""
    for charge in reservation.charges:
        if charge.rule is NAME_ADDRESS:
            await session.execute(delete(LoginThrottle).where(LoginThrottle.key == charge.key))
        else:
            await session.execute(
                update(LoginThrottle)
                .where(LoginThrottle.key == charge.key, LoginThrottle.failures > 0)
                .values(failures=LoginThrottle.failures - 1)
                .execution_options(synchronize_session=False)
            )
    await prune(session, at=at)


async def prune(session: AsyncSession, *, at: datetime) -> None:
    """Forget keys whose delay and quiet time are both over (names nobody has, say)."""
    await session.execute(
        delete(LoginThrottle).where(
            LoginThrottle.last_failure_at < at - QUIET - MAX_DELAY,
            LoginThrottle.next_allowed_at < at,
        )
    )

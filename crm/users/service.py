"""Users: creation with validated fields, argon2 password hashes, lookup by name or extension."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from crm.errors import Conflict, NotFound, Problem, ValidationError
from crm.one_of import one_of
from crm.users.models import Role, User

_hasher = PasswordHasher()
USERNAME_RE = re.compile(r"^[A-Za-z0-9_.-]{2,64}$")
EXTENSION_RE = re.compile(r"^\d{2,8}$")
MIN_PASSWORD_LENGTH = 8
# Verifying against a dummy hash keeps failed logins for unknown users as slow as for known ones.
_DUMMY_HASH = _hasher.hash("not-a-real-password")
# Password hashing (≈50 ms and 64 MiB each) runs beside the event loop, never on it, so a burst
# of logins does not hold up screen pops; two at a time bounds the memory a burst can take.
_hashing = ThreadPoolExecutor(max_workers=2, thread_name_prefix="password")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def _check(
    username: str | None,
    password: str | None,
    display_name: str | None,
    extension: str | None,
    role: Role | None,
) -> None:
    problems = []
    if username is not None and not USERNAME_RE.match(username):
        problems.append(
            Problem("username", "invalid_username", "use 2-64 letters, digits, '.', '_' or '-'")
        )
    if password is not None and len(password) < MIN_PASSWORD_LENGTH:
        problems.append(
            Problem(
                "password",
                "password_too_short",
                f"the password needs at least {MIN_PASSWORD_LENGTH} characters",
            )
        )
    if display_name is not None and not display_name.strip():
        problems.append(Problem("display_name", "required", "a display name is required"))
    if extension is not None and not EXTENSION_RE.match(extension):
        problems.append(
            Problem("extension", "invalid_extension", "an extension is 2-8 digits, like 1001")
        )
    if role is Role.AGENT and extension is None and username is not None:
        problems.append(
            Problem(
                "extension", "extension_required", "an agent needs the extension of their softphone"
            )
        )
    if problems:
        raise ValidationError.of(problems)


async def get(session: AsyncSession, user_id: int) -> User | None:
    """The user with this id, or None."""
    return await session.get(User, user_id)


async def get_or_raise(session: AsyncSession, user_id: int) -> User:
    """The user with this id, or NotFound."""
    user = await get(session, user_id)
    if user is None:
        raise NotFound(f"no user {user_id}", code="user_not_found")
    return user


async def get_by_username(session: AsyncSession, username: str) -> User | None:
    """The user with this login name, or None."""
    return await session.scalar(select(User).where(User.username == username))


async def active_user_by_extension(session: AsyncSession, *, extension: str) -> User | None:
    """The active user whose softphone has this extension, or None: a deactivated user's
    extension maps to nobody."""
    return await session.scalar(
        select(User).where(User.extension == extension, User.is_active.is_(True))
    )


async def active_users_by_extensions(
    session: AsyncSession, *, extensions: Iterable[str]
) -> dict[str, User]:
    """The active users having these extensions, by extension (deactivated users left out)."""
    wanted = set(extensions)
    if not wanted:
        return {}
    found = await session.scalars(
        select(User).where(one_of(User.extension, wanted), User.is_active.is_(True))
    )
    return {user.extension: user for user in found if user.extension is not None}


async def extension_directory(session: AsyncSession) -> dict[str, int]:
    """Every extension held by an active user → that user's id: who a ringing phone is."""
    rows = await session.execute(
        select(User.extension, User.id).where(User.extension.is_not(None), User.is_active.is_(True))
    )
    return {extension: user_id for extension, user_id in rows if extension}


@dataclass(frozen=True, slots=True)
class ExtensionHolder:
    """The active user whose softphone has an extension."""

    user_id: int
    role: Role


async def extension_holders(session: AsyncSession) -> dict[str, ExtensionHolder]:
    """Every extension held by an active user → that user and their role, in one query."""
    rows = await session.execute(
        select(User.extension, User.id, User.role).where(
            User.extension.is_not(None), User.is_active.is_(True)
        )
    )
    return {
        extension: ExtensionHolder(user_id, role) for extension, user_id, role in rows if extension
    }


async def active_user_ids(session: AsyncSession, *, roles: Iterable[Role]) -> list[int]:
    """The ids of the active users having one of these roles."""
    return list(
        await session.scalars(
            select(User.id).where(one_of(User.role, list(roles)), User.is_active.is_(True))
        )
    )


async def get_all(session: AsyncSession) -> list[User]:
    """Every user, by username."""
    return list(await session.scalars(select(User).order_by(User.username)))


async def get_agents(session: AsyncSession) -> list[User]:
    """Every agent (deactivated ones too), by extension then username."""
    return list(
        await session.scalars(
            select(User).where(User.role == Role.AGENT).order_by(User.extension, User.username)
        )
    )


async def get_by_ids(session: AsyncSession, *, ids: Iterable[int]) -> dict[int, User]:
    """The users with these ids, by id; unknown ids are left out."""
    wanted = set(ids)
    if not wanted:
        return {}
    return {u.id: u for u in await session.scalars(select(User).where(one_of(User.id, wanted)))}


async def display_names(session: AsyncSession, *, ids: Iterable[int | None]) -> dict[int, str]:
    """Users' display names by id, for lists and histories; None and unknown ids are left out."""
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    rows = await session.execute(select(User.id, User.display_name).where(one_of(User.id, wanted)))
    return {row.id: row.display_name for row in rows}


async def create(
    session: AsyncSession,
    *,
    username: str,
    password: str,
    display_name: str,
    role: Role,
    extension: str | None = None,
    department: str | None = None,
) -> User:
    """A new user; usernames and extensions are unique."""
    _check(username, password, display_name, extension, role)
    if await get_by_username(session, username) is not None:
        raise Conflict(
            f"the username {username!r} is taken", code="username_taken", field="username"
        )
    if (
        extension is not None
        and await active_user_by_extension(session, extension=extension) is not None
    ):
        raise Conflict(
            f"extension {extension} belongs to another agent",
            code="extension_taken",
            field="extension",
        )
    user = User(
        username=username,
        password_hash=hash_password(password),
        display_name=display_name.strip(),
        role=role,
        extension=extension,
        department=(department or "").strip() or None,
    )
    session.add(user)
    await session.flush()
    return user


async def update(
    session: AsyncSession,
    user: User,
    *,
    display_name: str | None = None,
    role: Role | None = None,
    extension: str | None = None,
    clear_extension: bool = False,
    password: str | None = None,
    is_active: bool | None = None,
    department: str | None = None,
) -> User:
    """Change a user's name, role, extension, password, active flag or department."""
    _check(None, password, display_name, extension, None)
    if extension is not None and extension != user.extension:
        other = await active_user_by_extension(session, extension=extension)
        if other is not None and other.id != user.id:
            raise Conflict(
                f"extension {extension} belongs to another agent",
                code="extension_taken",
                field="extension",
            )
        user.extension = extension
    if clear_extension:
        user.extension = None
    if display_name is not None:
        user.display_name = display_name.strip()
    if role is not None:
        user.role = role
    if user.role is Role.AGENT and user.extension is None:
        raise ValidationError(
            "an agent needs the extension of their softphone",
            code="extension_required",
            field="extension",
        )
    if password is not None:
        user.password_hash = hash_password(password)
    if is_active is not None:
        user.is_active = is_active
    if department is not None:
        user.department = department.strip() or None
    await session.flush()
    return user


async def _verify_off_loop(password_hash: str, password: str) -> bool:
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(_hashing, verify_password, password_hash, password)


async def _hash_off_loop(password: str) -> str:
    return await asyncio.get_running_loop().run_in_executor(_hashing, hash_password, password)


async def authenticate(session: AsyncSession, username: str, password: str) -> User | None:
    """The active user with these credentials, or None (in constant-ish time)."""
    user = await get_by_username(session, username)
    if user is None or not user.is_active:
        await _verify_off_loop(_DUMMY_HASH, password)
        return None
    if not await _verify_off_loop(user.password_hash, password):
        return None
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = await _hash_off_loop(password)
    return user

"""Domain errors: what went wrong in the business's terms, and which field it concerns.

The web layer turns them into 4xx responses, the CLI prints them. `code` is stable (for
translation and tests); `message` is English.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass


@dataclass(frozen=True, slots=True)
class Problem:
    field: str | None
    code: str
    message: str
    # The message's variable parts, for a translation of `code` (e.g. the dates out of order).
    params: Mapping[str, str] | None = dataclasses.field(default=None, hash=False)

    def as_dict(self) -> dict[str, object]:
        shown = asdict(self)
        if self.params is None:
            del shown["params"]
        return shown


class DomainError(Exception):
    status = 400

    def __init__(self, message: str, *, code: str = "invalid", field: str | None = None) -> None:
        super().__init__(message)
        self.problems: tuple[Problem, ...] = (Problem(field, code, message),)

    @property
    def code(self) -> str:
        return self.problems[0].code

    def as_dict(self) -> dict[str, object]:
        return {"detail": [p.as_dict() for p in self.problems]}


class ValidationError(DomainError):
    """Input that breaks a business rule; may carry several problems at once."""

    status = 422

    @classmethod
    def of(cls, problems: Sequence[Problem]) -> ValidationError:
        error = cls("; ".join(p.message for p in problems))
        error.problems = tuple(problems)
        return error


class Forbidden(DomainError):
    """The caller may not do this to this record (an agent and another agent's call)."""

    status = 403


class NotFound(DomainError):
    status = 404


class Conflict(DomainError):
    status = 409

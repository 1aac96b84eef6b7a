"""What an import tells its caller: progress as it goes, then a report or every problem found."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

Progress = Callable[[str, int, int], None]  # (phase, done, total)
PROGRESS_EVERY = 100


def report_progress(progress: Progress | None, phase: str, done: int, total: int) -> None:
    """Call `progress` every PROGRESS_EVERY items, and once the phase is done."""
    if progress and (done % PROGRESS_EVERY == 0 or done == total):
        progress(phase, done, total)


@dataclass(frozen=True, slots=True)
class RowError:
    """One problem, where the user can find it: row 1 is the spreadsheet's first row.

    `reason` is English (the command line prints it); `code` and `params` are the same problem
    for a translation (the browser's catalogues: `import.problem.<code>`), the codes being
    `crm.importer.problems.PROBLEM_CODES`.
    """

    row: int
    column: str | None
    value: str | None
    reason: str
    code: str = "invalid"
    params: Mapping[str, str] = field(default_factory=dict, hash=False)

    def __str__(self) -> str:
        where = f"row {self.row}" if self.row else "file"
        if self.column:
            where += f", {self.column}"
        value = f" {self.value!r}" if self.value not in (None, "") else ""
        return f"{where}{value}: {self.reason}"


class ImportRejected(Exception):
    """Nothing was imported; `errors` lists every bad row."""

    def __init__(self, errors: Sequence[RowError]) -> None:
        self.errors = sorted(errors, key=lambda e: (e.row, e.column or ""))
        super().__init__(f"{len(self.errors)} problem(s), nothing imported")

    def __str__(self) -> str:
        lines = [f"{len(self.errors)} problem(s), nothing imported:"]
        return "\n  ".join([*lines, *map(str, self.errors)])


@dataclass(slots=True)
class ImportReport:
    rows: int = 0
    customers_created: int = 0
    customers_updated: int = 0
    customers_unchanged: int = 0
    projects_created: int = 0
    projects_updated: int = 0
    projects_unchanged: int = 0
    callback_tasks_created: int = 0
    warnings: list[str] = field(default_factory=list)

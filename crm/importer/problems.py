"""The import's problem codes: every problem a row or a file can have, named once.

The command line prints a problem's English `reason`; the browser shows the translation of
`import.problem.<code>` (web/static/i18n/<lang>.json), filled with the problem's `params`.
A test checks every code here has a translation in each language.
"""

from __future__ import annotations

from typing import Any

# The file as a whole (row 0, or the header row): nothing can be previewed.
FILE_CODES = (
    "not_a_spreadsheet",  # {name}
    "unreadable_xlsx",
    "unreadable_csv",
    "empty_file",
    "duplicate_column",  # {other, field}
    "missing_column",  # {field}
)

# One row's cells, checked without the database.
ROW_CODES = (
    "name_required",
    "phone_required",
    "no_such_day",
    "not_a_date",
    "bad_grade",
    "bad_yes_no",
    "bad_status",
    "invalid_phone",  # {value}
    "not_a_customer_phone",  # {value, kind}
    "project_without_contract",  # {column}
    "stage_dates_out_of_order",  # {date, earlier_column, earlier_date}
    "completion_date_required",
    "number_on_other_row",  # {owner, row, name}
    "duplicate_contract",  # {row}
)

# Rows against what the database holds, and the services' own refusals.
DATABASE_CODES = (
    "contract_of_other_customer",  # {owner, id, name}
    "numbers_of_several_customers",  # {names, name}
    "number_of_other_customer",  # {owner, id, name}
    "db_stage_dates_out_of_order",  # {date, earlier_column, earlier_date}
    "db_completion_date_required",
    "refused",  # {message}: a service refused a row the checks passed (English)
)

# A job that could not finish (crm/importer/jobs.py, web/imports.py): the whole file.
JOB_CODES = ("import_stale", "commit_failed", "check_failed", "interrupted")

PROBLEM_CODES = FILE_CODES + ROW_CODES + DATABASE_CODES + JOB_CODES


class CellError(ValueError):
    """A cell that cannot be read: the English reason, and its code for a translation."""

    def __init__(self, code: str, reason: str, **params: Any) -> None:
        super().__init__(reason)
        self.code = code
        self.params = {k: str(v) for k, v in params.items()}

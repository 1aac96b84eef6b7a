"""Grouping rows into customers: rows sharing a phone number are one customer."""

from __future__ import annotations

from dataclasses import dataclass, field

from crm.customers.models import Grade
from crm.importer.checks import ParsedRow, PhoneSource
from crm.importer.reporting import RowError
from crm.importer.values import name_key


@dataclass(slots=True)
class CustomerEntry:
    """One customer of the file, merged from every row sharing one of its phone numbers."""

    name: str
    rows: list[int]
    phones: dict[str, PhoneSource]  # normalised number → where it was written first
    address: str | None = None  # None: not given (keep the database's value)
    grade: Grade | None = None
    notes: list[str] = field(default_factory=list)
    do_not_call: bool | None = None
    do_not_call_reason: str | None = None


class CustomerGrouper:
    """Rows sharing a phone number are one customer, provided they agree on the name."""

    def __init__(self, errors: list[RowError]) -> None:
        self.errors = errors
        self.by_number: dict[str, CustomerEntry] = {}
        self.entries: list[CustomerEntry] = []
        self.warnings: list[str] = []

    def add(self, row: ParsedRow) -> CustomerEntry | None:
        linked: list[CustomerEntry] = []
        conflict = False
        for number, source in row.phones.items():
            entry = self.by_number.get(number)
            if entry is None or any(e is entry for e in linked):
                continue
            if name_key(entry.name) != name_key(row.name):
                first = entry.phones[number]
                self.errors.append(
                    RowError(
                        row.number,
                        source.column,
                        source.raw,
                        f"this number is {entry.name}'s on row {first.row}, not {row.name}'s",
                        "number_on_other_row",
                        {"owner": entry.name, "row": str(first.row), "name": row.name},
                    )
                )
                conflict = True
            else:
                linked.append(entry)
        if conflict:
            return None
        entry = self._merge(linked) if linked else self._new(row)
        self._absorb(entry, row)
        return entry

    def _new(self, row: ParsedRow) -> CustomerEntry:
        entry = CustomerEntry(name=row.name, rows=[], phones={})
        self.entries.append(entry)
        return entry

    def _merge(self, linked: list[CustomerEntry]) -> CustomerEntry:
        """A row linking two groups of rows makes them one customer."""
        keep = linked[0]
        for other in linked[1:]:
            for number, source in other.phones.items():
                keep.phones.setdefault(number, source)
                self.by_number[number] = keep
            keep.rows += other.rows
            keep.notes += [n for n in other.notes if n not in keep.notes]
            for name in ("address", "grade", "do_not_call", "do_not_call_reason"):
                if getattr(keep, name) is None:
                    setattr(keep, name, getattr(other, name))
            self.entries.remove(other)
        return keep

    def _absorb(self, entry: CustomerEntry, row: ParsedRow) -> None:
        entry.rows.append(row.number)
        for number, source in row.phones.items():
            entry.phones.setdefault(number, source)
            self.by_number[number] = entry
        fields = row.customer
        if fields["notes"] and fields["notes"] not in entry.notes:
            entry.notes.append(fields["notes"])
        for name in ("address", "grade", "do_not_call", "do_not_call_reason"):
            value, current = fields[name], getattr(entry, name)
            if value is None:
                continue
            if current is None:
                setattr(entry, name, value)
            elif current != value:
                self.warnings.append(
                    f"row {row.number}: {entry.name}'s {name} {value!s} "
                    f"differs from an earlier row's {current!s}; kept "
                    f"{current!s}"
                )

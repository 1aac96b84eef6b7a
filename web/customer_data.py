"""A customer's data on request (PIPL), for the CLI and the admin's API alike: the export
as one ZIP (customer.json: the customer, phones, projects, calls, transcripts, callbacks and
attempts, complaints, repairs; optionally the recordings under recordings/), and the
erasure: the recording files removed from this machine, then the records anonymised and
audited in one transaction."""

from __future__ import annotations

import asyncio
import io
import json
import zipfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import PurePosixPath

from crm.customers import privacy
from crm.db import Database
from telephony.recordings.errors import RecordingError
from telephony.recordings.files import RecordingFiles


@dataclass(frozen=True, slots=True)
class Archive:
    filename: str
    content: bytes
    recordings_missing: list[str]  # the calls' recordings that could not be read here


def _zip(record: dict[str, object], files: list[tuple[str, bytes]]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        text = json.dumps(record, ensure_ascii=False, indent=2, sort_keys=True)
        archive.writestr("customer.json", text)
        for name, content in files:
            archive.writestr(name, content, compress_type=zipfile.ZIP_STORED)
    return buffer.getvalue()


def _read_recordings(
    files: RecordingFiles, recordings: list[tuple[int, str, str]]
) -> tuple[list[tuple[str, bytes]], list[str]]:
    found: list[tuple[str, bytes]] = []
    missing: list[str] = []
    for call_id, column, stored in recordings:
        name = f"recordings/call-{call_id}-{column}{PurePosixPath(stored).suffix}"
        try:
            found.append((name, files.find(stored).read_bytes()))
        except (RecordingError, OSError) as exc:
            missing.append(f"{name}: {exc}")
    return found, missing


async def export_customer(
    database: Database,
    files: RecordingFiles,
    *,
    customer_id: int,
    with_recordings: bool,
    actor: str,
    user_id: int | None,
    now: datetime,
) -> Archive:
    """The archive of everything held about the customer; the export is audited. NotFound."""
    async with database.session() as session:
        data = await privacy.customer_data(session, customer_id=customer_id)
        await privacy.audit_export(
            session, customer_id=customer_id, actor=actor, user_id=user_id, now=now
        )
    found: list[tuple[str, bytes]] = []
    missing: list[str] = []
    if with_recordings:
        found, missing = await asyncio.to_thread(_read_recordings, files, data.recordings)
    record = {**data.record, "exported_at": now.isoformat(), "recordings_missing": missing}
    content = await asyncio.to_thread(_zip, record, found)
    return Archive(f"customer-{customer_id}.zip", content, missing)


async def erase_customer(
    database: Database,
    files: RecordingFiles,
    *,
    customer_id: int,
    actor: str,
    user_id: int | None,
    now: datetime,
) -> privacy.Erasure:
    """Remove the customer's recordings here, then anonymise them; NotFound, Conflict (409)
    when already erased. A recording that cannot be removed stops the erasure before any
    record changes (RecordingError), so it can be retried whole."""
    async with database.session() as session:
        stored = await privacy.recordings_to_erase(session, customer_id=customer_id)
    removed = await asyncio.to_thread(lambda: sum(files.remove(path) for path in stored))
    async with database.session() as session:
        return await privacy.erase_customer(
            session,
            customer_id=customer_id,
            actor=actor,
            user_id=user_id,
            now=now,
            files_removed=removed,
        )

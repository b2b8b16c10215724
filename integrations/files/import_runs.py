"""The record of each queued import (upload form, watched folder), so the runner page can say
what the last one did: imported, skipped as a duplicate, or refused, with file name and reason.

    import_id = open_import(sessions, athlete_id, "upload", file_count=3)
    ... the job runs import_paths and calls ...
    close_import(sessions, import_id, outcome)

Only file names, counts and reasons are kept, and the lists are capped so a 5,000-file
export cannot make a row the page chokes on.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from integrations.files.importer import ImportOutcome
from strideguard.db import transaction
from strideguard.models import FileImport, utcnow
from strideguard.status import ImportStatus

UPLOAD = "upload"
WATCH = "watch"
LISTED = 200  # names kept per list; the counts are always whole


def open_import(
    sessions: sessionmaker[Session], athlete_id: int, origin: str, *, file_count: int
) -> int:
    """A QUEUED row for an import about to be sent to the worker; its id goes with the job."""
    with transaction(sessions) as session:
        row = FileImport(
            athlete_id=athlete_id,
            origin=origin,
            status=ImportStatus.QUEUED,
            file_count=file_count,
        )
        session.add(row)
        session.flush()
        return row.id


def summarise(outcome: ImportOutcome) -> dict[str, Any]:
    """The outcome as kept: whole counts, and at most LISTED names per list."""
    full = outcome.to_dict()
    return {
        "imported_count": len(outcome.imported),
        "duplicate_count": len(outcome.duplicates),
        "failed_count": len(outcome.failed),
        "imported": full["imported"][:LISTED],
        "duplicates": full["duplicates"][:LISTED],
        "failed": full["failed"][:LISTED],
        "matched_with_strava": full["matched_with_strava"],
    }


def close_import(
    sessions: sessionmaker[Session],
    import_id: int,
    outcome: ImportOutcome | None,
    *,
    error: str | None = None,
) -> None:
    """Record how the import ended. `outcome` None with `error`: it stopped before storing
    anything (the reason, never a traceback, is what the runner sees)."""
    with transaction(sessions) as session:
        row = session.get(FileImport, import_id)
        if row is None:  # the athlete was deleted meanwhile (cascade)
            return
        row.finished_at = utcnow()
        if outcome is None:
            row.status = ImportStatus.FAILED
            row.result = {"error": error or "the import stopped"}
        else:
            row.status = ImportStatus.DONE
            row.result = summarise(outcome)


def last_import(session: Session, athlete_id: int) -> FileImport | None:
    """The athlete's newest queued import, finished or not."""
    return session.scalars(
        select(FileImport)
        .where(FileImport.athlete_id == athlete_id)
        .order_by(FileImport.id.desc())
        .limit(1)
    ).first()

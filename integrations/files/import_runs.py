"""The record of each queued import (upload form, watched folder), so the runner page can say
what the last one did: imported, skipped as a duplicate, or refused, with file name and reason.

    import_id = open_import(sessions, athlete_id, "upload", file_count=3)
    ... the job runs import_paths and calls ...
    close_import(sessions, import_id, outcome)

Only file names, counts and reasons are kept, and the lists are capped so a 5,000-file
export cannot make a row the page chokes on.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from strideguard.db import transaction
from strideguard.integrations.files.importer import ImportOutcome
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


def common_folder(paths: Sequence[str]) -> str | None:
    """The folder every path is in (an upload's folder, an athlete's watched folder)."""
    return os.path.commonpath([os.path.dirname(p) for p in paths]) if paths else None


def summarise(outcome: ImportOutcome, base: str | None = None) -> dict[str, Any]:
    """The outcome as kept: whole counts, and at most LISTED names per list. Names are given
    relative to `base`, so the runner reads "run.fit", not the server's folders."""

    def shown(name: str) -> str:
        if base and name.startswith(base.rstrip(os.sep) + os.sep):
            return name[len(base.rstrip(os.sep)) + 1 :]
        return name

    return {
        "imported_count": len(outcome.imported),
        "duplicate_count": len(outcome.duplicates),
        "failed_count": len(outcome.failed),
        "imported": [shown(name) for name in outcome.imported[:LISTED]],
        "duplicates": [
            {"name": shown(d.name), "reason": d.reason} for d in outcome.duplicates[:LISTED]
        ],
        "failed": [{"name": shown(p.name), "reason": p.reason} for p in outcome.failed[:LISTED]],
        "matched_with_strava": len(outcome.matches),
    }


def close_import(
    sessions: sessionmaker[Session],
    import_id: int,
    outcome: ImportOutcome | None,
    *,
    error: str | None = None,
    base: str | None = None,
) -> None:
    """Record how the import ended. `outcome` None with `error`: it stopped before storing
    anything (the reason, never a traceback, is what the runner sees). `base`: see
    `summarise`."""
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
            row.result = summarise(outcome, base)


def last_import(session: Session, athlete_id: int) -> FileImport | None:
    """The athlete's newest queued import, finished or not."""
    return session.scalars(
        select(FileImport)
        .where(FileImport.athlete_id == athlete_id)
        .order_by(FileImport.id.desc())
        .limit(1)
    ).first()

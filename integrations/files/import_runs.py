"""The record of each queued import (upload form, watched folder), so the runner page can say
what the last one did: imported, skipped as a duplicate, or refused, with file name and reason.

    import_id = open_import(sessions, athlete_id, "upload", paths, remove_after=folder)
    ... the job claims it with start_import, runs import_paths and calls ...
    close_import(sessions, import_id, outcome)

The row is also the job's truth, as every job row is (strideguard/leases.py): it keeps the
paths, so the reconciler can send an import again whose queue message was lost
(`source.FileSource.unfinished_syncs`), and counts the attempts, so an import whose worker
dies each time ends FAILED with a reason instead of staying "queued".

Only file names, counts and reasons are shown, and the lists are capped so a 5,000-file
export cannot make a row the page chokes on.
"""

from __future__ import annotations

import datetime as dt
import enum
import os
from collections.abc import Sequence
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from strideguard.db import transaction
from strideguard.integrations.files.importer import ImportOutcome
from strideguard.leases import Lease, claim, exhausted, rowcount
from strideguard.models import FileImport, utcnow
from strideguard.status import ImportStatus

UPLOAD = "upload"
WATCH = "watch"
LISTED = 200  # names kept per list; the counts are always whole
FILE_IMPORT_LEASE = Lease(FileImport, FileImport.attempts, FileImport.started_at)


class Start(enum.Enum):
    """What `start_import` found: run the import, or why not."""

    CLAIMED = "claimed"
    # Finished already, deleted with its athlete, or run by a live attempt: a duplicate message.
    NOT_MINE = "not mine"
    GAVE_UP = "gave up"  # the attempts are spent; the row now says so


def open_import(
    sessions: sessionmaker[Session],
    athlete_id: int,
    origin: str,
    paths: Sequence[str],
    *,
    remove_after: str | None = None,
) -> int:
    """A QUEUED row for an import about to be sent to the worker; its id goes with the job."""
    with transaction(sessions) as session:
        row = FileImport(
            athlete_id=athlete_id,
            origin=origin,
            status=ImportStatus.QUEUED,
            file_count=len(paths),
            paths=list(paths),
            remove_after=remove_after,
        )
        session.add(row)
        session.flush()
        return row.id


def start_import(
    sessions: sessionmaker[Session],
    import_id: int,
    *,
    now: dt.datetime,
    lease: dt.timedelta,
    max_attempts: int,
) -> Start:
    """Claim the queued import for one attempt (counted before it runs, so a worker killed
    mid-import counts too); once `max_attempts` are spent, close it FAILED instead."""
    queued = (FileImport.id == import_id, FileImport.status == ImportStatus.QUEUED)
    with transaction(sessions) as session:
        attempts = session.scalar(select(FileImport.attempts).where(*queued))
        if attempts is None:
            return Start.NOT_MINE
        if exhausted(attempts, max_attempts):
            closed = session.execute(
                update(FileImport)
                .where(*queued, FILE_IMPORT_LEASE.free(now, lease))
                .values(
                    status=ImportStatus.FAILED,
                    finished_at=now,
                    started_at=None,
                    paths=None,
                    remove_after=None,
                    result={"error": gave_up(attempts)},
                )
            )
            return Start.GAVE_UP if rowcount(closed) == 1 else Start.NOT_MINE
        if claim(session, FILE_IMPORT_LEASE, *queued, now=now, duration=lease):
            return Start.CLAIMED
        return Start.NOT_MINE


def gave_up(attempts: int) -> str:
    """What the runner reads when every attempt died before finishing (killed, out of memory)."""
    return (
        f"the import did not finish in {attempts} attempts (the worker stopped each time); "
        "upload the files again to retry"
    )


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
        # The job is over: its server paths are not kept, only names relative to the upload.
        row.started_at, row.paths, row.remove_after = None, None, None
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

"""The import as a queued job: what the `import_files` actor runs for the upload form and the
watched folder (IMPORT_WATCH_DIR/<athlete id>/), so a large export never holds a web request.

Safe to retry and to run twice: the import itself is idempotent (see `importer`).
"""

from __future__ import annotations

import datetime as dt
import logging
import shutil
from collections.abc import Sequence
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from strideguard.integrations.files.import_runs import (
    Start,
    close_import,
    common_folder,
    start_import,
)
from strideguard.integrations.files.importer import ImportOutcome, UnknownAthlete, import_paths
from strideguard.models import utcnow
from strideguard.settings import Settings

log = logging.getLogger(__name__)


def import_files(
    sessions: sessionmaker[Session],
    settings: Settings,
    athlete_id: int,
    paths: Sequence[str],
    remove_after: str | None = None,
    import_id: int | None = None,
    *,
    now: dt.datetime | None = None,
) -> ImportOutcome | None:
    """Import `paths` for the athlete; None when the athlete is gone (deleted meanwhile), or
    when the `file_imports` row says there is nothing to do.

    `remove_after`: a folder the caller wrote the files into (an upload's temporary folder),
    deleted once the import is done, whatever its outcome, so uploads never pile up. Only the
    counts and file names are logged, never a file's content. `import_id`: the `file_imports`
    row (integrations/files/import_runs.py) the outcome is written to for the runner page; the
    job claims it first, so a message sent twice (the reconciler re-sends one it thinks lost)
    imports once, and gives up after JOB_MAX_ATTEMPTS attempts that never finished.
    """
    context = {"athlete_id": athlete_id, "import_id": import_id}
    if import_id is not None:
        start = start_import(
            sessions,
            import_id,
            now=now or utcnow(),
            lease=dt.timedelta(seconds=settings.job_lease_seconds),
            max_attempts=settings.job_max_attempts,
        )
        if start is Start.NOT_MINE:
            log.info("import skipped: finished already or running elsewhere", extra=context)
            return None
        if start is Start.GAVE_UP:
            log.warning("import given up: its attempts are spent", extra=context)
            _remove(remove_after)
            return None
    try:
        outcome = import_paths(sessions, athlete_id, [Path(p) for p in paths], settings=settings)
    except UnknownAthlete:
        log.info("import skipped: the athlete is gone", extra=context)
        return None
    except Exception as problem:
        if import_id is not None:  # the runner sees that it stopped, not a page stuck "queued"
            close_import(sessions, import_id, None, error=_stopped(problem))
        raise
    finally:
        _remove(remove_after)
    if import_id is not None:
        close_import(sessions, import_id, outcome, base=common_folder(paths))
    log.info(
        "files imported: %d new, %d duplicates, %d failed%s",
        len(outcome.imported),
        len(outcome.duplicates),
        len(outcome.failed),
        "".join(f"; {problem}" for problem in outcome.failed[:20]),
        extra=context,
    )
    return outcome


def _remove(folder: str | None) -> None:
    if folder is not None:
        shutil.rmtree(folder, ignore_errors=True)


def _stopped(problem: Exception) -> str:
    """What the runner reads when the import broke off: the kind of failure, no internals."""
    return f"the import stopped ({type(problem).__name__}); upload the files again to retry"

"""The import as a queued job: what the `import_files` actor runs for the upload form and the
watched folder (IMPORT_WATCH_DIR/<athlete id>/), so a large export never holds a web request.

Safe to retry and to run twice: the import itself is idempotent (see `importer`).
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Sequence
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from strideguard.integrations.files.import_runs import close_import, common_folder
from strideguard.integrations.files.importer import ImportOutcome, UnknownAthlete, import_paths
from strideguard.settings import Settings

log = logging.getLogger(__name__)


def import_files(
    sessions: sessionmaker[Session],
    settings: Settings,
    athlete_id: int,
    paths: Sequence[str],
    remove_after: str | None = None,
    import_id: int | None = None,
) -> ImportOutcome | None:
    """Import `paths` for the athlete; None when the athlete is gone (deleted meanwhile).

    `remove_after`: a folder the caller wrote the files into (an upload's temporary folder),
    deleted once the import is done, whatever its outcome, so uploads never pile up. Only the
    counts and file names are logged, never a file's content. `import_id`: the `file_imports`
    row (integrations/files/import_runs.py) the outcome is written to for the runner page.
    """
    try:
        outcome = import_paths(sessions, athlete_id, [Path(p) for p in paths], settings=settings)
    except UnknownAthlete:
        log.info("import skipped: the athlete is gone", extra={"athlete_id": athlete_id})
        return None
    except Exception as problem:
        if import_id is not None:  # the runner sees that it stopped, not a page stuck "queued"
            close_import(sessions, import_id, None, error=_stopped(problem))
        raise
    finally:
        if remove_after is not None:
            shutil.rmtree(remove_after, ignore_errors=True)
    if import_id is not None:
        close_import(sessions, import_id, outcome, base=common_folder(paths))
    log.info(
        "files imported: %d new, %d duplicates, %d failed%s",
        len(outcome.imported),
        len(outcome.duplicates),
        len(outcome.failed),
        "".join(f"; {problem}" for problem in outcome.failed[:20]),
        extra={"athlete_id": athlete_id},
    )
    return outcome


def _stopped(problem: Exception) -> str:
    """What the runner reads when the import broke off: the kind of failure, no internals."""
    return f"the import stopped ({type(problem).__name__}); upload the files again to retry"

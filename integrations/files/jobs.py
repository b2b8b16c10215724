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

from integrations.files.importer import ImportOutcome, UnknownAthlete, import_paths
from strideguard.settings import Settings

log = logging.getLogger(__name__)


def import_files(
    sessions: sessionmaker[Session],
    settings: Settings,
    athlete_id: int,
    paths: Sequence[str],
    remove_after: str | None = None,
) -> ImportOutcome | None:
    """Import `paths` for the athlete; None when the athlete is gone (deleted meanwhile).

    `remove_after`: a folder the caller wrote the files into (an upload's temporary folder),
    deleted once the import is done, whatever its outcome, so uploads never pile up. Only the
    counts and file names are logged, never a file's content.
    """
    try:
        outcome = import_paths(sessions, athlete_id, [Path(p) for p in paths], settings=settings)
    except UnknownAthlete:
        log.info("import skipped: the athlete is gone", extra={"athlete_id": athlete_id})
        return None
    finally:
        if remove_after is not None:
            shutil.rmtree(remove_after, ignore_errors=True)
    log.info(
        "files imported: %d new, %d duplicates, %d failed%s",
        len(outcome.imported),
        len(outcome.duplicates),
        len(outcome.failed),
        "".join(f"; {problem}" for problem in outcome.failed[:20]),
        extra={"athlete_id": athlete_id},
    )
    return outcome

"""The watched folder: files synced into IMPORT_WATCH_DIR/<athlete id>/ are imported once.

A self-hoster points Syncthing (or Gadgetbridge's export) at a folder per runner; the
scheduler sends one `scan_watch_dir` job a tick, and this module decides what is new:

- every FIT/GPX/TCX (plain or .gz) or ZIP below an athlete's folder is remembered with its size
  and modification time (`watched_files`);
- a file is read once it has not changed for IMPORT_WATCH_SETTLE_SECONDS and looks the same
  as when last seen, so a file a sync is still writing waits (hidden files, such as
  Syncthing's `.syncthing.*.tmp`, are never read);
- each file version is sent to one import and never again: an imported or duplicate file is a
  no-op, and a broken one is reported once (on the runner page and in the log), not retried
  on every tick. Changing the file (a new size or time) makes it a new version.

Folders whose name is not an athlete's id, symbolic links and other extensions are left alone.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import delete, select
from sqlalchemy.orm import Session, sessionmaker

from strideguard.db import transaction
from strideguard.integrations.files.import_runs import WATCH, open_import
from strideguard.integrations.files.reader import activity_format
from strideguard.models import Athlete, WatchedFile
from strideguard.settings import Settings
from strideguard.status import WatchedFileStatus

log = logging.getLogger(__name__)

NAME_LENGTH = 255  # WatchedFile.name
BATCH = 500  # files per athlete per scan; the rest wait for the next tick

# Called with (athlete id, file paths, file_imports id) to queue the import job.
QueueImport = Callable[[int, list[str], int], None]


@dataclass(frozen=True)
class Sighting:
    """One file as it is on disk now."""

    name: str  # its path under the athlete's folder, with "/"
    path: Path
    size: int
    mtime_ns: int


def scan_watch_dir(
    sessions: sessionmaker[Session], settings: Settings, now: dt.datetime, queue: QueueImport
) -> dict[int, int]:
    """Queue an import of every athlete's new, settled files; {athlete id: files queued}."""
    root = settings.import_watch_dir
    if root is None or not root.is_dir():
        return {}
    with sessions() as session:
        known = set(session.scalars(select(Athlete.id)))
    queued: dict[int, int] = {}
    for folder in sorted(root.iterdir()):
        if not (folder.name.isdigit() and int(folder.name) in known) or folder.is_symlink():
            continue
        athlete_id = int(folder.name)
        ready = _note(sessions, athlete_id, list(_sightings(folder)), now, settings)
        if ready:
            paths = [str(path) for path in ready]
            import_id = open_import(sessions, athlete_id, WATCH, paths)
            queue(athlete_id, paths, import_id)
            queued[athlete_id] = len(ready)
            log.info(
                "watched folder: %d files queued", len(ready), extra={"athlete_id": athlete_id}
            )
    return queued


def _sightings(folder: Path) -> Iterator[Sighting]:
    """The importable files below `folder`, skipping hidden names and symbolic links."""
    for top, folders, files in os.walk(folder):
        folders[:] = sorted(f for f in folders if not f.startswith("."))
        for file_name in sorted(files):
            path = Path(top) / file_name
            name = path.relative_to(folder).as_posix()
            if file_name.startswith(".") or path.is_symlink() or len(name) > NAME_LENGTH:
                continue
            if activity_format(file_name) is None and not file_name.lower().endswith(".zip"):
                continue
            try:
                stat = path.stat()
            except FileNotFoundError:  # removed by the sync since the listing
                continue
            yield Sighting(name, path, stat.st_size, stat.st_mtime_ns)


def _note(
    sessions: sessionmaker[Session],
    athlete_id: int,
    sightings: list[Sighting],
    now: dt.datetime,
    settings: Settings,
) -> list[Path]:
    """Record what is on disk; the files to import now, marked as sent."""
    settled_before = int((now.timestamp() - settings.import_watch_settle_seconds) * 1e9)
    ready: list[Path] = []
    with transaction(sessions) as session:
        rows = {
            row.name: row
            for row in session.scalars(
                select(WatchedFile).where(WatchedFile.athlete_id == athlete_id)
            )
        }
        present = {sighting.name for sighting in sightings}
        gone = [row.id for name, row in rows.items() if name not in present]
        if gone:  # removed from the folder: forget it, so putting it back reads it again
            session.execute(delete(WatchedFile).where(WatchedFile.id.in_(gone)))
        for sighting in sightings:
            row = rows.get(sighting.name)
            if row is None:
                row = WatchedFile(
                    athlete_id=athlete_id,
                    name=sighting.name,
                    size=sighting.size,
                    mtime_ns=sighting.mtime_ns,
                    status=WatchedFileStatus.SEEN,
                    seen_at=now,
                )
                session.add(row)
            elif (row.size, row.mtime_ns) != (sighting.size, sighting.mtime_ns):
                row.size, row.mtime_ns = sighting.size, sighting.mtime_ns
                row.status, row.seen_at = WatchedFileStatus.SEEN, now  # a new version
            if (
                row.status == WatchedFileStatus.SEEN
                and sighting.mtime_ns <= settled_before
                and len(ready) < BATCH
            ):
                row.status = WatchedFileStatus.QUEUED
                ready.append(sighting.path)
    return ready

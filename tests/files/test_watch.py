"""The watched folder IMPORT_WATCH_DIR/<athlete id>/: settled files are imported once, a file
still being written waits, a broken file is reported once, and nothing else is touched."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from strideguard.integrations.files import jobs
from strideguard.integrations.files.import_runs import last_import
from strideguard.integrations.files.watch import scan_watch_dir
from strideguard.models import Activity, Athlete, FileImport, WatchedFile
from strideguard.settings import Settings
from strideguard.status import ImportStatus
from tests.files.writers import RunSpec, fit_bytes, gpx_bytes, write

NOW = dt.datetime.now(dt.UTC).replace(microsecond=0)
DAY = dt.timedelta(days=1)
SETTLE_S = 60


class Importer:
    """The queue the scan is given: runs the real import job at once, as the worker would."""

    def __init__(self, sessions: sessionmaker[Session], settings: Settings) -> None:
        self.sessions, self.settings = sessions, settings
        self.batches: list[list[str]] = []

    def __call__(self, athlete_id: int, paths: list[str], import_id: int) -> None:
        self.batches.append(sorted(Path(p).name for p in paths))
        jobs.import_files(self.sessions, self.settings, athlete_id, paths, import_id=import_id)


def _athlete(sessions: sessionmaker[Session]) -> int:
    with sessions.begin() as session:
        athlete = Athlete(firstname="Wat", email="watch@example.org", timezone="Europe/Oslo")
        session.add(athlete)
        session.flush()
        return athlete.id


def _settled(path: Path, age_s: float = 2 * SETTLE_S) -> Path:
    moment = NOW.timestamp() - age_s
    os.utime(path, (moment, moment))
    return path


def _watching(app_settings: Settings, root: Path) -> Settings:
    return app_settings.model_copy(
        update={"import_watch_dir": root, "import_watch_settle_seconds": SETTLE_S}
    )


def _stored(sessions: sessionmaker[Session], athlete_id: int) -> int:
    with sessions() as session:
        count = session.scalar(
            select(func.count()).select_from(Activity).where(Activity.athlete_id == athlete_id)
        )
    return int(count or 0)


def test_settled_files_are_imported_once_and_a_broken_one_reported_once(
    app_settings: Settings, sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    athlete_id = _athlete(sessions)
    settings = _watching(app_settings, tmp_path / "watch")
    folder = tmp_path / "watch" / str(athlete_id)
    run = RunSpec(start=NOW - 3 * DAY, distance_m=10_000, moving_s=3000)
    other = RunSpec(start=NOW - 2 * DAY, distance_m=6_000, moving_s=1900)
    _settled(write(folder / "2026" / "run.fit", fit_bytes(run)))
    _settled(write(folder / "other.gpx.gz", gpx_bytes(other), gzipped=True))
    _settled(write(folder / "cut.fit", fit_bytes(other)[:40]))  # a truncated copy
    importer = Importer(sessions, settings)

    assert scan_watch_dir(sessions, settings, NOW, importer) == {athlete_id: 3}
    assert importer.batches == [["cut.fit", "other.gpx.gz", "run.fit"]]
    assert _stored(sessions, athlete_id) == 2
    with sessions() as session:
        shown = last_import(session, athlete_id)
        assert shown is not None
        assert shown.origin == "watch"
        assert shown.status == ImportStatus.DONE
        assert shown.result is not None
        assert shown.result["imported_count"] == 2
        assert [p["name"] for p in shown.result["failed"]] == ["cut.fit"]
        assert sorted(shown.result["imported"]) == ["other.gpx.gz", "run.fit"]

    # Later ticks: nothing new, so nothing queued; the broken file is not retried.
    assert scan_watch_dir(sessions, settings, NOW + DAY, importer) == {}
    assert len(importer.batches) == 1
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(FileImport)) == 1

    # The same run saved again under another name: read, and reported as a duplicate.
    _settled(write(folder / "copy-of-run.fit", fit_bytes(run)))
    assert scan_watch_dir(sessions, settings, NOW, importer) == {athlete_id: 1}
    assert _stored(sessions, athlete_id) == 2
    with sessions() as session:
        shown = last_import(session, athlete_id)
        assert shown is not None
        assert shown.result is not None
        assert shown.result["duplicate_count"] == 1


def test_a_file_still_being_written_waits_and_a_changed_file_is_read_again(
    app_settings: Settings, sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    athlete_id = _athlete(sessions)
    settings = _watching(app_settings, tmp_path / "watch")
    folder = tmp_path / "watch" / str(athlete_id)
    run = RunSpec(start=NOW - 3 * DAY, distance_m=10_000, moving_s=3000)
    partial = _settled(write(folder / "run.fit", fit_bytes(run)[:60]), age_s=5)
    importer = Importer(sessions, settings)

    assert scan_watch_dir(sessions, settings, NOW, importer) == {}  # written 5 s ago
    write(partial, fit_bytes(run))  # the sync finishes the file
    _settled(partial, age_s=SETTLE_S + 1)
    assert scan_watch_dir(sessions, settings, NOW, importer) == {athlete_id: 1}
    assert _stored(sessions, athlete_id) == 1

    # Edited afterwards (a new size and time): a new version, read once more.
    write(partial, fit_bytes(RunSpec(start=NOW - DAY, distance_m=4_000, moving_s=1300)))
    _settled(partial)
    assert scan_watch_dir(sessions, settings, NOW, importer) == {athlete_id: 1}
    assert _stored(sessions, athlete_id) == 2


def test_only_athletes_folders_and_activity_files_are_read(
    app_settings: Settings, sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    athlete_id = _athlete(sessions)
    root = tmp_path / "watch"
    settings = _watching(app_settings, root)
    run = fit_bytes(RunSpec(start=NOW - 3 * DAY, distance_m=10_000, moving_s=3000))
    _settled(write(root / "9999" / "run.fit", run))  # nobody has this id
    _settled(write(root / "shared" / "run.fit", run))  # not an athlete id
    _settled(write(root / str(athlete_id) / ".syncthing.run.fit.tmp", run))
    _settled(write(root / str(athlete_id) / ".stfolder" / "run.fit", run))
    _settled(write(root / str(athlete_id) / "notes.txt", b"not an activity"))
    (root / str(athlete_id) / "link.fit").symlink_to(root / "shared" / "run.fit")
    importer = Importer(sessions, settings)

    assert scan_watch_dir(sessions, settings, NOW, importer) == {}
    assert importer.batches == []
    unset = app_settings.model_copy(update={"import_watch_dir": None})
    assert scan_watch_dir(sessions, unset, NOW, importer) == {}


def test_deleting_the_runner_deletes_their_imports_and_watched_files(
    app_settings: Settings, sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    athlete_id = _athlete(sessions)
    settings = _watching(app_settings, tmp_path / "watch")
    run = RunSpec(start=NOW - 3 * DAY, distance_m=10_000, moving_s=3000)
    kept = _settled(write(tmp_path / "watch" / str(athlete_id) / "run.fit", fit_bytes(run)))
    assert scan_watch_dir(sessions, settings, NOW, Importer(sessions, settings))
    with sessions.begin() as session:
        session.delete(session.get_one(Athlete, athlete_id))
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(FileImport)) == 0
        assert session.scalar(select(func.count()).select_from(WatchedFile)) == 0
    assert kept.exists()  # the sync's own copy is left alone

"""The import service and `strideguard import`: files in, stored rows out, each run once."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from strideguard.integrations.files.importer import import_paths
from strideguard.integrations.files.reader import PARSERS
from strideguard.integrations.files.reading import Reading
from strideguard.integrations.strava.simulator import generate_history
from strideguard.models import Activity, Athlete
from strideguard.settings import Settings
from tests.files.exports import write_export
from tests.files.writers import RunSpec, fit_bytes, gpx_bytes, tcx_bytes, write

runner = CliRunner()
NOW = dt.datetime.now(dt.UTC).replace(microsecond=0)
DAY = dt.timedelta(days=1)


def _files_only(sessions: sessionmaker[Session]) -> int:
    with sessions.begin() as session:
        athlete = Athlete(firstname="Kim", email="kim@example.org", timezone="Europe/Oslo")
        session.add(athlete)
        session.flush()
        return athlete.id


def _rows(sessions: sessionmaker[Session]) -> list[Activity]:
    with sessions() as session:
        return list(session.scalars(select(Activity).order_by(Activity.start_date)))


def _strava_runner(
    sessions: sessionmaker[Session], runs: list[tuple[int, dt.datetime, int, str | None]]
) -> int:
    """A runner on Strava with these stored rows: (Strava id, start, metres, gear id)."""
    with sessions.begin() as session:
        athlete = Athlete(strava_athlete_id=42, firstname="Ada", email="ada@example.org")
        session.add(athlete)
        session.flush()
        for strava_id, start, metres, gear in runs:
            session.add(
                Activity(
                    strava_id=strava_id,
                    athlete_id=athlete.id,
                    sport_type="Run",
                    start_date=start,
                    start_date_local=start.replace(tzinfo=None),
                    distance_m=metres,
                    moving_time_s=3000,
                    gear_id=gear,
                )
            )
        return athlete.id


def test_files_are_stored_once_and_a_reimport_is_a_no_op(
    app_settings: Settings, sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    athlete_id = _files_only(sessions)
    run = RunSpec(start=NOW - 3 * DAY, distance_m=10_000, moving_s=3000, gain_m=40)
    other = RunSpec(start=NOW - 2 * DAY, distance_m=6_000, moving_s=1900)
    old = RunSpec(start=NOW - 500 * DAY, distance_m=5_000, moving_s=1600)
    paths = [
        write(tmp_path / "run.fit", fit_bytes(run)),
        write(tmp_path / "run.gpx", gpx_bytes(run)),  # the same run, a poorer recording
        write(tmp_path / "other.tcx.gz", tcx_bytes(other), gzipped=True),
        write(tmp_path / "old.gpx", gpx_bytes(old)),
        write(tmp_path / "notes.txt", b"not an activity"),
    ]
    outcome = import_paths(sessions, athlete_id, paths, settings=app_settings)
    assert sorted(Path(n).name for n in outcome.imported) == ["other.tcx.gz", "run.fit"]
    assert [(Path(d.name).name, d.reason) for d in outcome.duplicates] == [
        ("run.gpx", "the same run as run.fit in this import")
    ]
    reasons = {Path(p.name).name: p.reason for p in outcome.failed}
    assert "FILE_RETENTION_DAYS" in reasons["old.gpx"]
    assert "unknown extension" in reasons["notes.txt"]
    rows = _rows(sessions)
    assert [(r.source, r.distance_m, r.detail) for r in rows] == [
        ("file", 10_000, 3),
        ("file", 6_000, 2),
    ]
    assert all(r.strava_id < 0 and r.athlete_id == athlete_id for r in rows)

    again = import_paths(sessions, athlete_id, paths, settings=app_settings)
    assert again.imported == []
    assert sorted(d.reason for d in again.duplicates)[:2] == ["already imported"] * 2
    assert [r.strava_id for r in _rows(sessions)] == [r.strava_id for r in rows]


def test_a_better_recording_replaces_the_stored_one(
    app_settings: Settings, sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    athlete_id = _files_only(sessions)
    run = RunSpec(start=NOW - 3 * DAY, distance_m=8_000, moving_s=2400)
    import_paths(
        sessions, athlete_id, [write(tmp_path / "a.gpx", gpx_bytes(run))], settings=app_settings
    )
    later = import_paths(
        sessions, athlete_id, [write(tmp_path / "a.fit", fit_bytes(run))], settings=app_settings
    )
    assert [Path(n).name for n in later.imported] == ["a.fit"]
    assert [(r.detail, Path(r.file_name or "").name) for r in _rows(sessions)] == [(3, "a.fit")]


def test_the_same_run_from_strava_and_a_file_counts_once(
    app_settings: Settings, sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    late = dt.timedelta(seconds=20)
    athlete_id = _strava_runner(
        sessions,
        [(501, NOW - 3 * DAY + late, 10_100, "g1"), (502, NOW - 2 * DAY + late, 6_050, "g1")],
    )
    device = RunSpec(start=NOW - 3 * DAY, distance_m=10_000, moving_s=3000)
    track = RunSpec(start=NOW - 2 * DAY, distance_m=6_000, moving_s=1900)
    paths = [
        write(tmp_path / "a.fit", fit_bytes(device)),
        write(tmp_path / "b.gpx", gpx_bytes(track)),
    ]
    outcome = import_paths(sessions, athlete_id, paths, settings=app_settings)
    assert len(outcome.matches) == 2
    by_id = {r.strava_id: r for r in _rows(sessions)}
    fit_row = next(r for r in by_id.values() if r.detail == 3)
    gpx_row = next(r for r in by_id.values() if r.detail == 2)
    # The FIT file's device totals beat Strava's; Strava's named shoe beats a plain GPX track.
    assert by_id[501].matched_id == fit_row.strava_id
    assert fit_row.matched_id is None
    assert gpx_row.matched_id == 502
    assert by_id[502].matched_id is None
    from strideguard.cli.main import app

    shown = runner.invoke(app, ["athlete", "show", str(athlete_id)])
    assert shown.exit_code == 0, shown.output
    assert "Runs in both sources (counted once)" in shown.stdout
    assert f"file {fit_row.file_name}" in shown.stdout
    assert "strava 502" in shown.stdout
    assert "file_activities=2" in shown.stdout
    # Strava's row goes (past RETENTION_DAYS): the file's copy of that run counts again.
    with sessions.begin() as session:
        session.delete(session.get(Activity, 502))
    with sessions() as session:
        assert session.get(Activity, gpx_row.strava_id).matched_id is None  # type: ignore[union-attr]


def test_the_import_command_prints_what_happened(
    app_settings: Settings, sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    from strideguard.cli.main import app

    athlete_id = _files_only(sessions)
    run = RunSpec(start=NOW - 3 * DAY, distance_m=10_000, moving_s=3000)
    good = write(tmp_path / "run.fit", fit_bytes(run))
    bad = write(tmp_path / "broken.fit", fit_bytes(run)[:40])
    result = runner.invoke(
        app, ["import", str(athlete_id), str(good), str(bad), "--format", "json"]
    )
    assert result.exit_code == 0, result.output
    printed = json.loads(result.stdout)
    assert printed["imported"] == [good.name]
    assert [f["name"] for f in printed["failed"]] == [str(bad)]
    table = runner.invoke(app, ["import", str(athlete_id), str(good), str(bad)])
    assert "imported 0, duplicates 1, failed 1" in table.stdout
    assert "duplicate: run.fit: already imported" in table.stdout
    assert f"failed: {bad}:" in table.stdout
    unknown = runner.invoke(app, ["import", "999", str(good)])
    assert unknown.exit_code == 1
    assert "no athlete 999" in unknown.output


def test_retention_is_by_source_and_deletion_removes_both(
    app_settings: Settings, sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    from strideguard.activity_sources import purge_files
    from strideguard.integrations.strava.disconnect import delete_athlete_data
    from strideguard.integrations.strava.sync import purge_expired

    athlete_id = _strava_runner(sessions, [(9, NOW - 30 * DAY, 5000, None)])
    runs = [RunSpec(start=NOW - days * DAY, distance_m=7000, moving_s=2100) for days in (30, 390)]
    paths = [write(tmp_path / f"{i}.fit", fit_bytes(run)) for i, run in enumerate(runs)]
    import_paths(sessions, athlete_id, paths, settings=app_settings)
    # Strava's 7 days drop its month-old row; the files' month-old run stays.
    assert purge_expired(sessions, app_settings.retention_days, NOW) == 1
    assert [(r.source, r.distance_m) for r in _rows(sessions)] == [("file", 7000), ("file", 7000)]
    with sessions.begin() as session:  # a year on, the 390-day-old file passes 400 days
        assert purge_files(session, app_settings.file_retention_days, NOW + 20 * DAY) == 1
    assert len(_rows(sessions)) == 1
    assert delete_athlete_data(sessions, athlete_id)
    assert _rows(sessions) == []


def test_a_reimport_skips_the_files_it_stored_before_without_parsing_them(
    app_settings: Settings,
    sessions: sessionmaker[Session],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    athlete_id = _files_only(sessions)
    history = generate_history(7, 3, tz="Europe/Oslo", seed=3, end=NOW.date() - DAY)
    paths = [
        write_export(history, tmp_path / "export.zip"),
        write(tmp_path / "run.fit.gz", fit_bytes(RunSpec(NOW - 40 * DAY, 9_000, 2800)), True),
    ]
    first = import_paths(sessions, athlete_id, paths, settings=app_settings)
    assert len(first.imported) > 10
    parsed: list[str] = []
    for suffix, parse in list(PARSERS.items()):
        monkeypatch.setitem(PARSERS, suffix, _counting(parse, parsed))

    again = import_paths(sessions, athlete_id, paths, settings=app_settings)

    assert parsed == []
    assert again.imported == []
    assert again.failed == []
    assert sorted(d.name for d in again.duplicates) == sorted(first.imported)
    assert {d.reason for d in again.duplicates} == {"already imported"}
    assert len(_rows(sessions)) == len(first.imported)


def _counting(
    parse: Callable[[bytes, str], Reading], parsed: list[str]
) -> Callable[[bytes, str], Reading]:
    def counted(content: bytes, name: str) -> Reading:
        parsed.append(name)
        return parse(content, name)

    return counted

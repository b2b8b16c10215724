"""Strava's bulk export (ZIP or folder): the CSV's real layout, its files, its fallbacks and
the ZIP attacks an upload may carry."""

from __future__ import annotations

import datetime as dt
import gzip
import zipfile
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from strideguard.integrations.files import Detail, Limits, read_export, read_paths
from tests.files.writers import (
    ExportRowSpec,
    RunSpec,
    export_csv,
    fit_bytes,
    gpx_bytes,
    tcx_bytes,
)

OSLO = ZoneInfo("Europe/Oslo")
MONDAY = dt.datetime(2026, 5, 4, 5, 30, tzinfo=dt.UTC)


def _day(n: int) -> dt.datetime:
    return MONDAY + dt.timedelta(days=n)


def _export(path: Path, extra: dict[str, bytes] | None = None, csv_text: str | None = None) -> Path:
    rows = [
        ExportRowSpec(
            1001, _day(0), "Run", 10_012.3, 3100, 3000, 48.4, "activities/1001.fit.gz", "Pegasus 41"
        ),
        ExportRowSpec(
            1002,
            _day(1),
            "Trail Run",
            8_000.0,
            3000,
            2900,
            160.0,
            "activities/1002.gpx",
            miles=True,
        ),
        ExportRowSpec(1003, _day(2), "Run", 6_000.0, 1900, 1800, 20.0, "activities/1003.tcx.gz"),
        ExportRowSpec(1004, _day(3), "Weight Training", 0.0, 2400, 2400, 0.0),  # typed in
        ExportRowSpec(
            1005, _day(4), "Run", 5_000.0, 1600, 1500, 10.0, "activities/1005.fit.gz", miles=True
        ),
    ]
    files = {
        "activities/1001.fit.gz": gzip.compress(
            fit_bytes(RunSpec(_day(0), 10_012.3, 3000, 100, 48.4))
        ),
        "activities/1002.gpx": gpx_bytes(RunSpec(_day(1), 8_000.0, 2900, 100, 160.0)),
        "activities/1003.tcx.gz": gzip.compress(
            tcx_bytes(RunSpec(_day(2), 6_000.0, 1800, 100, 20.0))
        ),
        # 1005's file is missing from the export
        "media/photo.jpg": b"\xff\xd8 not read",
        **(extra or {}),
    }
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("activities.csv", csv_text if csv_text is not None else export_csv(rows))
        for name, content in files.items():
            archive.writestr(name, content)
    return path


def test_export_zip_reads_files_and_csv(tmp_path: Path) -> None:
    report = read_export(_export(tmp_path / "export_123.zip"), athlete_zone=OSLO)
    by_id = {a.strava_id: a for a in report.activities}
    assert set(by_id) == {1001, 1002, 1003, 1004, 1005}
    fit, gpx, tcx, typed, missing = (by_id[i] for i in (1001, 1002, 1003, 1004, 1005))
    assert (fit.source, fit.distance_m, fit.moving_time_s, fit.gear_name) == (
        "fit",
        10_012,
        3000,
        "Pegasus 41",
    )
    assert fit.start_date_local == dt.datetime(2026, 5, 4, 7, 30)
    # the CSV's sport type wins (the runner may have changed it on Strava); metres, not miles
    assert (gpx.sport_type, gpx.distance_m, gpx.moving_time_s) == ("TrailRun", 8000, 2900)
    assert (tcx.source, tcx.distance_m) == ("tcx", 6000)
    assert (typed.sport_type, typed.manual, typed.moving_time_s, typed.detail) == (
        "WeightTraining",
        True,
        2400,
        Detail.MANUAL,
    )
    assert (missing.source, missing.distance_m, missing.moving_time_s, missing.detail) == (
        "strava-csv",
        5000,
        1500,
        Detail.SUMMARY,
    )
    assert missing.start_date_local == dt.datetime(2026, 5, 8, 7, 30)
    assert [str(p) for p in report.problems] == [
        "export_123.zip:activities/1005.fit.gz: listed in activities.csv but not in the export; "
        "the CSV's figures are used instead"
    ]


def test_unpacked_export_folder_reads_the_same(tmp_path: Path) -> None:
    with zipfile.ZipFile(_export(tmp_path / "e.zip")) as archive:
        archive.extractall(tmp_path / "unpacked")
    zipped = read_export(tmp_path / "e.zip", athlete_zone=OSLO).activities
    folder = read_paths([tmp_path / "unpacked"], athlete_zone=OSLO).activities
    assert [(a.fingerprint, a.strava_id) for a in folder] == [
        (a.fingerprint, a.strava_id) for a in zipped
    ]


def test_an_activities_csv_given_by_name_reads_its_export(tmp_path: Path) -> None:
    with zipfile.ZipFile(_export(tmp_path / "e.zip")) as archive:
        archive.extractall(tmp_path / "unpacked")
    folder = read_paths([tmp_path / "unpacked"], athlete_zone=OSLO)
    named = read_paths([tmp_path / "unpacked" / "activities.csv"], athlete_zone=OSLO)
    assert named == folder
    assert {a.source for a in named.activities} > {"strava-csv"}  # its files were read too


def test_zip_slip_and_bomb_entries_are_refused_and_the_rest_read(tmp_path: Path) -> None:
    extra = {"../../etc/evil.fit": b"x", "/abs/evil.gpx": b"x"}
    path = _export(tmp_path / "e.zip", extra)
    # the listed FIT becomes a bomb: 30 MB of zeros deflates to ~30 kB
    with zipfile.ZipFile(path, "a", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("activities/1005.fit.gz", b"\0" * (30 * 2**20))
    report = read_export(path, athlete_zone=OSLO)
    reasons = "\n".join(str(p) for p in report.problems)
    assert "e.zip:../../etc/evil.fit: entry path leaves the export (zip slip): skipped" in reasons
    assert "e.zip:/abs/evil.gpx: entry path leaves the export (zip slip): skipped" in reasons
    assert "e.zip:activities/1005.fit.gz: unpacks to more than 100 times" in reasons
    assert len(report.activities) == 5  # 1005 from the CSV's figures
    assert not (tmp_path.parent / "etc" / "evil.fit").exists()


def test_export_size_limit_stops_reading_files_but_keeps_the_rows(tmp_path: Path) -> None:
    limits = Limits(max_export_bytes=60_000)
    report = read_export(_export(tmp_path / "e.zip"), athlete_zone=OSLO, limits=limits)
    assert len(report.activities) == 5
    assert any("unpacked-size limit" in p.reason for p in report.problems)


def test_csv_with_missing_columns_reads_the_files_alone(tmp_path: Path) -> None:
    broken = "Activity ID,Activity Date,Activity Name,Activity Type,Distance\n1,x,y,Run,5\n"
    report = read_export(_export(tmp_path / "e.zip", csv_text=broken), athlete_zone=OSLO)
    assert sorted(a.source for a in report.activities) == ["fit", "gpx", "tcx"]
    assert str(report.problems[0]).startswith(
        "e.zip:activities.csv: missing column(s) 'Filename', the second 'Elapsed Time', "
        "the second 'Distance'"
    )


def test_bad_csv_row_is_skipped_by_line(tmp_path: Path) -> None:
    rows = [ExportRowSpec(7, _day(0), "Run", 5000.0, 1500, 1500, 0.0)]
    text = export_csv(rows).replace("May 4, 2026", "Someday")
    report = read_export(_export(tmp_path / "e.zip", csv_text=text), athlete_zone=OSLO)
    assert report.activities == []
    assert "activities.csv line 2: row skipped: 'Activity Date'" in str(report.problems[0])


def test_not_a_zip(tmp_path: Path) -> None:
    (tmp_path / "x.zip").write_bytes(b"PK nonsense")
    report = read_paths([tmp_path / "x.zip"], athlete_zone=OSLO)
    assert report.activities == []
    assert "not a readable ZIP file" in report.problems[0].reason


@pytest.mark.parametrize("zone", [None])
def test_csv_only_rows_need_a_zone(tmp_path: Path, zone: ZoneInfo | None) -> None:
    report = read_export(_export(tmp_path / "e.zip"), athlete_zone=zone)
    assert any("give the athlete's zone" in p.reason for p in report.problems)


def test_worker_processes_read_the_same(tmp_path: Path) -> None:
    path = _export(tmp_path / "e.zip")
    alone = read_export(path, athlete_zone=OSLO)
    shared = read_export(path, athlete_zone=OSLO, workers=2)
    assert shared.activities == alone.activities
    assert shared.problems == alone.problems


def test_a_link_out_of_an_export_folder_is_not_followed(tmp_path: Path) -> None:
    with zipfile.ZipFile(_export(tmp_path / "e.zip")) as archive:
        archive.extractall(tmp_path / "unpacked")
    secret = tmp_path / "secret.gpx"
    secret.write_bytes(gpx_bytes(RunSpec(_day(9), 1000.0, 300)))
    (tmp_path / "unpacked" / "activities" / "1002.gpx").unlink()
    (tmp_path / "unpacked" / "activities" / "1002.gpx").symlink_to(secret)
    report = read_export(tmp_path / "unpacked", athlete_zone=OSLO)
    assert "unpacked:activities/1002.gpx: links outside the export folder: not read" in [
        str(p).split("; ")[0] for p in report.problems
    ]
    assert all(a.distance_m != 1000 for a in report.activities)

"""`strideguard rules evaluate --activities` on the runner's own files: FIT, GPX and TCX (plain
or gzip), a folder of them or a Strava export, read by the same reader as the import."""

from __future__ import annotations

import datetime as dt
import json
import zipfile
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from strideguard.cli.main import app
from tests.files.writers import (
    ExportRowSpec,
    RunSpec,
    export_csv,
    fit_bytes,
    gpx_bytes,
    tcx_bytes,
    write,
)

runner = CliRunner()
MON = dt.date(2025, 9, 1)
SPIKE = "weekly_distance_spike"


def invoke(*args: str) -> Any:
    return runner.invoke(app, ["rules", "evaluate", *args])


def _runs(weekly_km: list[int]) -> list[RunSpec]:
    """Three runs a week at 06:00 UTC (08:00 in Oslo), 5 min/km."""
    specs = []
    for week, km in enumerate(weekly_km):
        for day in range(3):
            start = dt.datetime.combine(MON + dt.timedelta(weeks=week, days=2 * day), dt.time(6))
            metres = km * 1000 / 3
            specs.append(
                RunSpec(start=start.replace(tzinfo=dt.UTC), distance_m=metres,
                        moving_s=round(metres * 0.3), step_s=30)
            )  # fmt: skip
    return specs


def _write_files(folder: Path, specs: list[RunSpec]) -> list[Path]:
    """Each format in turn, every other file gzip-compressed, as Strava's export ships them."""
    formats = ((".fit", fit_bytes), (".gpx", gpx_bytes), (".tcx", tcx_bytes))
    paths = []
    for index, spec in enumerate(specs):
        suffix, encode = formats[index % 3]
        gzipped = index % 2 == 1
        name = f"run{index:02}{suffix}" + (".gz" if gzipped else "")
        paths.append(write(folder / name, encode(spec), gzipped=gzipped))
    return paths


def _spikes(result: Any) -> dict[str, str]:
    assert result.exit_code == 0, result.output
    findings = json.loads(result.stdout)["findings"]
    return {f["week_start"]: f["status"] for f in findings if f["rule"] == SPIKE}


def test_a_folder_of_fit_gpx_tcx_files_is_evaluated(tmp_path: Path) -> None:
    _write_files(tmp_path / "watch", _runs([30, 30, 30, 30, 30, 45]))
    result = invoke("--activities", str(tmp_path / "watch"), "--format", "json")
    spikes = _spikes(result)
    # 45 km after five weeks of 30 km is +50 %: the spike fires in the last week only.
    assert spikes["2025-10-06"] == "fired"
    assert [w for w, status in spikes.items() if status == "fired"] == ["2025-10-06"]
    assert json.loads(result.stdout)["skipped"] == []


def test_files_give_the_findings_their_strava_json_gives(tmp_path: Path) -> None:
    specs = _runs([30, 30, 30, 30, 30, 45])
    _write_files(tmp_path / "watch", specs)
    summaries = [
        {
            "id": index + 1,
            "sport_type": "Run",
            "start_date": f"{spec.start:%Y-%m-%dT%H:%M:%SZ}",
            "timezone": "(GMT+01:00) Europe/Oslo",
            "distance": spec.distance_m,
            "moving_time": spec.moving_s,
            "total_elevation_gain": spec.gain_m,
        }
        for index, spec in enumerate(specs)
    ]
    (tmp_path / "page.json").write_text(json.dumps(summaries))
    from_json = invoke("--activities", str(tmp_path / "page.json"), "--format", "json")
    from_files = invoke("--activities", str(tmp_path / "watch"), "--format", "json")

    def statuses(result: Any) -> list[tuple[str, str, str]]:
        assert result.exit_code == 0, result.output
        findings = json.loads(result.stdout)["findings"]
        return sorted((f["week_start"], f["rule"], f["status"]) for f in findings)

    assert statuses(from_files) == statuses(from_json)


def test_one_gzip_file_and_a_skipped_one_are_reported(tmp_path: Path) -> None:
    [path] = _write_files(tmp_path, _runs([30])[:1])
    single = invoke("--activities", str(path), "--athlete-tz", "Europe/Oslo", "--format", "json")
    assert single.exit_code == 0, single.output
    write(tmp_path / "broken.fit", b"\x0e\x10not a fit file at all")
    both = invoke("--activities", str(tmp_path), "--format", "json")
    assert both.exit_code == 0, both.output
    [skipped] = json.loads(both.stdout)["skipped"]
    assert skipped.startswith(f"{tmp_path / 'broken.fit'}: ")
    assert "warning: " + skipped in both.stderr


def test_nothing_readable_is_an_error_naming_each_file(tmp_path: Path) -> None:
    write(tmp_path / "notes.gpx", b"<gpx><trk><trkseg></trkseg></trk></gpx>")
    result = invoke("--activities", str(tmp_path))
    assert result.exit_code == 2
    assert f"warning: {tmp_path / 'notes.gpx'}: " in result.stderr
    assert f"error: no activities could be read from {tmp_path}" in result.stderr


def test_an_export_zip_and_the_same_run_as_a_loose_file_count_once(tmp_path: Path) -> None:
    specs = _runs([30, 30, 30, 30, 30, 45])
    archive = tmp_path / "export.zip"
    rows = []
    with zipfile.ZipFile(archive, "w") as zipped:
        for index, spec in enumerate(specs):
            name = f"activities/{index + 1}.gpx"
            zipped.writestr(name, gpx_bytes(spec))
            rows.append(
                ExportRowSpec(index + 1, spec.start, "Run", spec.distance_m, spec.moving_s,
                              spec.moving_s, 0.0, filename=name, gear="Pegasus")
            )  # fmt: skip
        zipped.writestr("activities.csv", export_csv(rows))
    alone = invoke("--activities", str(archive), "--athlete-tz", "Europe/Oslo", "--format", "json")
    assert _spikes(alone)["2025-10-06"] == "fired"


def test_the_same_run_as_fit_and_gpx_counts_once(tmp_path: Path) -> None:
    specs = _runs([30, 30, 30, 30, 30, 45])
    for index, spec in enumerate(specs):
        write(tmp_path / f"{index:02}.gpx", gpx_bytes(spec))
    alone = invoke("--activities", str(tmp_path), "--format", "json")
    # The watch's own FIT file of the spike week's first run, synced next to its GPX copy.
    write(tmp_path / "watch.fit", fit_bytes(specs[-3]))
    both = invoke("--activities", str(tmp_path), "--format", "json")
    assert _spikes(both) == _spikes(alone)
    # The FIT file has the device's own figures, so it is the copy kept.
    assert json.loads(both.stdout)["skipped"] == ["15.gpx: the same run as watch.fit; counted once"]

"""Files that cannot be read are refused with a reason that names them; the rest goes on."""

from __future__ import annotations

import datetime as dt
import gzip
import os
import random
from pathlib import Path

import pytest

from strideguard.integrations.files import (
    FileRejected,
    Limits,
    read_activity_bytes,
    read_activity_file,
    read_paths,
)
from tests.files.writers import RunSpec, fit_bytes, gpx_bytes, tcx_bytes, write

START = dt.datetime(2026, 5, 4, 5, 30, tzinfo=dt.UTC)
RUN = RunSpec(START, 5000.0, 1500)


def _refused(path: Path, limits: Limits | None = None) -> str:
    with pytest.raises(FileRejected) as caught:
        read_activity_file(path, athlete_zone=None, limits=limits)
    assert caught.value.name == path.name
    return caught.value.reason


def test_truncated_fit(tmp_path: Path) -> None:
    content = fit_bytes(RUN)
    assert "not a readable FIT file" in _refused(
        write(tmp_path / "cut.fit", content[: len(content) // 2])
    )


def test_corrupt_fit_fails_its_crc(tmp_path: Path) -> None:
    content = bytearray(fit_bytes(RUN))
    content[len(content) // 2] ^= 0xFF
    assert "not a readable FIT file" in _refused(write(tmp_path / "bad.fit", bytes(content)))


def test_truncated_gzip(tmp_path: Path) -> None:
    packed = gzip.compress(fit_bytes(RUN))
    assert "damaged gzip data" in _refused(write(tmp_path / "cut.fit.gz", packed[:-40]))


def test_gpx_without_times(tmp_path: Path) -> None:
    reason = _refused(write(tmp_path / "route.gpx", gpx_bytes(RUN, timed=False)))
    assert "have no times" in reason


def test_tcx_with_neither_laps_nor_track(tmp_path: Path) -> None:
    content = tcx_bytes(RUN, track=False).replace(b"<TotalTimeSeconds>1500</TotalTimeSeconds>", b"")
    assert "lacks its distance or time" in _refused(write(tmp_path / "l.tcx", content))


def test_xml_with_a_dtd_is_refused(tmp_path: Path) -> None:
    bomb = b'<?xml version="1.0"?><!DOCTYPE gpx [<!ENTITY a "aaaa">]><gpx>&a;</gpx>'
    assert "DTD" in _refused(write(tmp_path / "e.gpx", bomb))


def test_unknown_extension(tmp_path: Path) -> None:
    assert "unknown extension (.kml)" in _refused(write(tmp_path / "a.kml", b"<kml/>"))


def test_a_200_mb_file_is_refused_before_reading(tmp_path: Path) -> None:
    path = tmp_path / "huge.fit"
    with path.open("wb") as sparse:  # sparse: no 200 MB written to the shared disk
        sparse.truncate(200 * 2**20)
    assert "200 MB is larger than the 64 MB limit" in _refused(path)


def test_gzip_bomb_is_refused(tmp_path: Path) -> None:
    bomb = gzip.compress(b"\0" * (20 * 2**20))  # 20 MB of zeros in ~20 kB
    reason = _refused(write(tmp_path / "bomb.gpx.gz", bomb))
    assert "decompression bomb" in reason


def test_one_bad_file_does_not_stop_the_others(tmp_path: Path) -> None:
    write(tmp_path / "in" / "good.gpx", gpx_bytes(RUN))
    write(tmp_path / "in" / "bad.fit", b"not a fit file at all")
    write(tmp_path / "in" / "notes.txt", b"hello")
    report = read_paths([tmp_path / "in"], athlete_zone=None)
    assert [a.name for a in report.activities] == ["good.gpx"]
    reasons = {Path(p.name).name: p.reason for p in report.problems}
    assert set(reasons) == {"bad.fit", "notes.txt"}
    assert "not a readable FIT file" in reasons["bad.fit"]
    assert os.path.basename(str(report.problems[0])).startswith(("bad.fit", "notes.txt"))


@pytest.mark.parametrize("suffix", [".fit", ".gpx", ".tcx"])
@pytest.mark.filterwarnings("ignore::UserWarning")  # fitdecode warns about bad definitions
def test_damaged_bytes_are_refused_never_crash(suffix: str) -> None:
    """Cut, flipped and random bytes: a `FileRejected` naming the file, or a reading; nothing
    else (fitdecode itself trips over some damage before it reaches the CRC)."""
    writers = {".fit": fit_bytes, ".gpx": gpx_bytes, ".tcx": tcx_bytes}
    good = writers[suffix](RunSpec(START, 3000.0, 900, step_s=10))
    rng = random.Random(suffix)
    refused_as: set[str] = set()
    for attempt in range(150):
        damaged = bytearray(good)
        if attempt % 3 == 0:
            damaged = damaged[: rng.randrange(len(damaged))]
        elif attempt % 3 == 1:
            for _ in range(rng.randrange(1, 5)):
                damaged[rng.randrange(len(damaged))] = rng.randrange(256)
        else:
            damaged = bytearray(rng.randbytes(rng.randrange(1, 300)))
        try:
            read_activity_bytes(bytes(damaged), "damaged" + suffix, athlete_zone=None)
        except FileRejected as exc:
            refused_as.add(exc.name)
    assert refused_as == {"damaged" + suffix}


def test_missing_paths_are_reported_by_name(tmp_path: Path) -> None:
    report = read_paths([tmp_path / "gone.fit", tmp_path / "gone.zip"], athlete_zone=None)
    assert report.activities == []
    assert [Path(p.name).name for p in report.problems] == ["gone.fit", "gone.zip"]
    assert "cannot read: No such file or directory" in report.problems[0].reason
    assert "not a readable ZIP file" in report.problems[1].reason

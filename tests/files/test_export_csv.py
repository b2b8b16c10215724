"""activities.csv read by position: Strava's real layout, with its repeated column names."""

from __future__ import annotations

import datetime as dt

import pytest

from strideguard.integrations.files import FileRejected
from strideguard.integrations.files.export_csv import read_export_csv
from tests.files.writers import EXPORT_HEADER

# One line of a real Strava export (a ride from October 2020), as published with the header in
# an open-source export reader; the display-unit columns say 18.96 km and 5601 s, the SI ones
# 18962.8 m, 5601.0 s elapsed and 4567.0 s moving.
REAL_ROW = (
    '4163856655,"Oct 7, 2020, 2:43:11 PM",Evening chill,Ride,"",5601,18.96,,,false,,Pathfinder,'
    "activities/4163856655.gpx,,,5601.0,4567.0,18962.80078125,10.399999618530273,"
    "4.152134895324707,109.99222564697266,113.69200134277344,115.4000015258789,156.0,"
    "9.300000190734863,-0.019511885941028595,,,,,,,,,,,,,,,,,,,,,,,0.0,,0.0,,1.0,,,,,,,,,,,,,,,,"
    '8939761.0,,,,,,,,,,,,,,,,,,,,,,,,,""'
)


def test_real_export_row_reads_the_si_columns() -> None:
    rows, problems = read_export_csv(f"{EXPORT_HEADER}\n{REAL_ROW}\n", "activities.csv")
    assert problems == []
    [row] = rows
    assert row.strava_id == 4163856655
    assert row.start_date == dt.datetime(2020, 10, 7, 14, 43, 11, tzinfo=dt.UTC)
    assert row.sport_type == "Ride"
    assert row.distance_m == pytest.approx(18962.8, abs=0.01)  # not the 18.96 km column
    assert row.moving_time_s == 4567.0  # not the 5601 s elapsed
    assert row.elevation_gain_m == pytest.approx(109.99, abs=0.01)
    assert (row.gear_name, row.filename) == ("Pathfinder", "activities/4163856655.gpx")


@pytest.mark.parametrize(
    ("shown", "sport_type"),
    [
        ("Trail Run", "TrailRun"),
        ("Virtual Run", "VirtualRun"),
        ("Weight Training", "WeightTraining"),
        ("E-Bike Ride", "EBikeRide"),
        ("Walk", "Walk"),
    ],
)
def test_activity_types_become_sport_types(shown: str, sport_type: str) -> None:
    text = f"{EXPORT_HEADER}\n{REAL_ROW.replace(',Ride,', f',{shown},', 1)}\n"
    assert read_export_csv(text, "activities.csv")[0][0].sport_type == sport_type


def test_a_header_without_the_si_columns_is_refused_by_name() -> None:
    header = "Activity ID,Activity Date,Activity Name,Activity Type,Elapsed Time,Distance,Filename"
    with pytest.raises(FileRejected) as caught:
        read_export_csv(header + "\n", "export.zip:activities.csv")
    assert str(caught.value) == (
        "export.zip:activities.csv: missing column(s) the second 'Elapsed Time', the second "
        "'Distance': not Strava's activities.csv layout (the export's files are read on their "
        "own instead)"
    )

"""The same run from two sources counts once, the better-data copy kept."""

from __future__ import annotations

import dataclasses
import datetime as dt

from strideguard.integrations.files import (
    Detail,
    FileActivity,
    data_rank,
    deduplicate,
    same_activity,
)

START = dt.datetime(2026, 5, 4, 5, 30, tzinfo=dt.UTC)


def _run(
    name: str, seconds: int = 0, metres: int = 10_000, detail: Detail = Detail.TRACK
) -> FileActivity:
    return FileActivity(
        source=name.rsplit(".", 1)[-1],
        name=name,
        sport_type="Run",
        start_date=START + dt.timedelta(seconds=seconds),
        start_date_local=dt.datetime(2026, 5, 4, 7, 30),
        timezone="Europe/Oslo",
        distance_m=metres,
        moving_time_s=3000,
        elevation_gain_dm=0,
        trainer=False,
        manual=False,
        device=None,
        gear_name=None,
        detail=detail,
    )


def test_match_window_is_60_s_and_2_percent() -> None:
    base = _run("a.gpx")
    assert same_activity(base, _run("b.fit", 60, 10_200))
    assert not same_activity(base, _run("b.fit", 61))
    assert not same_activity(base, _run("b.fit", 0, 10_205))


def test_the_better_data_is_kept_and_the_match_reported() -> None:
    csv_row = _run("activities.csv line 2", 20, 9_950, Detail.SUMMARY)
    gpx = _run("a.gpx", 0, 10_010)
    fit = _run("a.fit", 5, 10_000, Detail.DEVICE)
    other_day = _run("b.gpx", 86_400)
    result = deduplicate([csv_row, gpx, other_day, fit], data_rank)
    assert [a.name for a in result.kept] == ["a.fit", "b.gpx"]
    assert {(d.dropped.name, d.kept.name) for d in result.duplicates} == {
        ("activities.csv line 2", "a.fit"),
        ("a.gpx", "a.fit"),
    }


def test_a_tie_keeps_the_first_seen_so_reimports_never_flip() -> None:
    stored = _run("stored.gpx")
    again = dataclasses.replace(stored, name="again.gpx")
    assert deduplicate([stored, again], data_rank).kept == [stored]
    assert deduplicate([stored, stored], data_rank).kept == [stored]

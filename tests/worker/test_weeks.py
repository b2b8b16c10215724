"""Which weeks are due at instant T in zone Z with grace G, across DST and around the globe."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from strideguard.times import week_start_of, zone_or_utc
from strideguard.worker.weeks import due_at, due_weeks, latest_due_week

SIX_HOURS = dt.timedelta(hours=6)
UTC = dt.UTC


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> dt.datetime:
    return dt.datetime(year, month, day, hour, minute, tzinfo=UTC)


@pytest.mark.parametrize(
    ("zone", "week_start", "expected_utc"),
    [
        # Monday 06:00 local, with the offset that applies on that Monday.
        ("UTC", dt.date(2025, 10, 13), utc(2025, 10, 20, 6)),
        # Berlin springs forward on Sunday 2025-03-30: Monday 06:00 is already CEST (+2).
        ("Europe/Berlin", dt.date(2025, 3, 24), utc(2025, 3, 31, 4)),
        # ... and falls back on Sunday 2025-10-26: Monday 06:00 is CET (+1).
        ("Europe/Berlin", dt.date(2025, 10, 20), utc(2025, 10, 27, 5)),
        # New York springs forward on Sunday 2025-03-09: Monday 06:00 EDT (-4).
        ("America/New_York", dt.date(2025, 3, 3), utc(2025, 3, 10, 10)),
        ("America/New_York", dt.date(2025, 11, 3), utc(2025, 11, 10, 11)),
        # Sydney leaves DST on Sunday 2025-04-06: Monday 06:00 AEST (+10) is Sunday 20:00 UTC.
        ("Australia/Sydney", dt.date(2025, 3, 31), utc(2025, 4, 6, 20)),
        # Half-hour and far-east / far-west zones.
        ("Asia/Kolkata", dt.date(2025, 6, 2), utc(2025, 6, 9, 0, 30)),
        ("Pacific/Kiritimati", dt.date(2025, 6, 2), utc(2025, 6, 8, 16)),
        ("Pacific/Pago_Pago", dt.date(2025, 6, 2), utc(2025, 6, 9, 17)),
    ],
)
def test_week_is_due_at_monday_six_local(
    zone: str, week_start: dt.date, expected_utc: dt.datetime
) -> None:
    tz = ZoneInfo(zone)
    assert due_at(week_start, tz, SIX_HOURS) == expected_utc
    second = dt.timedelta(seconds=1)
    assert latest_due_week(expected_utc, tz, SIX_HOURS) == week_start
    assert latest_due_week(expected_utc - second, tz, SIX_HOURS) == week_start - dt.timedelta(7)


def test_due_time_inside_a_dst_gap_moves_forward_by_the_gap() -> None:
    # A grace reaching Sunday 02:30 of the following week in Berlin on 2025-03-30, a wall time
    # that never happens: it counts as 03:30 CEST (01:30 UTC).
    berlin = ZoneInfo("Europe/Berlin")
    grace = dt.timedelta(days=6, hours=2, minutes=30)
    assert due_at(dt.date(2025, 3, 17), berlin, grace) == utc(2025, 3, 30, 1, 30)


def test_due_time_that_happens_twice_is_the_first() -> None:
    # Berlin falls back on 2025-10-26 at 03:00 CEST -> 02:00 CET; 02:30 happens twice.
    berlin = ZoneInfo("Europe/Berlin")
    grace = dt.timedelta(days=6, hours=2, minutes=30)
    assert due_at(dt.date(2025, 10, 13), berlin, grace) == utc(2025, 10, 26, 0, 30)


def test_same_instant_gives_different_weeks_east_and_west() -> None:
    # Monday 2025-06-09 03:00 UTC: already Monday 15:00 in Auckland (due), still Sunday 20:00
    # in Los Angeles (the week ending that Sunday is not due yet).
    now = utc(2025, 6, 9, 3)
    assert latest_due_week(now, ZoneInfo("Pacific/Auckland"), SIX_HOURS) == dt.date(2025, 6, 2)
    assert latest_due_week(now, ZoneInfo("America/Los_Angeles"), SIX_HOURS) == dt.date(2025, 5, 26)


def test_catch_up_after_downtime_lists_every_closed_week_once_oldest_first() -> None:
    zone = ZoneInfo("Europe/Oslo")
    connected = utc(2025, 9, 1, 12)  # a Monday afternoon
    # Back after three weeks away: the weeks of 1, 8 and 15 September all closed meanwhile.
    now = utc(2025, 9, 23, 9)
    assert due_weeks(now, zone, SIX_HOURS, since=connected, lookback_weeks=6) == [
        dt.date(2025, 9, 1),
        dt.date(2025, 9, 8),
        dt.date(2025, 9, 15),
    ]


def test_catch_up_stops_at_the_lookback() -> None:
    zone = ZoneInfo("UTC")
    connected = utc(2025, 1, 1)
    now = utc(2025, 6, 2, 7)
    weeks = due_weeks(now, zone, SIX_HOURS, since=connected, lookback_weeks=3)
    assert weeks == [dt.date(2025, 5, 12), dt.date(2025, 5, 19), dt.date(2025, 5, 26)]


def test_weeks_already_due_when_the_athlete_connected_are_history() -> None:
    zone = ZoneInfo("UTC")
    connected = utc(2025, 6, 3, 12)  # Tuesday: last week was due on Monday morning
    assert due_weeks(utc(2025, 6, 8, 23), zone, SIX_HOURS, since=connected, lookback_weeks=6) == []
    assert due_weeks(utc(2025, 6, 9, 6), zone, SIX_HOURS, since=connected, lookback_weeks=6) == [
        dt.date(2025, 6, 2)
    ]


def test_unknown_zone_falls_back_to_utc() -> None:
    assert zone_or_utc("Mars/Olympus_Mons") == ZoneInfo("UTC")
    assert zone_or_utc(None) == ZoneInfo("UTC")
    assert zone_or_utc("America/Sao_Paulo") == ZoneInfo("America/Sao_Paulo")


ZONES = st.sampled_from(
    [
        "UTC",
        "Europe/Berlin",
        "America/New_York",
        "America/Santiago",
        "Australia/Lord_Howe",
        "Asia/Kathmandu",
        "Pacific/Kiritimati",
        "Pacific/Pago_Pago",
        "America/St_Johns",
    ]
)


@given(
    zone=ZONES,
    now=st.datetimes(min_value=dt.datetime(2015, 1, 1), max_value=dt.datetime(2035, 1, 1)),
    grace_minutes=st.integers(min_value=0, max_value=72 * 60),
)
def test_latest_due_week_is_a_monday_due_before_now_and_the_next_is_not(
    zone: str, now: dt.datetime, grace_minutes: int
) -> None:
    tz = ZoneInfo(zone)
    instant = now.replace(tzinfo=UTC)
    grace = dt.timedelta(minutes=grace_minutes)
    week = latest_due_week(instant, tz, grace)
    assert week.weekday() == 0
    assert week == week_start_of(week)
    assert due_at(week, tz, grace) <= instant
    assert due_at(week + dt.timedelta(days=7), tz, grace) > instant

"""The welcome and the weekly note, text and HTML, against golden files beside the digest's.

Regenerate after a deliberate change with
`UPDATE_GOLDEN=1 .venv/bin/python -m pytest tests/notifier/test_notice_golden.py` and review
the diff before committing.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from strideguard.integrations.email.notices import (
    Check,
    NoteContext,
    WelcomeContext,
    render_weekly_note,
    render_welcome,
)
from strideguard.integrations.email.render import AthleteView
from tests.notifier.test_golden import _check
from tests.notifier.worked import EIGHT_WEEKS_M, LIMITS, WEEK, links

CHECKS = [
    Check("weekly_distance_spike", "Weekly distance spike"),
    Check("single_run_spike", "Single-run spike"),
    Check("no_rest_day", "No rest day"),
    Check("long_run_share", "Long run is a big share of the week"),
]


def welcome(*, fired: int | None = 0, weekly_note: bool = False) -> WelcomeContext:
    return WelcomeContext(
        athlete=AthleteView(id=7, first_name="Ana", units="km"),
        timezone="Europe/Oslo",
        last_week=WEEK,
        weeks=6,
        weekly_distance_m=EIGHT_WEEKS_M,
        runs=24,
        total_m=234_000,
        limits=LIMITS,
        checks=CHECKS,
        next_check=dt.datetime(2025, 10, 27, 6, 0, tzinfo=ZoneInfo("Europe/Oslo")),
        last_week_fired=fired,
        weekly_note=weekly_note,
        links=links([]),
    )


def note(units: str = "km") -> NoteContext:
    return NoteContext(
        athlete=AthleteView(id=7, first_name="Ana", units=units),
        week_start=WEEK,
        distance_m=41_300,
        runs=4,
        longest_m=16_100,
        limits=LIMITS,
        links=links([]),
    )


def test_welcome_matches_golden() -> None:
    rendered = render_welcome(welcome())
    _check("welcome.subject.txt", rendered.subject + "\n")
    _check("welcome.body.txt", rendered.text)
    _check("welcome.body.html", rendered.html)


def test_welcome_after_a_risky_last_week_points_at_its_digest() -> None:
    text = " ".join(render_welcome(welcome(fired=2)).text.split())
    assert "Last week (from 13 Oct) tripped 2 checks." in text
    assert "its digest, with what to do about it, comes in a separate email" in text
    assert "Nothing in last week" not in text


def test_welcome_says_nothing_about_a_last_week_not_judged() -> None:
    text = " ".join(render_welcome(welcome(fired=None, weekly_note=True)).text.split())
    assert "last week (from" not in text.lower()
    assert "Turn on the weekly note" not in text  # already on
    assert "and with a short note after the others" in text


@pytest.mark.parametrize("units", ["km", "mi"])
def test_weekly_note_matches_golden(units: str) -> None:
    rendered = render_weekly_note(note(units))
    _check(f"note.{units}.subject.txt", rendered.subject + "\n")
    _check(f"note.{units}.body.txt", rendered.text)
    _check(f"note.{units}.body.html", rendered.html)

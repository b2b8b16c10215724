"""What a pause means, in words: the training weeks that get no alerts."""

from __future__ import annotations

import datetime as dt

import pytest

from strideguard.integrations.email.channel import mail_blocked_reason
from strideguard.integrations.email.preferences import describe_pause, pause_until, paused_weeks
from strideguard.models import Athlete

WEDNESDAY_2_DECEMBER = dt.date(2026, 12, 2)


@pytest.mark.parametrize(
    ("weeks", "words"),
    [
        (1, "the weeks of 30 November and 7 December"),
        (2, "the weeks of 30 November, 7 and 14 December"),
        (4, "the weeks of 30 November, 7, 14, 21 and 28 December"),
        (8, "the weeks of 30 November, 7, 14, 21 and 28 December, 4, 11, 18 and 25 January 2027"),
    ],
)
def test_a_pause_names_the_weeks_it_silences(weeks: int, words: str) -> None:
    until = pause_until(WEDNESDAY_2_DECEMBER, weeks)
    assert describe_pause(WEDNESDAY_2_DECEMBER, until) == words


def test_the_named_weeks_are_exactly_the_weeks_the_worker_holds_back() -> None:
    """The words and the worker's rule (`mail_blocked_reason`) must agree week by week."""
    until = pause_until(WEDNESDAY_2_DECEMBER, 2)
    athlete = Athlete(email="a@example.org", email_status="ok", paused_until=until)
    named = paused_weeks(WEDNESDAY_2_DECEMBER, until)
    monday = dt.date(2026, 11, 30)
    for offset in range(6):
        week = monday + dt.timedelta(weeks=offset)
        held = mail_blocked_reason(athlete, week) is not None
        assert held == (week in named), week


def test_a_pause_of_this_week_only() -> None:
    assert describe_pause(dt.date(2026, 12, 7), dt.date(2026, 12, 13)) == "the week of 7 December"

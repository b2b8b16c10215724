"""Render the two messages that are not digests: the welcome and the weekly note.

Pure, like render.py: the caller hands over everything shown. Both go through the same layout
as the digest, so the red-flag list, the back-pain check-in, "not medical advice" and the
unsubscribe links are in them too; both show the next-run ceiling and next week's range in
the digest's own words (partials/ceiling_words.txt).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from strideguard.integrations.email import formatting
from strideguard.integrations.email.chart import weekly_chart
from strideguard.integrations.email.digest_links import DigestLinks
from strideguard.integrations.email.render import AthleteView, RenderedEmail, render_message
from strideguard.limits import tightest_limits


@dataclass(frozen=True)
class Check:
    """A rule the runner will hear about: its id picks the plain words, its title is the
    fallback for rules an admin added."""

    rule: str
    title: str


@dataclass(frozen=True)
class WelcomeContext:
    """The welcome after the first backfill.

    `last_week` is the last closed week, the chart's highlighted bar and the week the limits
    follow; `last_week_fired` is how many checks it tripped, or None when it was not judged
    (then the welcome says nothing about it). `next_check` is when the current week is
    judged, an aware datetime.
    """

    athlete: AthleteView
    timezone: str
    last_week: dt.date
    # How many weeks the first read from Strava covered (LOOKBACK_WEEKS).
    weeks: int
    weekly_distance_m: Mapping[dt.date, int]
    # The runs of those weeks, up to the end of `last_week`, and their distance.
    runs: int
    total_m: int
    limits: Sequence[Mapping[str, Any]]
    checks: Sequence[Check]
    next_check: dt.datetime
    last_week_fired: int | None
    weekly_note: bool
    links: DigestLinks


@dataclass(frozen=True)
class NoteContext:
    """The weekly note: a week where nothing fired, in figures, against the ceilings."""

    athlete: AthleteView
    week_start: dt.date
    distance_m: int
    runs: int
    longest_m: int
    limits: Sequence[Mapping[str, Any]]
    links: DigestLinks


def render_welcome(welcome: WelcomeContext) -> RenderedEmail:
    units = formatting.check_units(welcome.athlete.units)
    chart = dataclasses.replace(
        weekly_chart(welcome.last_week, welcome.weekly_distance_m, units),
        current_label="last week",
    )
    local = welcome.next_check
    page = {
        **_frame(welcome.athlete, welcome.links, units),
        "footer_reason": (
            "You get this email once, because you connected your Strava account to "
            "strideguard. From now on we write after a week that tripped one of our checks"
            + (", and with a short note after the others." if welcome.weekly_note else ".")
        ),
        "last_week": welcome.last_week,
        "weeks": welcome.weeks,
        "runs": welcome.runs,
        "total_m": welcome.total_m,
        "chart": chart,
        "ceiling": tightest_limits(welcome.limits),
        "checks": welcome.checks,
        "next_check": (
            f"{formatting.weekday_day_month(local.date())} at {local:%H:%M} ({welcome.timezone})"
        ),
        "current_week": local.date() - dt.timedelta(days=7),
        "last_week_fired": welcome.last_week_fired,
        "weekly_note": welcome.weekly_note,
    }
    return render_message("welcome", page)


def render_weekly_note(note: NoteContext) -> RenderedEmail:
    units = formatting.check_units(note.athlete.units)
    page = {
        **_frame(note.athlete, note.links, units),
        "footer_reason": (
            "You get this note because you turned on the weekly note in your preferences. "
            "Weeks that trip one of our checks get a full digest instead."
        ),
        "week_start": note.week_start,
        "distance_m": note.distance_m,
        "runs": note.runs,
        "longest_m": note.longest_m,
        "ceiling": tightest_limits(note.limits),
    }
    return render_message("note", page)


def _frame(athlete: AthleteView, links: DigestLinks, units: str) -> dict[str, Any]:
    """What the shared layout and footer read: no rule sections, red flags at the end."""
    return {
        "athlete": athlete,
        "units": units,
        "links": links,
        "sections": [],
        "red_flags_first": False,
    }

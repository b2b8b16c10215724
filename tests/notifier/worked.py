"""Worked findings for every built-in rule, in the engine's Finding shape.

The figures follow RULES.md's examples (52.0 km against a 38.0 km average, and so on) so a
reader can check each rendered sentence by hand.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from strideguard.integrations.email.digest_links import DigestLinks
from strideguard.integrations.email.render import AthleteView, DigestContext, DigestFinding
from strideguard.rules.findings import Figure, Finding

WEEK = dt.date(2025, 10, 13)
BASE = "https://sg.example.org"


def finding(
    rule: str,
    title: str,
    figures: dict[str, Figure],
    *,
    severity: str = "warning",
    week: dt.date = WEEK,
    threshold: float | None = None,
    band: str | None = None,
    date: dt.date | None = None,
    focus: tuple[str, ...] = ("trunk", "hips"),
    advice_why: str | None = None,
    advice_do: str | None = None,
) -> Finding:
    return Finding(
        rule=rule,
        title=title,
        severity=severity,
        week_start=week,
        status="fired",
        value=None,
        threshold=threshold,
        band=band,
        activity_id=991 if date else None,
        date=date,
        figures=figures,
        advice_why=advice_why,
        advice_do=advice_do,
        exercise_focus=focus,
    )


def late(fired: Finding, week: dt.date = WEEK - dt.timedelta(weeks=1)) -> DigestFinding:
    """`fired` as an update: it fired for an earlier week, after that week's digest."""
    return DigestFinding(replace(fired, week_start=week), late=True)


BUILT_IN: dict[str, Finding] = {
    "weekly_distance_spike": finding(
        "weekly_distance_spike",
        "Weekly distance spike",
        {"week_m": 52000, "baseline_m": 38000, "pct": 36.8, "prior_weeks": 4, "baseline_weeks": 4},
        threshold=30,
        focus=("load", "trunk", "hips"),
    ),
    "single_run_spike": finding(
        "single_run_spike",
        "Single-run spike",
        {"run_m": 21100, "longest_prior_m": 16000, "pct": 31.9, "window_days": 30},
        severity="high",
        threshold=10,
        band="moderate",
        date=dt.date(2025, 10, 18),
        focus=("load", "legs"),
    ),
    "hill_heavy_week": finding(
        "hill_heavy_week",
        "Hill-heavy week",
        {"outdoor_m": 24000, "gain_m": 480, "gain_per_km": 20.0},
        threshold=15,
        focus=("legs", "trunk"),
    ),
    "hard_surface_streak": finding(
        "hard_surface_streak",
        "Hard-surface streak",
        {"streak_days": 6, "streak_start": "2025-10-13", "streak_end": "2025-10-18"},
        severity="info",
        focus=("feet", "legs"),
    ),
    "missed_strength_days": finding(
        "missed_strength_days",
        "Missed strength days",
        {
            "strength_days": 0,
            "target_days": 2,
            "strength_types": "WeightTraining, Crossfit",
            "strength_min_minutes": 10,
        },
        severity="info",
        focus=("trunk", "hips", "legs"),
    ),
    "no_rest_day": finding(
        "no_rest_day",
        "No rest day",
        {"rest_days": 0, "target_days": 1},
        severity="info",
        focus=("mobility",),
    ),
    "monotony": finding(
        "monotony",
        "Training monotony",
        {"monotony": 2.43, "strain": 5110.0},
        threshold=2.0,
        severity="info",
        focus=("load",),
    ),
    "acwr": finding(
        "acwr",
        "Acute:chronic workload ratio",
        {"acwr": 1.62, "acute_m": 52000, "chronic_m": 32100},
        threshold=1.5,
        severity="info",
        focus=("load",),
    ),
    "shoe_mileage": finding(
        "shoe_mileage",
        "Shoe mileage",
        {"gear_id": "g123", "gear_name": "Pegasus 40", "gear_m": 842000, "limit_m": 800000},
        severity="info",
        focus=("feet",),
    ),
    "back_pain_reported": finding(
        "back_pain_reported",
        "Back pain you reported",
        {"pain": 5, "weeks_rising": 2, "week_m": 52000, "last_week_m": 38000},
        focus=("mobility",),
    ),
    "back_pain_severe": finding(
        "back_pain_severe",
        "Strong back pain you reported",
        {"pain": 8},
        severity="high",
        focus=(),
    ),
}

EIGHT_WEEKS_M = {
    WEEK - dt.timedelta(weeks=back): metres
    for back, metres in enumerate([52000, 38000, 41000, 36000, 37000, 30000, 12500, 28000])
}


# The limits after WEEK: the 30-day longest (21.1 km) + 10%, and the four weeks up to WEEK
# (52, 38, 41, 36 km: a 41.75 km mean) up to + 30%.
LIMITS: list[dict[str, Any]] = [
    {
        "rule": "single_run_spike",
        "kind": "next_run",
        "week_start": WEEK.isoformat(),
        "low_m": None,
        "high_m": 23210,
    },
    {
        "rule": "weekly_distance_spike",
        "kind": "next_week",
        "week_start": WEEK.isoformat(),
        "low_m": 41750,
        "high_m": 54275,
    },
]


def links(rules: list[str]) -> DigestLinks:
    return DigestLinks(
        unsubscribe=f"{BASE}/email/unsubscribe?token=unsub-token",
        preferences=f"{BASE}/email/preferences?token=prefs-token",
        pause=f"{BASE}/email/pause?token=pause-token&weeks=2",
        checkin={
            score: f"{BASE}/email/back-pain?token=checkin-token&score={score}"
            for score in range(11)
        },
        mute={rule: f"{BASE}/email/mute?token=mute-{rule}" for rule in rules},
        unsubscribe_mailto="mailto:unsubscribe@sg.example.org?subject=unsubscribe",
    )


def digest(
    findings: Sequence[Finding | DigestFinding],
    units: str = "km",
    *,
    athlete_id: int = 7,
    week: dt.date = WEEK,
    weekly_m: dict[dt.date, int] | None = None,
    limits: list[dict[str, Any]] | None = None,
) -> DigestContext:
    """A digest of `findings`; a bare Finding is one of the digest's own week."""
    told = [f if isinstance(f, DigestFinding) else DigestFinding(f) for f in findings]
    return DigestContext(
        athlete=AthleteView(id=athlete_id, first_name="Ana", units=units),
        week_start=week,
        findings=told,
        weekly_distance_m=EIGHT_WEEKS_M if weekly_m is None else weekly_m,
        links=links([f.finding.rule for f in told]),
        limits=LIMITS if limits is None else limits,
    )

"""The real rules engine's findings render: figure names in templates match rules.yaml.

A training history built to trip every built-in rule (monotony and acwr switched on) goes
through `rules.evaluate_week`, and each fired finding goes through `render_digest`.
A figure renamed in rules.yaml without its advice template fails here, not in a live email.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from strideguard.integrations.email.render import (
    BUILT_IN_RULES,
    advice_template_name,
    render_digest,
)
from strideguard.rules import ActivityRecord, GearRecord, evaluate_week, load_config
from strideguard.rules.config import SHIPPED_RULES
from tests.notifier.worked import digest

WEEK = dt.date(2025, 10, 13)  # a Monday
EASY_KM = 8


def _run(strava_id: int, day: dt.date, km: float) -> ActivityRecord:
    metres = int(km * 1000)
    local = dt.datetime.combine(day, dt.time(7, 0))
    return ActivityRecord(
        activity_id=strava_id,
        athlete_id=1,
        sport_type="Run",
        start_date=local.replace(tzinfo=dt.UTC),
        start_date_local=local,
        timezone="UTC",
        distance_m=metres,
        moving_time_s=int(km * 330),
        elevation_gain_dm=metres // 1000 * 200,  # 20 m of climbing per km
        trainer=False,
        manual=False,
        gear_id="g1",
    )


def _history() -> list[ActivityRecord]:
    runs: list[ActivityRecord] = []
    for back in range(5, 0, -1):  # five ordinary weeks: 4 x 8 km, rest days, no strength
        monday = WEEK - dt.timedelta(weeks=back)
        runs += [_run(len(runs) + 1, monday + dt.timedelta(days=d), EASY_KM) for d in (0, 2, 4, 6)]
    # The risky week: a run every day, all on roads, a 16 km long run on Sunday.
    for day, km in enumerate([6, 6, 6, 6, 6, 6, 16]):
        runs.append(_run(len(runs) + 1, WEEK + dt.timedelta(days=day), km))
    return runs


def _everything_on(tmp_path: Path) -> Path:
    path = tmp_path / "rules.yaml"
    path.write_text(SHIPPED_RULES.read_text().replace("enabled: false", "enabled: true"))
    return path


def test_every_built_in_rule_fires_and_renders(tmp_path: Path) -> None:
    config = load_config(_everything_on(tmp_path))
    findings = evaluate_week(
        _history(),
        WEEK,
        config,
        gear={"g1": GearRecord(distance_m=842_000, name="Pegasus 40")},
        # The runner's check-ins: strong pain in the risky week (both back-pain rules fire).
        back_pain={WEEK - dt.timedelta(weeks=1): 2, WEEK: 8},
    )
    fired = [f for f in findings if f.fired]
    assert {f.rule for f in fired} >= set(BUILT_IN_RULES)
    for units in ("km", "mi"):
        for finding in fired:
            assert advice_template_name(finding.rule, "txt") != "advice/_generic.txt" or (
                finding.rule not in BUILT_IN_RULES
            )
            email = render_digest(digest([finding], units))
            assert email.subject.startswith("Your week of 13 Oct: ")
        together = render_digest(digest(fired, units))
        assert together.subject.startswith("Your week of 13 Oct: strong back pain, 8 out of 10")

"""`strideguard athlete list|show|override|preview`, as a coach uses them for one runner."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import json
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner, Result

from strideguard.cli.main import app
from strideguard.models import Activity, Alert, Athlete, DeliveryRecord, Evaluation
from strideguard.settings import Settings

runner = CliRunner()
TODAY = dt.datetime.now(dt.UTC).date()
LAST_MONDAY = TODAY - dt.timedelta(days=TODAY.weekday(), weeks=1)  # the last closed week


def athlete(*args: str) -> Result:
    return runner.invoke(app, ["athlete", *args])


@pytest.fixture
def coached(app_settings: Settings, sessions: sessionmaker[Session]) -> sessionmaker[Session]:
    """A runner at 30 km a week for five weeks, then 45 km last week (+50 %)."""
    weekly_km = [30, 30, 30, 30, 30, 45]
    first = LAST_MONDAY - dt.timedelta(weeks=len(weekly_km) - 1)
    with sessions.begin() as session:
        session.add(
            Athlete(
                id=7,
                strava_athlete_id=707,
                firstname="Ada",
                email="ada@example.org",
                timezone="UTC",
            )
        )
        session.add(Athlete(id=8, strava_athlete_id=808, firstname="Bo"))
        session.flush()
        for week, km in enumerate(weekly_km):
            for day in range(3):
                local = dt.datetime.combine(
                    first + dt.timedelta(weeks=week, days=2 * day), dt.time(7)
                )
                session.add(
                    Activity(
                        strava_id=week * 10 + day + 1,
                        athlete_id=7,
                        sport_type="Run",
                        start_date=local.replace(tzinfo=dt.UTC),
                        start_date_local=local,
                        timezone="UTC",
                        distance_m=km * 1000 // 3,
                        moving_time_s=1800,
                    )
                )
        session.add(
            Evaluation(
                athlete_id=7,
                week_start=LAST_MONDAY,
                status="done",
                due_at=dt.datetime.now(dt.UTC),
            )
        )
        session.add(
            Alert(
                athlete_id=7,
                week_start=LAST_MONDAY,
                rule_id="weekly_distance_spike",
                finding={"rule": "weekly_distance_spike", "status": "fired", "value": 50.0},
            )
        )
        session.add(
            DeliveryRecord(
                athlete_id=7,
                week_start=LAST_MONDAY,
                message_id="<digest-7@x>",
                status="failed",
                attempts=3,
                last_error="550 mailbox unavailable",
            )
        )
    return sessions


def test_list_and_show_as_table_and_json(coached: sessionmaker[Session]) -> None:
    listed = athlete("list", "--format", "json")
    assert listed.exit_code == 0, listed.output
    rows = json.loads(listed.stdout)
    assert [(r["id"], r["firstname"]) for r in rows] == [(7, "Ada"), (8, "Bo")]
    assert "Ada" in athlete("list").stdout

    shown = athlete("show", "7", "--format", "json")
    assert shown.exit_code == 0, shown.output
    detail = json.loads(shown.stdout)
    assert detail["channels"]["email"] == "ada@example.org"
    assert detail["settings"]["timezone"] == "UTC"
    assert detail["sources"]["stored_activities"] == 18
    last = detail["weeks"][0]
    assert (last["week_start"], last["running_m"], last["runs"]) == (
        LAST_MONDAY.isoformat(),
        45_000,
        3,
    )
    assert last["evaluation"] == "done"
    assert [f["rule"] for f in last["findings"]] == ["weekly_distance_spike"]
    assert detail["deliveries"][0]["status"] == "failed"
    assert detail["deliveries"][0]["last_error"] == "550 mailbox unavailable"
    next_at = dt.datetime.fromisoformat(detail["next_evaluation_at"])
    assert next_at > dt.datetime.now(dt.UTC)
    assert next_at.date() == LAST_MONDAY + dt.timedelta(weeks=2)  # next Monday, after grace

    table = athlete("show", "7").stdout
    assert "weekly_distance_spike" in table
    assert "550 mailbox unavailable" in table

    missing = athlete("show", "99")
    assert missing.exit_code == 1
    assert "no athlete 99" in missing.stderr


def test_override_is_validated_and_a_bad_value_changes_nothing(
    coached: sessionmaker[Session],
) -> None:
    def stored() -> dict[str, object]:
        with coached() as session:
            row = session.get(Athlete, 7)
            assert row is not None
            return dict(row.rule_overrides or {})

    for bad, message in [
        (
            "weekly_distance_spike.treshold=40",
            "unknown parameter 'treshold'; did you mean 'threshold'?",
        ),
        ("weekly_distanse_spike.threshold=40", "did you mean 'weekly_distance_spike'?"),
        ("weekly_distance_spike.threshold=forty", "must be a number, not str 'forty'"),
        ("weekly_distance_spike.threshold", "write RULE.PARAM=VALUE"),
    ]:
        result = athlete("override", "7", "weekly_distance_spike.baseline_weeks=6", bad)
        assert result.exit_code == 1, (bad, result.output)
        assert message in result.stderr
        assert "nothing was changed" in result.stderr
        assert stored() == {}  # not even the valid half

    ok = athlete("override", "7", "weekly_distance_spike.threshold=60", "monotony.enabled=true")
    assert ok.exit_code == 0, ok.output
    assert stored() == {"weekly_distance_spike": {"threshold": 60}, "monotony": {"enabled": True}}
    listed = athlete("override", "7", "--list").stdout
    assert "threshold" in listed
    assert "60" in listed

    cleared = athlete("override", "7", "--clear", "monotony.enabled")
    assert cleared.exit_code == 0, cleared.output
    assert stored() == {"weekly_distance_spike": {"threshold": 60}}
    again = athlete("override", "7", "--clear", "monotony.enabled")
    assert again.exit_code == 1
    assert "no override to clear" in again.stderr


def test_preview_writes_the_digest_the_rules_in_force_would_send(
    coached: sessionmaker[Session], tmp_path: Path
) -> None:
    out = tmp_path / "preview"
    result = athlete("preview", "7", "--week", LAST_MONDAY.isoformat(), "--out", str(out))
    assert result.exit_code == 0, result.output
    assert "nothing was sent" in result.stdout
    eml = out / f"preview-7-{LAST_MONDAY.isoformat()}.eml"
    message = email.message_from_bytes(eml.read_bytes(), policy=email.policy.default)
    assert message["To"] == "ada@example.org"
    text = message.get_body(preferencelist=("plain",))
    assert text is not None
    assert "50%" in str(text.get_content())  # 45 km on a 30 km baseline
    assert (out / f"preview-7-{LAST_MONDAY.isoformat()}.html").read_text().startswith("<")

    assert "weekly_distance_spike" in result.stdout

    # The coach raises this runner's threshold: the same week's digest loses the spike.
    assert athlete("override", "7", "weekly_distance_spike.threshold=60").exit_code == 0
    week = ("preview", "7", "--week", LAST_MONDAY.isoformat(), "--out", str(out))
    calmer = athlete(*week)
    assert calmer.exit_code == 0, calmer.output
    assert "(missed_strength_days)" in calmer.stdout
    assert athlete("override", "7", "missed_strength_days.enabled=false").exit_code == 0
    quiet = athlete(*week)
    assert "no rule fired, so no digest would be sent" in quiet.stdout

    not_monday = athlete("preview", "7", "--week", (LAST_MONDAY + dt.timedelta(days=1)).isoformat())
    assert not_monday.exit_code == 1
    assert "is not a Monday" in not_monday.stderr


def test_show_flags_overrides_stored_before_they_were_checked(
    coached: sessionmaker[Session],
) -> None:
    """Raw SQL used to be the only way: a typo there fails every week until it is fixed."""
    with coached.begin() as session:
        row = session.get(Athlete, 7)
        assert row is not None
        row.rule_overrides = {"weekly_distance_spike": {"treshold": 40}}
    detail = json.loads(athlete("show", "7", "--format", "json").stdout)
    assert detail["invalid_overrides"] == [
        "weekly_distance_spike: unknown parameter 'treshold'; did you mean 'threshold'?"
    ]
    assert "invalid override" in athlete("show", "7").stdout
    fixed = athlete("override", "7", "--clear", "weekly_distance_spike.treshold")
    assert fixed.exit_code == 0, fixed.output
    assert json.loads(athlete("show", "7", "--format", "json").stdout)["invalid_overrides"] == []

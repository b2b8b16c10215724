"""`strideguard athlete add`: a runner without Strava, checked before anything is saved."""

from __future__ import annotations

import json

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from strideguard.cli.main import app
from strideguard.models import Athlete
from strideguard.settings import Settings

runner = CliRunner()


def test_adds_a_runner_without_strava(
    app_settings: Settings, sessions: sessionmaker[Session]
) -> None:
    result = runner.invoke(
        app,
        [
            *("athlete", "add", "--email", "Kim@Example.ORG", "--name", "Kim"),
            *("--timezone", "Europe/Oslo", "--units", "mi", "--format", "json"),
        ],
    )
    assert result.exit_code == 0, result.output
    created = json.loads(result.stdout)
    with sessions() as session:
        athlete = session.scalars(select(Athlete)).one()
    assert athlete.id == created["id"]
    assert athlete.strava_athlete_id is None
    assert (athlete.email, athlete.firstname, athlete.timezone, athlete.units) == (
        "Kim@example.org",
        "Kim",
        "Europe/Oslo",
        "mi",
    )
    shown = runner.invoke(app, ["athlete", "show", str(athlete.id)])
    assert shown.exit_code == 0, shown.output
    assert "no Strava" in shown.stdout


def test_bad_values_are_refused_by_option_and_nothing_is_saved(
    app_settings: Settings, sessions: sessionmaker[Session]
) -> None:
    cases = {
        ("--email", "not-an-address"): "--email:",
        ("--timezone", "Mars/Olympus"): "--timezone: 'Mars/Olympus' is not an IANA zone",
        ("--units", "furlongs"): "--units: 'furlongs' is not one of km, mi",
    }
    for (option, value), expected in cases.items():
        args = {"--email": "kim@example.org", "--name": "Kim", option: value}
        result = runner.invoke(app, ["athlete", "add", *[p for kv in args.items() for p in kv]])
        assert result.exit_code == 1, result.output
        assert expected in result.output
    runner.invoke(app, ["athlete", "add", "--email", "kim@example.org", "--name", "Kim"])
    again = runner.invoke(app, ["athlete", "add", "--email", "kim@example.org", "--name", "K"])
    assert again.exit_code == 1
    assert "already uses kim@example.org" in again.output
    with sessions() as session:
        assert len(session.scalars(select(Athlete)).all()) == 1

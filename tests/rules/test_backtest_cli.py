"""`strideguard rules backtest`: the stored history, a generated population and a bulk
export, judged week by week as the live service judges them."""

from __future__ import annotations

import datetime as dt
import json
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from strideguard.cli.main import app
from strideguard.db import make_engine, make_sessionmaker
from strideguard.models import Activity, Athlete
from strideguard.rules.config import SHIPPED_RULES

runner = CliRunner()


def invoke(*args: str) -> Any:
    return runner.invoke(app, ["rules", *args])


# ---------------------------------------------------------------- backtest

MON = dt.date(2025, 9, 1)


def _add_history(session: Session, athlete_id: int, weekly_m: list[int], **athlete: Any) -> None:
    session.add(Athlete(id=athlete_id, strava_athlete_id=1000 + athlete_id, **athlete))
    session.flush()
    for week, metres in enumerate(weekly_m):
        for day in range(3):
            local = dt.datetime.combine(MON + dt.timedelta(weeks=week, days=2 * day), dt.time(7))
            session.add(
                Activity(
                    strava_id=athlete_id * 10_000 + week * 10 + day,
                    athlete_id=athlete_id,
                    sport_type="Run",
                    start_date=local.replace(tzinfo=dt.UTC),
                    start_date_local=local,
                    timezone="Europe/Oslo",
                    distance_m=metres // 3,
                    moving_time_s=1800,
                    elevation_gain_dm=0,
                    trainer=False,
                    manual=False,
                )
            )


@pytest.fixture
def stored(db_url: str, monkeypatch: pytest.MonkeyPatch) -> sessionmaker[Session]:
    monkeypatch.setenv("DATABASE_URL", db_url)
    engine = make_engine(db_url)
    factory = make_sessionmaker(engine)
    # The first stored week is never judged (the history may begin part-way through it), so
    # weeks 1-4 are the baseline; week 5: +50 %; week 6: +33 % (baseline 33.75 km).
    spiky = [30_000] * 5 + [45_000, 45_000]
    with factory() as session, session.begin():
        _add_history(session, 1, spiky)
        _add_history(session, 2, spiky, rule_overrides={"weekly_distance_spike": {"threshold": 45}})
        _add_history(session, 3, spiky, muted_rules=["weekly_distance_spike"])
    engine.dispose()
    return factory


def test_backtest_counts_alerts_per_week_next_to_the_config_in_force(
    stored: sessionmaker[Session], tmp_path: Path
) -> None:
    result = invoke("backtest", "--weeks", "3", "--format", "json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["weeks"] == ["2025-09-29", "2025-10-06", "2025-10-13"]
    in_force = report["in_force"]
    assert in_force["source"] == str(SHIPPED_RULES)
    # Athlete 1 fires twice; athlete 2's threshold 45 fires only on +50 %; athlete 3 muted it.
    assert in_force["per_week"]["weekly_distance_spike"] == [0, 2, 1]
    assert in_force["totals"]["weekly_distance_spike"] == 3
    assert report["candidate"] is None
    assert (report["weeks_with_data"], report["warning"]) == (3, None)

    candidate = tmp_path / "candidate.yaml"
    candidate.write_text(
        SHIPPED_RULES.read_text().replace(
            "threshold: 30            # % above", "threshold: 45            # % above"
        )
    )
    result = invoke("backtest", "--weeks", "3", "--rules", str(candidate), "--format", "json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["in_force"]["per_week"]["weekly_distance_spike"] == [0, 2, 1]
    assert report["candidate"]["per_week"]["weekly_distance_spike"] == [0, 2, 0]
    row = next(r for r in report["comparison"] if r["rule"] == "weekly_distance_spike")
    assert row == {"rule": "weekly_distance_spike", "in_force": 3, "candidate": 2, "delta": -1}

    result = invoke("backtest", "--weeks", "3", "--rules", str(candidate))
    assert result.exit_code == 0, result.output
    assert "weekly_distance_spike" in result.stdout
    week_row = next(line for line in result.stdout.splitlines() if "│ 2025-10-13" in line)
    assert "1 → 0" in week_row


def test_backtest_uses_rules_path_as_the_config_in_force(
    stored: sessionmaker[Session], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    strict = tmp_path / "strict.yaml"
    strict.write_text(SHIPPED_RULES.read_text().replace("threshold: 30  ", "threshold: 60  "))
    monkeypatch.setenv("RULES_PATH", str(strict))
    result = invoke("backtest", "--weeks", "2", "--format", "json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["in_force"]["source"] == str(strict)
    # Athlete 2 keeps its own threshold (45) on top of the file's 60.
    assert report["in_force"]["per_week"]["weekly_distance_spike"] == [1, 0]


def test_backtest_without_activities(db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", db_url)
    result = invoke("backtest")
    assert result.exit_code == 1
    assert "no stored activities" in result.stderr


def test_backtest_unmigrated_database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'empty.db'}")
    result = invoke("backtest")
    assert result.exit_code == 2
    assert "strideguard db upgrade" in result.stderr


def test_counts_match_a_hand_tally_of_the_stored_history(stored: sessionmaker[Session]) -> None:
    """The table form shows the same totals the JSON does."""
    tallies: dict[str, int] = defaultdict(int)
    report = json.loads(invoke("backtest", "--weeks", "6", "--format", "json").stdout)
    for rule, counts in report["in_force"]["per_week"].items():
        tallies[rule] = sum(counts)
    table = invoke("backtest", "--weeks", "6").stdout
    spike_line = next(line for line in table.splitlines() if "weekly_distance_spike" in line)
    assert str(tallies["weekly_distance_spike"]) in spike_line
    assert f"{report['athletes']} athletes" in table


def test_backtest_counts_the_digests_the_demo_sent(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The demo judges 16 weeks; its first is partly before the fetch window, so unjudged."""
    from sqlalchemy import func, select

    from strideguard.demo import DEMO_WEEKS, Demo
    from strideguard.models import DeliveryRecord
    from strideguard.status import DeliveryKind

    with Demo(tmp_path / "work", tmp_path / "outbox") as demo:
        demo.connect()
        demo.evaluate(demo.weeks)
        with demo.runtime.sessions() as session:
            sent = session.scalar(
                select(func.count())
                .select_from(DeliveryRecord)
                .where(DeliveryRecord.status == "sent", DeliveryRecord.kind == DeliveryKind.DIGEST)
            )
        database_url = demo.settings.database_url
    monkeypatch.setenv("DATABASE_URL", database_url)
    result = invoke("backtest", "--weeks", str(DEMO_WEEKS), "--format", "json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["in_force"]["digests_total"] == sent == 5
    assert report["in_force"]["observed_athletes"][0] == 0  # the incomplete first week
    assert report["weeks_with_data"] == DEMO_WEEKS - 1
    # Not the retention purge's doing: the demo keeps everything it fetched.
    assert report["warning"] == f"{DEMO_WEEKS - 1} of {DEMO_WEEKS} weeks have data"


def test_short_history_is_named_with_the_setting_that_caused_it(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A real install keeps RETENTION_DAYS of activities: say so instead of a quiet count."""
    monkeypatch.setenv("DATABASE_URL", db_url)
    monkeypatch.setenv("RETENTION_DAYS", "7")
    today = dt.datetime.now(dt.UTC).date()
    engine = make_engine(db_url)
    with make_sessionmaker(engine)() as session, session.begin():
        session.add(Athlete(id=1, strava_athlete_id=1001))
        session.flush()
        for days_ago in range(7):  # what a day of `serve` leaves after the daily purge
            local = dt.datetime.combine(today - dt.timedelta(days=days_ago), dt.time(7))
            session.add(
                Activity(
                    strava_id=days_ago + 1,
                    athlete_id=1,
                    sport_type="Run",
                    start_date=local.replace(tzinfo=dt.UTC),
                    start_date_local=local,
                    distance_m=8_000,
                    moving_time_s=2_400,
                )
            )
    engine.dispose()
    # The open week is never counted, even when --until names a day in it.
    result = invoke("backtest", "--weeks", "16", "--until", today.isoformat(), "--format", "json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["weeks"][-1] < (today - dt.timedelta(days=today.weekday())).isoformat()
    # The last closed week began before the oldest stored day: none is complete.
    warning = "0 of 16 weeks have data; RETENTION_DAYS=7 keeps a week"
    assert report["warning"] == warning
    assert f"warning: {warning}" in result.stderr
    assert report["in_force"]["digests_total"] == 0  # no alert for a half-seen week

    table = invoke("backtest", "--weeks", "16")
    assert f"warning: {warning}" in table.stderr


def test_one_athlete_with_overrides_and_invalid_overrides_exit_1(
    stored: sessionmaker[Session],
) -> None:
    result = invoke("backtest", "--weeks", "3", "--athlete", "2", "--format", "json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["athletes"] == 1
    assert report["in_force"]["per_week"]["weekly_distance_spike"] == [0, 1, 0]  # threshold 45

    with stored() as session, session.begin():
        athlete = session.get(Athlete, 2)
        assert athlete is not None
        athlete.rule_overrides = {"weekly_distance_spike": {"treshold": 1}}
    result = invoke("backtest", "--weeks", "3", "--format", "json")
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    assert report["invalid_overrides"] == [
        "athlete 2: overrides ignored: overrides: weekly_distance_spike: unknown parameter "
        "'treshold'; did you mean 'threshold'?"
    ]
    assert "did you mean 'threshold'?" in result.stderr
    assert "strideguard athlete override" in result.stderr

    missing = invoke("backtest", "--athlete", "99")
    assert missing.exit_code == 1
    assert "no athlete 99" in missing.stderr


def test_population_replays_generated_runners_with_a_seed() -> None:
    args = ("backtest", "--population", "20", "--weeks", "6", "--until", "2025-11-16")
    first = invoke(*args, "--seed", "3", "--format", "json")
    assert first.exit_code == 0, first.output
    report = json.loads(first.stdout)
    assert (report["source"], report["athletes"], report["weeks_with_data"]) == (
        "population",
        20,
        6,
    )
    assert report["weeks"][-1] == "2025-11-10"
    assert report["athlete_weeks"] == 20 * 6  # whole generated weeks are all complete
    # The window's last week was generated in full: not an empty week where every runner
    # "missed" their strength days.
    assert report["in_force"]["per_week"]["missed_strength_days"][-1] < 20
    again = invoke(*args, "--seed", "3", "--format", "json")
    assert json.loads(again.stdout) == report
    other = json.loads(invoke(*args, "--seed", "4", "--format", "json").stdout)
    assert other["in_force"]["per_week"] != report["in_force"]["per_week"]


EXPORT_HEADER = (
    "Activity ID,Activity Date,Activity Name,Activity Type,Activity Description,Elapsed Time,"
    "Distance,Max Heart Rate,Relative Effort,Commute,Activity Private Note,Activity Gear,"
    "Filename,Athlete Weight,Bike Weight,Elapsed Time,Moving Time,Distance,Max Speed,"
    "Average Speed,Elevation Gain\n"
)


def _export_csv(weekly_km: list[int]) -> str:
    """Three runs a week, as Strava writes them: km in the first Distance, metres in the second."""
    lines = [EXPORT_HEADER]
    for week, km in enumerate(weekly_km):
        for day in range(3):
            when = dt.datetime.combine(MON + dt.timedelta(weeks=week, days=2 * day), dt.time(6))
            metres = km * 1000 / 3
            lines.append(
                f'{week * 10 + day + 1},"{when:%b} {when.day}, {when:%Y, %I:%M:%S %p}",'
                f'"Run, easy",Run,,2000,"{metres / 1000:.2f}",,,false,,,,,,2000,1900,'
                f"{metres:.1f},,,12.0\n"
            )
    lines.append(
        '99,"Sep 3, 2025, 5:00:00 PM",Gym,Weight Training,,1800,0.00,,,,,,,,,1800,1800,0,,,0\n'
    )
    return "".join(lines)


def test_export_zip_or_folder_is_replayed(tmp_path: Path) -> None:
    import zipfile

    # The last week ends on a Friday run: the export may have been made before its Sunday.
    text = _export_csv([30, 30, 30, 30, 30, 45, 10])
    folder = tmp_path / "export"
    folder.mkdir()
    (folder / "activities.csv").write_text(text)
    archive = tmp_path / "export.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("activities.csv", text)
        zipped.writestr("activities/1.gpx", "<gpx/>")
    reports = []
    for path in (folder, archive):
        result = invoke(
            "backtest", "--export", str(path), "--weeks", "2", "--athlete-tz", "Europe/Oslo",
            "--format", "json",
        )  # fmt: skip
        assert result.exit_code == 0, result.output
        reports.append(json.loads(result.stdout))
    assert reports[0] == reports[1]
    report = reports[0]
    assert (report["source"], report["weeks"]) == ("export", ["2025-09-29", "2025-10-06"])
    # The second Distance column (metres) is read: 45 km on a 30 km baseline is +50 %.
    assert report["in_force"]["per_week"]["weekly_distance_spike"] == [0, 1]
    assert report["weeks_with_data"] == 2  # and the unfinished last week is left out


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (
            "Activity ID,Activity Date\n1,x\n",
            "activities.csv: missing column(s) 'Activity Type', 'Filename', the second 'Elapsed "
            "Time', the second 'Distance'",
        ),
        (
            EXPORT_HEADER + '1,"yesterday",Run,Run,,1,1,,,,,,,,,1,1,1,,,0\n',
            "activities.csv line 2: row skipped: 'Activity Date' 'yesterday' is not a date",
        ),
        (
            EXPORT_HEADER + '1,"Sep 3, 2025, 5:00:00 PM",R,Run,,1,1,,,,,,,,,1,1,far,,,0\n',
            "activities.csv line 2: row skipped: 'Distance' 'far' is not a number",
        ),
    ],
)
def test_unreadable_export_names_the_file_and_line(
    tmp_path: Path, content: str, message: str
) -> None:
    (tmp_path / "activities.csv").write_text(content)
    result = invoke("backtest", "--export", str(tmp_path))
    assert result.exit_code == 2
    assert f"warning: {tmp_path.name}:{message}" in result.stderr
    assert f"error: no activities could be read from {tmp_path} " in result.stderr
    empty_zip = tmp_path / "other.zip"
    import zipfile

    with zipfile.ZipFile(empty_zip, "w") as zipped:
        zipped.writestr("readme.txt", "")
    result = invoke("backtest", "--export", str(empty_zip))
    assert result.exit_code == 2
    assert "warning: other.zip: no activities.csv" in result.stderr
    missing = invoke("backtest", "--export", str(tmp_path / "nope.zip"))
    assert missing.exit_code == 2
    assert f"warning: {tmp_path / 'nope.zip'}: not a readable ZIP file" in missing.stderr


def test_export_rows_skipped_are_warned_and_the_rest_replayed(tmp_path: Path) -> None:
    text = _export_csv([30, 30, 30, 30, 30, 45, 10])
    bad = '7,"last Tuesday",Run,Run,,1,1,,,,,,,,,1,1,1,,,0\n'
    (tmp_path / "activities.csv").write_text(text + bad)
    result = invoke(
        "backtest", "--export", str(tmp_path), "--weeks", "2", "--athlete-tz", "Europe/Oslo",
        "--format", "json",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    line = text.count("\n") + 1
    skipped = (
        f"{tmp_path.name}:activities.csv line {line}: row skipped: 'Activity Date' "
        "'last Tuesday' is not a date this reader knows"
    )
    assert report["skipped"] == [skipped]
    assert f"warning: {skipped}" in result.stderr
    assert report["in_force"]["per_week"]["weekly_distance_spike"] == [0, 1]

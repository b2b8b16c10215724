"""Migration 0016 (athletes without Strava): rebuilding `athletes` on SQLite must not cascade
into the rows that point at it. Before migrations/env.py switched SQLite's foreign keys off
around a run, this upgrade deleted every runner's check-ins, evaluations and deliveries."""

from __future__ import annotations

from alembic import command
from sqlalchemy import MetaData, Table, func, insert, select

from strideguard.db import alembic_config, make_engine
from tests.test_migration_deliveries import NOW, WEEK, athlete_row

BEFORE = "0015_delivery_kinds"


def test_upgrade_keeps_every_row_that_points_at_an_athlete(db_url: str) -> None:
    config = alembic_config(db_url)
    command.downgrade(config, BEFORE)
    # make_engine: foreign keys enforced, as the service runs them.
    engine = make_engine(db_url)
    try:
        with engine.begin() as connection:
            meta = MetaData()
            athletes = Table("athletes", meta, autoload_with=connection)
            checkins = Table("back_pain_checkins", meta, autoload_with=connection)
            connection.execute(insert(athletes), [athlete_row(weekly_note=False)])
            connection.execute(
                insert(checkins),
                [{"athlete_id": 1, "week_start": WEEK, "score": 3, "answered_at": NOW}],
            )
        command.upgrade(config, "head")
        with engine.begin() as connection:
            meta = MetaData()
            athletes = Table("athletes", meta, autoload_with=connection)
            checkins = Table("back_pain_checkins", meta, autoload_with=connection)
            assert connection.scalar(select(func.count()).select_from(checkins)) == 1
            assert athletes.c.strava_athlete_id.nullable
            # A runner without Strava can now be stored.
            connection.execute(
                insert(athletes),
                [
                    athlete_row(
                        id=2,
                        strava_athlete_id=None,
                        email="files@example.org",
                        timezone_locked=True,
                        weekly_note=False,
                    )
                ],
            )
    finally:
        engine.dispose()

"""The outbox becomes `deliveries` (0011) with every row, its id and its alerts' links kept."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from alembic import command
from sqlalchemy import Engine, MetaData, Table, create_engine, insert, select
from sqlalchemy.exc import IntegrityError

from strideguard.db import alembic_config

BEFORE = "0010_runner_signin"
NOW = dt.datetime(2026, 11, 30, 6, 0, tzinfo=dt.UTC)
WEEK = dt.date(2026, 11, 23)


def _table(engine: Engine, name: str) -> Table:
    return Table(name, MetaData(), autoload_with=engine)


def athlete_row(**changes: Any) -> dict[str, Any]:
    """An `athletes` row as the migration tests insert it below a revision, by plain SQL."""
    return {
        "id": 1,
        "strava_athlete_id": 7,
        "email": "runner@example.org",
        "email_status": "ok",
        "units": "km",
        "timezone": "UTC",
        "timezone_locked": False,
        "muted_rules": [],
        "rule_overrides": {},
        "created_at": NOW,
        "updated_at": NOW,
        **changes,
    }


def _rows_before_the_migration(engine: Engine) -> None:
    athlete = athlete_row()
    digest = {
        "athlete_id": 1,
        "message_id": "<digest-1-2026-11-23@example.org>",
        "attempts": 1,
        "crashes": 0,
        "created_at": NOW,
    }
    alert = {
        "athlete_id": 1,
        "week_start": WEEK,
        "severity": "warning",
        "finding": {},
        "late": False,
        "created_at": NOW,
    }
    with engine.begin() as connection:
        connection.execute(insert(_table(engine, "athletes")), [athlete])
        outbox = _table(engine, "outbox_emails")
        connection.execute(
            insert(outbox),
            [
                {**digest, "id": 5, "week_start": WEEK, "status": "sent", "sent_at": NOW},
                {
                    **digest,
                    "id": 9,
                    "week_start": WEEK + dt.timedelta(weeks=1),
                    "message_id": "<digest-1-2026-11-30@example.org>",
                    "status": "pending",
                    "sent_at": None,
                },
            ],
        )
        connection.execute(
            insert(_table(engine, "alerts")),
            [
                {**alert, "rule_id": "weekly_distance_spike", "outbox_id": 5},
                {**alert, "rule_id": "long_run_share", "outbox_id": 5},
                {**alert, "rule_id": "late_one", "outbox_id": None, "late": True},
            ],
        )


def test_every_outbox_row_becomes_an_email_delivery_and_alerts_keep_their_digest(
    db_url: str,
) -> None:
    config = alembic_config(db_url)
    command.downgrade(config, BEFORE)
    engine = create_engine(db_url)
    try:
        _rows_before_the_migration(engine)
        command.upgrade(config, "head")
        deliveries, alerts = _table(engine, "deliveries"), _table(engine, "alerts")
        with engine.connect() as connection:
            kept = connection.execute(
                select(deliveries.c.id, deliveries.c.channel, deliveries.c.status).order_by(
                    deliveries.c.id
                )
            ).all()
            links = connection.execute(
                select(alerts.c.rule_id, alerts.c.outbox_id).order_by(alerts.c.id)
            ).all()
        assert [tuple(row) for row in kept] == [(5, "email", "sent"), (9, "email", "pending")]
        assert [tuple(row) for row in links] == [
            ("weekly_distance_spike", 5),
            ("long_run_share", 5),
            ("late_one", None),
        ]
        same_week = {
            "athlete_id": 1,
            "week_start": WEEK,
            "message_id": "<other@example.org>",
            "status": "pending",
            "attempts": 0,
            "crashes": 0,
            "created_at": NOW,
        }
        with engine.begin() as connection:  # another channel may carry the same week
            connection.execute(insert(deliveries), [{**same_week, "channel": "push"}])
        with pytest.raises(IntegrityError), engine.begin() as connection:
            connection.execute(
                insert(deliveries), [{**same_week, "message_id": "<again@example.org>"}]
            )
        with engine.begin() as connection:  # back to one row per week: email rows only
            connection.execute(deliveries.delete().where(deliveries.c.channel == "push"))
        command.downgrade(config, BEFORE)
        outbox, alerts = _table(engine, "outbox_emails"), _table(engine, "alerts")
        with engine.connect() as connection:
            assert connection.execute(select(outbox.c.id).order_by(outbox.c.id)).all() == [
                (5,),
                (9,),
            ]
            assert connection.execute(
                select(alerts.c.outbox_id).where(alerts.c.outbox_id.is_not(None))
            ).all() == [(5,), (5,)]
        command.upgrade(config, "head")
    finally:
        engine.dispose()

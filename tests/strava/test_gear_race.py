"""Two writers storing the same new shoe at once (a week's evaluation refresh and the
`read_gear` job did, in the demo): both succeed and one row holds the later count, on SQLite
and PostgreSQL. The second writer is released only once its INSERT is on its way, so the
first writer's uncommitted row is exactly what it meets."""

from __future__ import annotations

import datetime as dt
import threading
from typing import Any

from sqlalchemy import Engine, event, select
from sqlalchemy.orm import Session, sessionmaker

from strideguard.integrations.strava.sync import store_gear
from strideguard.models import Athlete, Gear

NOW = dt.datetime(2026, 3, 4, 10, 0, tzinfo=dt.UTC)
WAIT_S = 60  # generous: the shared CI machine may be busy


def test_two_concurrent_upserts_of_one_new_shoe_both_succeed(
    engine: Engine, sessions: sessionmaker[Session]
) -> None:
    with sessions.begin() as session:
        athlete = Athlete(strava_athlete_id=134815, firstname="Ada")
        session.add(athlete)
        session.flush()
        athlete_id = athlete.id
    second_inserting = threading.Event()
    errors: list[BaseException] = []

    def second_writer() -> None:
        try:
            with sessions.begin() as session:
                store_gear(session, athlete_id, "g77", {"name": "Trail", "distance": 2000}, NOW)
        except BaseException as exc:  # reported by the assertion below, not lost in the thread
            errors.append(exc)

    def watch(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if statement.lstrip().upper().startswith("INSERT INTO GEAR") and (
            threading.current_thread() is writer
        ):
            second_inserting.set()

    writer = threading.Thread(target=second_writer)
    with sessions() as first, first.begin():
        store_gear(first, athlete_id, "g77", {"name": "Trail", "distance": 1000}, NOW)
        event.listen(engine, "before_cursor_execute", watch)
        try:
            writer.start()
            assert second_inserting.wait(WAIT_S), "the second writer never reached its INSERT"
        finally:
            event.remove(engine, "before_cursor_execute", watch)
    writer.join(WAIT_S)
    assert not writer.is_alive()
    assert errors == []
    with sessions() as session:
        rows = session.scalars(select(Gear)).all()
    assert [(g.strava_gear_id, g.name, g.distance_m) for g in rows] == [("g77", "Trail", 2000)]

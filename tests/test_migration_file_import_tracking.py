"""Migration 0018: an import queued before it keeps its row and outcome; it has no paths, so
the reconciler leaves it alone, and every new import starts at no attempts. Stored activities
keep their rows, with no content hash."""

from __future__ import annotations

from alembic import command
from sqlalchemy import MetaData, Table, insert, select

from strideguard.db import alembic_config, make_engine
from tests.test_migration_deliveries import NOW, athlete_row

BEFORE = "0017_file_imports"


def test_upgrade_keeps_queued_imports_and_downgrade_removes_the_new_columns(
    db_url: str,
) -> None:
    config = alembic_config(db_url)
    command.downgrade(config, BEFORE)
    engine = make_engine(db_url)
    done = {"imported_count": 1, "imported": ["run.fit"]}
    try:
        with engine.begin() as connection:
            meta = MetaData()
            athletes = Table("athletes", meta, autoload_with=connection)
            imports = Table("file_imports", meta, autoload_with=connection)
            activities = Table("activities", meta, autoload_with=connection)
            connection.execute(insert(athletes), [athlete_row(weekly_note=False)])
            connection.execute(insert(imports), [_row(1, "queued", None), _row(2, "done", done)])
            connection.execute(insert(activities), [_run()])
        command.upgrade(config, "head")
        with engine.begin() as connection:
            imports = Table("file_imports", MetaData(), autoload_with=connection)
            rows = connection.execute(
                select(
                    imports.c.id,
                    imports.c.status,
                    imports.c.result,
                    imports.c.paths,
                    imports.c.attempts,
                    imports.c.started_at,
                ).order_by(imports.c.id)
            ).all()
        assert [tuple(row) for row in rows] == [
            (1, "queued", None, None, 0, None),
            (2, "done", done, None, 0, None),
        ]
        with engine.begin() as connection:
            activities = Table("activities", MetaData(), autoload_with=connection)
            stored = connection.execute(
                select(activities.c.strava_id, activities.c.file_name, activities.c.content_hash)
            ).all()
        # A file stored before has no hash: a re-import parses it once more, as before.
        assert [tuple(row) for row in stored] == [(-5, "run.fit", None)]
        command.downgrade(config, BEFORE)
        with engine.begin() as connection:
            imports = Table("file_imports", MetaData(), autoload_with=connection)
            assert "paths" not in imports.c
            activities = Table("activities", MetaData(), autoload_with=connection)
            assert "content_hash" not in activities.c
            assert connection.execute(select(activities.c.file_name)).all() == [("run.fit",)]
            assert connection.execute(select(imports.c.status).order_by(imports.c.id)).all() == [
                ("queued",),
                ("done",),
            ]
        command.upgrade(config, "head")
    finally:
        engine.dispose()


def _row(import_id: int, status: str, result: object) -> dict[str, object]:
    return {
        "id": import_id,
        "athlete_id": 1,
        "origin": "upload",
        "status": status,
        "file_count": 1,
        "queued_at": NOW,
        "result": result,
    }


def _run() -> dict[str, object]:
    return {
        "strava_id": -5,
        "athlete_id": 1,
        "source": "file",
        "sport_type": "Run",
        "start_date": NOW,
        "start_date_local": NOW.replace(tzinfo=None),
        "distance_m": 5000,
        "moving_time_s": 1500,
        "elevation_gain_dm": 0,
        "trainer": False,
        "manual": False,
        "detail": 3,
        "file_name": "run.fit",
        "synced_at": NOW,
    }

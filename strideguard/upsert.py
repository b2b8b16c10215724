"""INSERT … ON CONFLICT on whichever database is bound, PostgreSQL or SQLite.

Both dialects spell the clause the same way but through different SQLAlchemy constructs, and
the unique keys (athlete, week, rule), (athlete, week) and a Strava event's identity are what
make work that happens twice write once, so every box needs the same switch.
"""

from __future__ import annotations

from sqlalchemy import FromClause, Insert
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session


def insert_ignoring_duplicates(bound: Session | str, table: type[object] | FromClause) -> Insert:
    """An INSERT that skips rows colliding with a unique key; duplicates are expected here.

    `bound` is the session the statement will run in, or the dialect's name.
    """
    dialect = bound if isinstance(bound, str) else bound.get_bind().dialect.name
    module = postgresql if dialect == "postgresql" else sqlite
    return module.insert(table).on_conflict_do_nothing()  # type: ignore[no-any-return]

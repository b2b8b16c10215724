"""INSERT … ON CONFLICT on whichever database is bound, PostgreSQL or SQLite.

Both dialects spell the clause the same way but through different SQLAlchemy constructs, and
the unique keys (athlete, week, rule), (athlete, week) and a Strava event's identity are what
make work that happens twice write once, so every box needs the same switch.
"""

from __future__ import annotations

from collections.abc import Iterable
from types import ModuleType

from sqlalchemy import FromClause, Insert
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session


def insert_ignoring_duplicates(bound: Session | str, table: type[object] | FromClause) -> Insert:
    """An INSERT that skips rows colliding with a unique key; duplicates are expected here.

    `bound` is the session the statement will run in, or the dialect's name.
    """
    return _dialect(bound).insert(table).on_conflict_do_nothing()  # type: ignore[no-any-return]


def insert_or_update(
    bound: Session | str,
    table: type[object] | FromClause,
    key: Iterable[str],
    updated: Iterable[str],
) -> Insert:
    """An INSERT that, where a row with the same unique `key` exists, updates its `updated`
    columns from the new values instead; the database decides, so two writers never collide.
    """
    statement = _dialect(bound).insert(table)
    return statement.on_conflict_do_update(  # type: ignore[no-any-return]
        index_elements=list(key),
        set_={name: statement.excluded[name] for name in updated},
    )


def _dialect(bound: Session | str) -> ModuleType:
    dialect = bound if isinstance(bound, str) else bound.get_bind().dialect.name
    return postgresql if dialect == "postgresql" else sqlite

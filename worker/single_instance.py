"""Make sure only one scheduler runs against a database.

Two schedulers would not corrupt anything (unique keys make a double tick harmless), but they
would double the reconciler's re-sends and hide a deployment mistake, so the second one stops
with a clear message. The lock belongs to the database the scheduler writes, and it dies with
the process that holds it, so a crashed scheduler never blocks its replacement:

- PostgreSQL: a session-level advisory lock on a connection held for the process's life;
- SQLite: an exclusive `flock` on a file next to the database (SQLite is one machine anyway).
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from types import TracebackType
from typing import IO

from sqlalchemy import Connection, Engine, text
from sqlalchemy.engine import make_url

# Any fixed 64-bit number; "strideguard scheduler" spelled in hex-ish digits.
ADVISORY_LOCK_KEY = 0x5717_DE_6A_4D_5C_4E


class AlreadyRunning(Exception):
    """Another scheduler holds the lock; the message says where to look."""


class SchedulerLock:
    """Held from `__enter__` to `__exit__`; raises `AlreadyRunning` when taken elsewhere."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._connection: Connection | None = None
        self._file: IO[str] | None = None

    def __enter__(self) -> SchedulerLock:
        url = self._engine.url
        if url.get_backend_name() == "postgresql":
            self._take_advisory_lock()
        else:
            self._take_file_lock(_lock_path(str(url)))
        return self

    def _take_advisory_lock(self) -> None:
        connection = self._engine.connect()
        got = connection.execute(
            text("SELECT pg_try_advisory_lock(:key)"), {"key": ADVISORY_LOCK_KEY}
        ).scalar()
        # Leave no transaction open: the lock is session-level and outlives it.
        connection.commit()
        if not got:
            holder = connection.execute(
                text(
                    "SELECT a.pid, a.client_addr, a.backend_start FROM pg_locks l "
                    "JOIN pg_stat_activity a ON a.pid = l.pid "
                    "WHERE l.locktype = 'advisory' AND l.granted "
                    "AND (l.classid::bigint << 32 | l.objid::bigint) = :key"
                ),
                {"key": ADVISORY_LOCK_KEY},
            ).first()
            connection.close()
            where = (
                f" (database backend pid {holder.pid}, client {holder.client_addr or 'local'}, "
                f"since {holder.backend_start:%Y-%m-%d %H:%M:%S %Z})"
                if holder
                else ""
            )
            raise AlreadyRunning(
                f"another strideguard scheduler is already running against this database{where}; "
                "run exactly one scheduler (stop the other one first)"
            )
        self._connection = connection

    def _take_file_lock(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle = path.open("a+")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip()
            handle.close()
            raise AlreadyRunning(
                f"another strideguard scheduler is already running against this database "
                f"(lock file {path}{', pid ' + holder if holder else ''}); "
                "run exactly one scheduler (stop the other one first)"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        self._file = handle

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._connection is not None:
            # The pool keeps the session open after close(), so unlock explicitly.
            self._connection.execute(
                text("SELECT pg_advisory_unlock(:key)"), {"key": ADVISORY_LOCK_KEY}
            )
            self._connection.commit()
            self._connection.close()
            self._connection = None
        if self._file is not None:
            fcntl.flock(self._file, fcntl.LOCK_UN)
            self._file.close()
            self._file = None


def _lock_path(url: str) -> Path:
    database = make_url(url).database
    if not database or database == ":memory:":
        return Path("var") / "scheduler.lock"
    return Path(f"{database}.scheduler.lock")

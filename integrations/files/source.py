"""The runner's imported files as an `ActivitySource` (worker/ports.py), registered as "files".

Nothing is fetched: the import (`importer.py`) already stored the rows, so a refresh returns
the athlete's counted file rows, kept FILE_RETENTION_DAYS. What is unfinished is an import
whose job never ran to its end (`import_runs.py`): the reconciler sends it again. The window
is complete from the first stored run: before it nothing is known; after it, a week without
files is a week without runs, as far as the runner told us.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from strideguard.activity_sources import FILE, counted
from strideguard.models import Activity, FileImport, Gear
from strideguard.rules import ActivityRecord
from strideguard.status import ImportStatus
from strideguard.worker.ports import Followed, Priority, SourceHost, UnfinishedSync, Window

# The columns a window carries: the engine's record without the athlete.
FIELDS = [name for name in ActivityRecord.__dataclass_fields__ if name != "athlete_id"]


class FileSource:
    def __init__(self, sessions: sessionmaker[Session], clock: Callable[[], dt.datetime]) -> None:
        self.sessions = sessions
        self.clock = clock

    @classmethod
    def from_host(cls, host: SourceHost) -> FileSource:
        return cls(host.sessions, host.clock)

    def followed(self, session: Session) -> Sequence[Followed]:
        """Runners with imported files; their weeks are news from when they were added
        (the scheduler's own floor), so no later moment is given."""
        athletes = session.scalars(
            select(Activity.athlete_id).where(Activity.source == FILE).distinct()
        )
        return [Followed(athlete_id, None) for athlete_id in athletes]

    def unfinished_syncs(
        self, session: Session, stale: dt.datetime, max_attempts: int, limit: int
    ) -> Sequence[UnfinishedSync]:
        """Imports still queued a lease after they were queued or last claimed: their queue
        message was lost, or their worker died. Each is sent again as the same job; the job's
        claim drops a duplicate, counts the attempt, and past `max_attempts` closes the row
        FAILED with the reason (so one that is spent is still sent, once, to say so)."""
        rows = session.execute(
            select(FileImport.id, FileImport.athlete_id, FileImport.paths, FileImport.remove_after)
            .where(
                FileImport.status == ImportStatus.QUEUED,
                func.coalesce(FileImport.started_at, FileImport.queued_at) < stale,
            )
            .order_by(FileImport.id)
            .limit(limit)
        ).all()
        return [
            UnfinishedSync(
                athlete_id,
                backfilled=True,
                resend=partial(_send_import, athlete_id, paths, remove_after, import_id),
                job=("import", import_id),
            )
            for import_id, athlete_id, paths, remove_after in rows
            if paths  # queued before the paths were kept: nothing to send
        ]

    def unavailable_reason(self, session: Session, athlete_id: int) -> str | None:
        held = session.scalar(
            select(func.count())
            .select_from(Activity)
            .where(Activity.athlete_id == athlete_id, Activity.source == FILE)
        )
        return None if held else "no imported files"

    def reserve_reads(self, now: dt.datetime, grace: dt.timedelta) -> None:
        """Nothing: reading the runner's files costs no request budget."""

    def refresh_window(self, athlete_id: int, priority: Priority) -> Window:
        columns = [getattr(Activity, name) for name in FIELDS]
        with self.sessions() as session:
            rows = session.execute(
                select(*columns)
                .where(Activity.athlete_id == athlete_id, Activity.source == FILE, counted())
                .order_by(Activity.start_date)
            ).all()
        activities = [dict(zip(FIELDS, row, strict=True)) for row in rows]
        first = min((a["start_date_local"].date() for a in activities), default=None)
        return Window(
            activities=activities,
            gear=_shoes(athlete_id, activities),
            complete_from=first or self.clock().date(),
        )


def _send_import(
    athlete_id: int, paths: list[str], remove_after: str | None, import_id: int, jobs: Any
) -> None:
    """The `import_files` message `open_import`'s caller sent first (worker/jobs.py)."""
    jobs.import_files(athlete_id, paths, remove_after=remove_after, import_id=import_id)


def _shoes(athlete_id: int, activities: list[dict[str, object]]) -> dict[str, Gear]:
    """Each shoe a file names, with the distance the stored files ran in it: the shoe-mileage
    rule's count for a runner whose shoes Strava does not know."""
    totals: dict[str, int] = defaultdict(int)
    for activity in activities:
        name = activity["gear_id"]
        if isinstance(name, str):
            distance = activity["distance_m"]
            totals[name] += distance if isinstance(distance, int) else 0
    return {
        name: Gear(athlete_id=athlete_id, strava_gear_id=name, name=name, distance_m=metres)
        for name, metres in totals.items()
    }

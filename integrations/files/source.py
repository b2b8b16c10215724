"""The runner's imported files as an `ActivitySource` (worker/ports.py), registered as "files".

Nothing is fetched: the import (`importer.py`) already stored the rows, so a refresh returns
the athlete's counted file rows, kept FILE_RETENTION_DAYS. The window is complete from the
first stored run: before it nothing is known; after it, a week without files is a week
without runs, as far as the runner told us.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable, Sequence

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from strideguard.activity_sources import FILE, counted
from strideguard.models import Activity, Gear
from strideguard.rules import ActivityRecord
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
        """None: an import stores its rows before it ends, so nothing waits to be re-sent."""
        return []

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

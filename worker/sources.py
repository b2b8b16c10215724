"""An athlete's activity sources as one `ActivitySource`: what evaluation talks to.

A runner may have Strava, their own imported files, or both. Each registered source says
whether it holds anything for the athlete (`unavailable_reason`); those that do are refreshed
and their windows joined. The same run from two sources counts once: the stored rows are
matched first (`strideguard.activity_sources.match_sources`), and the copy counted out is
left out of the joined window. The sources are asked in the registry's order, never by name.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from strideguard.activity_sources import match_sources
from strideguard.db import transaction
from strideguard.models import Activity
from strideguard.worker.ports import (
    ActivitySource,
    Followed,
    Priority,
    SourceDisconnected,
    UnfinishedSync,
    Window,
)


class AthleteSources:
    def __init__(
        self, sessions: sessionmaker[Session], sources: Mapping[str, ActivitySource]
    ) -> None:
        self.sessions = sessions
        self.sources = dict(sources)

    def _available(self, session: Session, athlete_id: int) -> tuple[list[str], list[str]]:
        """The kinds the athlete has, and the reasons the others are not."""
        kinds: list[str] = []
        reasons: list[str] = []
        for kind, source in self.sources.items():
            reason = source.unavailable_reason(session, athlete_id)
            if reason is None:
                kinds.append(kind)
            else:
                reasons.append(reason)
        return kinds, reasons

    def followed(self, session: Session) -> Sequence[Followed]:
        """Every athlete any source follows, news since the latest (re)connect any names."""
        since: dict[int, dt.datetime | None] = {}
        for source in self.sources.values():
            for one in source.followed(session):
                known = since.get(one.athlete_id)
                moments = [m for m in (known, one.since) if m is not None]
                since[one.athlete_id] = max(moments, default=None)
        return [Followed(athlete_id, moment) for athlete_id, moment in since.items()]

    def unfinished_syncs(
        self, session: Session, stale: dt.datetime, max_attempts: int, limit: int
    ) -> Sequence[UnfinishedSync]:
        """Each source's unfinished refreshes (a source that stores on import has none)."""
        return [
            sync
            for source in self.sources.values()
            for sync in source.unfinished_syncs(session, stale, max_attempts, limit)
        ][:limit]

    def unavailable_reason(self, session: Session, athlete_id: int) -> str | None:
        """None when any source holds the athlete's activities; else every source's reason."""
        kinds, reasons = self._available(session, athlete_id)
        return None if kinds else "; ".join(reasons) or "no activity source"

    def reserve_reads(self, now: dt.datetime, grace: dt.timedelta) -> None:
        """Every source holds back what it needs of its own budget."""
        for source in self.sources.values():
            source.reserve_reads(now, grace)

    def refresh_window(self, athlete_id: int, priority: Priority) -> Window:
        """Each available source's window, joined with every run once.

        A source that defers (Strava's budget) defers the whole refresh: judging the week on
        the files alone would miss the runs only Strava has.
        """
        with self.sessions() as session:
            kinds, reasons = self._available(session, athlete_id)
        if not kinds:
            raise SourceDisconnected("; ".join(reasons) or "no activity source")
        windows = [self.sources[kind].refresh_window(athlete_id, priority) for kind in kinds]
        if len(windows) == 1:
            return windows[0]
        with transaction(self.sessions) as session:
            match_sources(session, athlete_id)
            counted_out = set(
                session.scalars(
                    select(Activity.strava_id).where(
                        Activity.athlete_id == athlete_id, Activity.matched_id.is_not(None)
                    )
                )
            )
        return Window(
            activities=[
                fields
                for window in windows
                for fields in window.activities
                if fields["activity_id"] not in counted_out
            ],
            gear={key: gear for window in windows for key, gear in window.gear.items()},
            complete_from=min(window.complete_from for window in windows),
        )
